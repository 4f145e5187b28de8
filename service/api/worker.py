"""gunicorn's threaded worker, made safe on its own port against slow clients, answering what
gunicorn rejects itself as FHIR and logging no request text.

Slow clients. gunicorn's sync worker reads a request with a blocking socket: one client
sending a header line every few seconds holds the whole worker, and a body shorter than its
Content-Length holds it until the worker is killed (a 500 after `RAPPORT_TIMEOUT`). This
worker is gunicorn's `gthread` worker whose event loop reads each request itself, without
blocking, until the head and (for a Content-Length body) the whole body have arrived, and
only then gives it to a thread: a slow client costs a buffer, never a thread. A request not
complete within `RAPPORT_READ_TIMEOUT` seconds, or idle for `IDLE_SECONDS` on the way, is
answered 408 (an OperationOutcome) and closed. What the loop does not buffer (chunked
bodies, `Expect: 100-continue`, bodies beyond the worker's buffer budget) is read by the
thread under the same deadline, enforced on every `recv`; the app answers 408 then too.

Refusals. gunicorn refuses some requests before the app sees them (a request line or headers
over the limits, malformed HTTP) and answers those with an HTML page; its log line quotes
the offending request line or header, which may hold a search term or an identifier. This
worker answers them with an OperationOutcome and logs the exception's class only.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import selectors
import socket
import ssl
import time
from datetime import timedelta
from functools import partial
from http import HTTPStatus
from typing import Any, Final

from gunicorn import http, util
from gunicorn.http import errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.gthread import TConn, ThreadWorker

from service.config import load_settings
from service.errors import RequestTimeout
from service.fhir import jsonio
from service.fhir.media import FHIR_JSON
from service.fhir.outcome import IssueType, error, operation_outcome
from service.observability.logs import locate

__all__ = ["IDLE_SECONDS", "RapportWorker"]

#: A request that sends nothing for this long before it is complete is answered 408.
IDLE_SECONDS: Final = 3.0
#: Bodies the event loop may hold at once, in multiples of RAPPORT_MAX_BODY_BYTES; a request
#: beyond it goes to a thread, which reads it under the same deadline.
BUFFER_BODIES: Final = 4
_CONTENT_LENGTH: Final = re.compile(rb"\ncontent-length:[ \t]*([0-9]{1,15})[ \t]*(?:\r|$)", re.M)
_HANDED_OVER: Final = (b"\ntransfer-encoding:", b"\nexpect:")

_LATE: Final = "The request did not arrive in time"

#: gunicorn's own errors as (status, issue code, text), most specific first; the texts
#: never quote the request. Any other failure is the server's: 500.
_ANSWERS: Final[tuple[tuple[type[BaseException], int, IssueType, str], ...]] = (
    # A header the app produced is invalid: the server's fault, not the client's.
    (errors.InvalidResponseHeader, 500, IssueType.EXCEPTION, "The server failed to answer"),
    (errors.InvalidResponseHeaderName, 500, IssueType.EXCEPTION, "The server failed to answer"),
    (errors.LimitRequestLine, 414, IssueType.TOO_LONG, "The request line is too long"),
    (errors.LimitRequestHeaders, 431, IssueType.TOO_LONG, "The request headers are too large"),
    (errors.ForbiddenProxyRequest, 403, IssueType.FORBIDDEN, "Request forbidden"),
    (errors.ExpectationFailed, 417, IssueType.NOT_SUPPORTED, "Only Expect: 100-continue works"),
    (errors.UnsupportedTransferCoding, 501, IssueType.NOT_SUPPORTED, "Unsupported coding"),
    (errors.ConfigurationProblem, 500, IssueType.EXCEPTION, "The server is misconfigured"),
    (RequestTimeout, 408, IssueType.TIMEOUT, _LATE),
    (errors.ParseException, 400, IssueType.STRUCTURE, "The request is not well-formed HTTP"),
    (ssl.SSLError, 403, IssueType.SECURITY, "The TLS handshake failed"),
)


def _answer(exc: BaseException) -> tuple[int, IssueType, str]:
    for cls, status, code, text in _ANSWERS:
        if isinstance(exc, cls):
            return status, code, text
    return 500, IssueType.EXCEPTION, "The server failed to process the request"


def _response(status: int, body: bytes) -> bytes:
    """A complete HTTP/1.1 response carrying FHIR JSON; the connection then closes."""
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {FHIR_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


class _ExceptionsByClass(logging.Filter):
    """Shows an exception passed as a log argument by its class: its text may quote a request.

    gunicorn logs some as `%s` arguments, e.g. a client gone mid-request-line ("No more data
    after: b'GET /fhir/...?name=...'") at debug level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                type(arg).__name__ if isinstance(arg, BaseException) else arg for arg in record.args
            )
        return True


