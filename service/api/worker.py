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

Large bodies. Once a request's head has arrived, and before its body is read, the loop asks
for its body's room in the worker's `RAPPORT_WORKER_BODY_BYTES` (service/api/admission.py):
a chunked body, or a request handed over before its head arrived, is counted at
`RAPPORT_MAX_BODY_BYTES`. A request that gets no room within `WAIT_SECONDS` (1 s) is answered 503
(`transient`, `Retry-After`) without its body being read; the loop then drops what more of
it arrives for at most `DRAIN_SECONDS`, up to its Content-Length, and closes the connection.

Refusals. gunicorn refuses some requests before the app sees them (a request line or headers
over the limits, malformed HTTP) and answers those with an HTML page; its log line quotes
the offending request line or header, which may hold a search term or an identifier. This
worker answers them with an OperationOutcome and logs the exception's class only.
"""

from __future__ import annotations

import contextlib
import errno
import re
import selectors
import socket
import time
from datetime import timedelta
from functools import partial
from http import HTTPStatus
from typing import Any, Final

from gunicorn import http, util
from gunicorn.http import errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.gthread import TConn

from service.api.admission import Admission
from service.api.balance import BalancedWorker
from service.api.wire import IDLE_SECONDS, LATE, Deadline, ExceptionsByClass, answer, response
from service.config import load_settings
from service.fhir import jsonio
from service.fhir.outcome import IssueType, error, operation_outcome
from service.observability.logs import locate

__all__ = ["IDLE_SECONDS", "RapportWorker"]

#: Bodies the event loop may hold at once, in multiples of RAPPORT_MAX_BODY_BYTES; a request
#: beyond it goes to a thread, which reads it under the same deadline.
BUFFER_BODIES: Final = 4
_CONTENT_LENGTH: Final = re.compile(rb"\ncontent-length:[ \t]*([0-9]{1,15})[ \t]*(?:\r|$)", re.M)
_CHUNKED: Final = b"\ntransfer-encoding:"
_HANDED_OVER: Final = (_CHUNKED, b"\nexpect:")

#: How long a refused request's body is read and dropped after its 503, at most.
DRAIN_SECONDS: Final = 1.0

_BUSY: Final = "The server is busy with other large requests: send it again shortly"


class _Reading:
    """A request the event loop is receiving: its bytes so far and its deadlines."""

    __slots__ = ("admitted", "buffer", "deadline", "idle", "need", "ready", "size")

    def __init__(self, deadline: float, buffer: bytes = b"") -> None:
        self.buffer = bytearray(buffer)
        self.deadline = deadline
        self.idle = time.monotonic() + IDLE_SECONDS
        self.need: int | None = None  # bytes in all, once the head says
        self.size: int | None = None  # the body's bytes to admit, once known
        self.admitted = False
        self.ready = False  # for a thread, once admitted


class RapportWorker(BalancedWorker):
    """gunicorn's gthread worker: requests read in its event loop, kept-alive connections
    balanced over the workers, FHIR error answers and request-free error logs."""

    def init_process(self) -> None:
        """Filter the error log, then serve (gunicorn's own loop; returns at shutdown)."""
        self.log.error_log.addFilter(ExceptionsByClass())
        settings = load_settings()
        self._read_seconds = float(settings.read_timeout)
        self._max_body = settings.max_body_bytes
        self._budget = BUFFER_BODIES * settings.max_body_bytes
        self._buffered = 0
        self._reading: dict[TConn, _Reading] = {}
        self._admission: Admission[TConn] = Admission(settings.worker_body_bytes)
        self._discarding: dict[TConn, float] = {}  # refused, their body dropped until then
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
        """gunicorn's, counting the busy threads; a pipelined request is read in the loop."""
        if conn.parser is not None and not self.cfg.is_ssl and not conn.rapport_handed:
            conn.sock.setblocking(False)
            self._read(conn, conn.parser.unreader.take_buffered())
            return
        self._busy += 1
        if self._busy >= self.cfg.threads and self._accepting:
            self.set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn: TConn, fs: Any) -> None:
        """gunicorn's; a thread is free again (the loop accepts again on its next round),
        and the body it held too."""
        self._busy -= 1
        conn.rapport_handed = False  # a request pipelined behind it goes to the loop
        self._release(conn)
        super().finish_request(conn, fs)

    # -- the event loop reads each request before a thread takes it ------------------------

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """gunicorn's, but the connections it has go before new ones: a request that has
        arrived may take the last free thread, and then no connection is accepted."""
        # Wake up to refuse a request that waited its time, or to close a refused one.
        expiries = [self._admission.next_expiry(), *self._discarding.values()]
        if (expiry := min((e for e in expiries if e is not None), default=None)) is not None:
            timeout = min(timeout, max(expiry - time.monotonic(), 0.0))
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
        conn.rapport_handed = False
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

    def _read(self, conn: TConn, buffered: bytes = b"") -> None:
        reading = _Reading(time.monotonic() + self._read_seconds, buffered)
        self._reading[conn] = reading
        self._buffered += len(buffered)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))
        if buffered:  # a pipelined request: it may have all arrived already
            self._advance(conn, reading)

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
            self._close(conn)
            return
        reading.buffer += data
        self._buffered += len(data)
        reading.idle = time.monotonic() + IDLE_SECONDS
        self._advance(conn, reading)

    def _advance(self, conn: TConn, reading: _Reading) -> None:
        """Admit the body once its size is known, and hand the request over once ready."""
        if self._complete(reading) or self._buffered > self._budget:
            reading.ready = True
            if reading.size is None:  # handed over before its head arrived: at most this
                reading.size = self._max_body
        if reading.size is not None and not reading.admitted:
            if not self._admission.admit(conn, reading.size, time.monotonic()):
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self.poller.unregister(conn.sock)  # read nothing more while it waits
                return
            reading.admitted = True
        if reading.ready:
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
            match = _CONTENT_LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            # A chunked body's size is unknown: it is counted at the most it may be.
            reading.size = self._max_body if _CHUNKED in head else length
            if any(name in head for name in _HANDED_OVER):
                return True  # read by the thread, under the same deadline
            if length > self._max_body:
                reading.size = 0
                return True  # the app answers 413 without reading it
            reading.need = end + 4 + length
        return len(buffer) >= reading.need

    def _stop(self, conn: TConn, reading: _Reading) -> None:
        del self._reading[conn]
        self._buffered -= len(reading.buffer)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _release(self, conn: TConn) -> None:
        """`conn`'s request is over: its body's room goes to those waiting, in turn."""
        self._let_in(self._admission.release(conn))

    def _let_in(self, admitted: list[TConn]) -> None:
        """Requests whose bodies were admitted while they waited: read or hand them over."""
        now = time.monotonic()
        for waiting in admitted:
            reading = self._reading[waiting]
            reading.admitted = True
            reading.idle = now + IDLE_SECONDS
            if reading.ready:
                self._stop(waiting, reading)
                self._hand_over(waiting, reading)
            else:
                self.poller.register(
                    waiting.sock, selectors.EVENT_READ, partial(self._readable, waiting)
                )

    def _close(self, conn: TConn) -> None:
        self._release(conn)
        self._discarding.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def _refuse(self, conn: TConn) -> None:
        """503 for a request whose body got no room, then the end of the connection: what
        more of its body arrives within `DRAIN_SECONDS` (and the request's deadline) is read
        and dropped, so that a client still sending sees the answer rather than a reset, and
        then it is closed however the client sends."""
        reading = self._reading[conn]
        self._stop(conn, reading)
        body = jsonio.dumps(operation_outcome([error(IssueType.TRANSIENT, _BUSY)]))
        with contextlib.suppress(OSError):  # non-blocking: what fits, else nothing
            conn.sock.send(response(503, body, "Retry-After: 1\r\n"))
            conn.sock.shutdown(socket.SHUT_WR)  # the answer is whole: the client reads its end
        self.log.warning("Body not admitted from ip=%s", conn.client[0] if conn.client else "")
        left = self._max_body if reading.need is None else reading.need - len(reading.buffer)
        if left <= 0:
            self._close(conn)
            return
        self._discarding[conn] = min(reading.deadline, time.monotonic() + DRAIN_SECONDS)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._discard, conn, left))

    def _discard(self, conn: TConn, left: int, _sock: Any) -> None:
        try:
            data = conn.sock.recv(min(left, 65536))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        left -= len(data)
        if not data or left <= 0:
            self._close(conn)
            return
        self.poller.modify(conn.sock, selectors.EVENT_READ, partial(self._discard, conn, left))

    def _hand_over(self, conn: TConn, reading: _Reading) -> None:
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
            conn.initialized = True  # no TLS, no HTTP/2 here: nothing else to set up
        conn.sock.setblocking(True)
        unreader = conn.parser.unreader
        unreader.unread(bytes(reading.buffer))
        unreader.sock = Deadline(conn.sock, reading.deadline)
        conn.data_ready = True
        conn.rapport_handed = True
        self.enqueue_req(conn)

    def handle_request(self, req: Any, conn: TConn) -> bool:
        """gunicorn's; a connection whose request came late is closed, never drained."""
        keepalive: bool = bool(super().handle_request(req, conn))
        reader = conn.parser.unreader.sock
        return keepalive and not (isinstance(reader, Deadline) and reader.expired)

    def murder_pending(self) -> None:
        """gunicorn's, a 503 for every request whose body waited its time for room, and a
        408 for every request past its deadline or idle too long."""
        super().murder_pending()
        now = time.monotonic()
        refused, admitted = self._admission.expired(now)
        for conn in refused:
            self._refuse(conn)
        self._let_in(admitted)  # those that waited behind them and fit
        for conn in [c for c, until in self._discarding.items() if now > until]:
            self._close(conn)
        late = [
            c
            for c, r in self._reading.items()
            if now > min(r.deadline, r.idle) and not self._admission.waiting(c)
        ]
        for conn in late:
            self._stop(conn, self._reading[conn])
            body = jsonio.dumps(operation_outcome([error(IssueType.TIMEOUT, LATE)]))
            with contextlib.suppress(OSError):  # non-blocking: what fits, else nothing
                conn.sock.send(response(408, body))
            self.log.warning("Request timed out from ip=%s", conn.client[0] if conn.client else "")
            self._close(conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Log the failure without request text and answer with an OperationOutcome."""
        status, code, text = answer(exc)
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
            util.write_nonblock(client, response(status, body))
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