class _Deadline:
    """A socket whose every `recv` waits only until the request's deadline: a thread reading
    a request's rest never waits longer than the client was given."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self.deadline = deadline
        self.expired = False

    def recv(self, size: int) -> bytes:
        """What arrives by the deadline (and within IDLE_SECONDS); RequestTimeout if nothing.

        RequestTimeout is no OSError: gunicorn's parser passes it to `handle_error` (408), and
        in the app it is a RapportError (408 too)."""
        remaining = self.deadline - time.monotonic()
        if remaining > 0:
            self._sock.settimeout(min(remaining, IDLE_SECONDS))
            try:
                return self._sock.recv(size)
            except TimeoutError:
                pass
            finally:
                self._sock.settimeout(None)
        self.expired = True
        raise RequestTimeout(_LATE)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Reading:
    """A request the event loop is receiving: its bytes so far and its deadlines."""

    __slots__ = ("buffer", "deadline", "idle", "need")

    def __init__(self, deadline: float) -> None:
        self.buffer = bytearray()
        self.deadline = deadline
        self.idle = time.monotonic() + IDLE_SECONDS
        self.need: int | None = None  # bytes in all, once the head says


class RapportWorker(ThreadWorker):  # type: ignore[misc] # gunicorn is untyped
    """gunicorn's gthread worker: requests read in its event loop, FHIR error answers and
    request-free error logs."""

    def init_process(self) -> None:
        """Filter the error log, then serve (gunicorn's own loop; returns at shutdown)."""
        self.log.error_log.addFilter(_ExceptionsByClass())
        settings = load_settings()
        self._read_seconds = float(settings.read_timeout)
        self._max_body = settings.max_body_bytes
        self._budget = BUFFER_BODIES * settings.max_body_bytes
        self._buffered = 0
        self._reading: dict[TConn, _Reading] = {}
        self._busy = 0  # requests given to the threads and not yet finished
        cfg = self.cfg
        self._head_limit = (
            int(
                cfg.limit_request_line
                + cfg.limit_request_fields * (cfg.limit_request_field_size + 2)
            )
            + 4
        )
        super().init_process()

    # -- a worker takes connections only while it has a free thread -----------------------
    # Otherwise they wait in the listen backlog the workers share, where another worker may
    # take them, and a worker that dies (killed, out of memory) takes with it only the
    # requests its threads were serving and those it was reading.

    def set_accept_enabled(self, enabled: bool) -> None:
        """gunicorn's, and never while every thread is busy."""
        super().set_accept_enabled(enabled and self._busy < self.cfg.threads)

    def enqueue_req(self, conn: TConn) -> None:
        """gunicorn's, counting the busy threads."""
        self._busy += 1
        if self._busy >= self.cfg.threads and self._accepting:
            self.set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn: TConn, fs: Any) -> None:
        """gunicorn's; a thread is free again (the loop accepts again on its next round)."""
        self._busy -= 1
        super().finish_request(conn, fs)

    # -- the event loop reads each request before a thread takes it ------------------------

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """gunicorn's, but the connections it has go before new ones: a request that has
        arrived may take the last free thread, and then no connection is accepted."""
        try:
            events = self.poller.select(timeout)
        except InterruptedError:
            return
        for key, _ in sorted(events, key=lambda event: event[0].fileobj in self.sockets):
            if key.fileobj in self.sockets and self._busy >= self.cfg.threads:
                continue  # left in the backlog the workers share
            key.data(key.fileobj)

    def accept(self, listener: Any) -> None:
        """Take a new connection and read its first request in the loop."""
        try:
            client, addr = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        conn = TConn(self.cfg, client, addr, listener.getsockname())  # non-blocking
        if self.cfg.is_ssl:  # the TLS handshake happens in the thread: gunicorn's own way
            self.enqueue_req(conn)
            return
        self._read(conn)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection sends its next request: read it in the loop too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if self.cfg.is_ssl:
            self.enqueue_req(conn)
            return
        self._read(conn)

    def _read(self, conn: TConn) -> None:
        self._reading[conn] = _Reading(time.monotonic() + self._read_seconds)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))

    def _readable(self, conn: TConn, _sock: Any) -> None:
        reading = self._reading.get(conn)
        if reading is None:
            return
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client left before its request was complete
            self._stop(conn, reading)
            self.nr_conns -= 1
            conn.close()
            return
        reading.buffer += data
        self._buffered += len(data)
        reading.idle = time.monotonic() + IDLE_SECONDS
        if self._complete(reading) or self._buffered > self._budget:
            self._stop(conn, reading)
            self._hand_over(conn, reading)

    def _complete(self, reading: _Reading) -> bool:
        """Whether the request has all arrived, or is one for gunicorn's parser to decide."""
        buffer = reading.buffer
        if reading.need is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return len(buffer) > self._head_limit  # gunicorn refuses it (414/431)
            head = bytes(buffer[:end]).lower()
            if any(name in head for name in _HANDED_OVER):
                return True  # read by the thread, under the same deadline
            match = _CONTENT_LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            if length > self._max_body:
                return True  # the app answers 413 without reading it
            reading.need = end + 4 + length
        return len(buffer) >= reading.need

    def _stop(self, conn: TConn, reading: _Reading) -> None:
        del self._reading[conn]
        self._buffered -= len(reading.buffer)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _hand_over(self, conn: TConn, reading: _Reading) -> None:
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
            conn.initialized = True  # no TLS, no HTTP/2 here: nothing else to set up
        conn.sock.setblocking(True)
        unreader = conn.parser.unreader
        unreader.unread(bytes(reading.buffer))
        unreader.sock = _Deadline(conn.sock, reading.deadline)
        conn.data_ready = True
        conn.rapport_handed = True
        self.enqueue_req(conn)

    def handle(self, conn: TConn) -> Any:
        """gunicorn's; a pipelined request gets its own deadline (the loop did not read it)."""
        reader = None if conn.parser is None else conn.parser.unreader.sock
        if isinstance(reader, _Deadline) and not getattr(conn, "rapport_handed", False):
            reader.deadline, reader.expired = time.monotonic() + self._read_seconds, False
        conn.rapport_handed = False
        return super().handle(conn)

    def handle_request(self, req: Any, conn: TConn) -> bool:
        """gunicorn's; a connection whose request came late is closed, never drained."""
        keepalive: bool = bool(super().handle_request(req, conn))
        reader = conn.parser.unreader.sock
        return keepalive and not (isinstance(reader, _Deadline) and reader.expired)

    def murder_pending(self) -> None:
        """gunicorn's, and a 408 for every request past its deadline or idle too long."""
        super().murder_pending()
        now = time.monotonic()
        late = [c for c, r in self._reading.items() if now > min(r.deadline, r.idle)]
        for conn in late:
            self._stop(conn, self._reading[conn])
            body = jsonio.dumps(operation_outcome([error(IssueType.TIMEOUT, _LATE)]))
            with contextlib.suppress(OSError):  # non-blocking: what fits, else nothing
                conn.sock.send(_response(408, body))
            self.log.warning("Request timed out from ip=%s", conn.client[0] if conn.client else "")
            self.nr_conns -= 1
            conn.close()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Log the failure without request text and answer with an OperationOutcome."""
        status, code, text = _answer(exc)
        if status >= 500:
            self.log.error("Error handling request: %s", locate(exc))
        else:
            ip = addr[0] if addr else ""  # a unix socket has no address
            self.log.warning("Invalid request from ip=%s: %s", ip, type(exc).__name__)
        body = jsonio.dumps(operation_outcome([error(code, text)]))
        if req is None and isinstance(exc, errors.InvalidHeader):
            req = getattr(exc, "req", None)  # the request read up to the bad header, if any
        if req is not None:
            self._log_access(req, client, addr, status, len(body))
        try:
            util.write_nonblock(client, _response(status, body))
        except OSError:
            self.log.debug("Failed to send error message.")

    def _log_access(self, req: Any, client: Any, addr: Any, status: int, length: int) -> None:
        # The access line gunicorn writes for these too; its format names no path or query.
        environ = default_environ(req, client, self.cfg)
        environ["REMOTE_ADDR"] = addr[0] if addr else ""
        response = Response(req, client, self.cfg)
        response.status = f"{status} {HTTPStatus(status).phrase}"
        response.response_length = length
        self.log.access(response, req, environ, timedelta(0))
