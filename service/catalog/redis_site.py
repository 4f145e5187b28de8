"""The site catalogue in Redis: versioned Questionnaires, written by one atomic Lua script.

Keys (all under `rapport:`; the URL's database number separates deployments):

    rapport:catalog:counter             INCR on every write: workers poll it to know to reload
    rapport:catalog:epoch               random, set once: a Redis that lost its data is noticed
    rapport:questionnaire:versions      hash id → current versionId
    rapport:questionnaire:current       hash id → current record (JSON)
    rapport:questionnaire:history:ID    list of records, versionId n at index n-1
    rapport:questionnaire:deleted       hash id → versionId of its deletion, while that is latest
    rapport:questionnaire:canonicals    hash url|version → the id that holds it
    rapport:questionnaire:canonical     hash id → the url|version it holds
    rapport:write:TOKEN                 a write's answer for a while, so a retry gets it again

and one pub/sub channel, `rapport:catalog:changed`: each write publishes its id (and a
token) there after it is stored, so every worker's subscriber thread reloads at once (the
poller of the counter stays, for a missed message or a Redis whose ACL forbids pub/sub).

Each record is `{"versionId", "lastUpdated", "method", "resource"?}`; the resource is kept
without its server meta, which readers put back. Durability is Redis's own (AOF).
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from service.errors import ServiceUnavailable
from service.fhir import jsonio
from service.fhir.bundle import instant

from .site import Outcome, SiteRecord, SiteSnapshot, SiteStore, WriteResult

__all__ = ["RETRY", "TIMEOUT", "WRITE_TIMEOUT", "RedisSiteStore", "redacted"]

log = logging.getLogger(__name__)

#: Seconds to connect and to wait for a read's reply: a dead Redis must never stall a request.
TIMEOUT = 0.25
#: Seconds to wait for a write's reply. A reply that comes later does not undo the write, so
#: a timeout leaves its outcome unknown: long enough that a busy Redis still answers.
WRITE_TIMEOUT = 2.0
RETRY_AFTER = 5
#: One immediate retry, for a pooled connection a restarted Redis closed; no backoff sleeps.
RETRY = Retry(NoBackoff(), 1)
#: Writes retry a closed connection only, never a timeout (the script may be running). Even
#: a write Redis ran before the connection dropped is safe to send again: see `TOKEN_SECONDS`.
WRITE_RETRY = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
#: How long Redis keeps a write's answer under its token: a second run of the same write
#: (a retry whose first attempt's reply was lost) answers that instead of writing again.
TOKEN_SECONDS = 300
PREFIX = "rapport:"
COUNTER = PREFIX + "catalog:counter"
EPOCH = PREFIX + "catalog:epoch"
VERSIONS = PREFIX + "questionnaire:versions"
CURRENT = PREFIX + "questionnaire:current"
HISTORY = PREFIX + "questionnaire:history:"
DELETED = PREFIX + "questionnaire:deleted"
CANONICALS = PREFIX + "questionnaire:canonicals"
CANONICAL = PREFIX + "questionnaire:canonical"
WRITES = PREFIX + "write:"
CHANNEL = PREFIX + "catalog:changed"
#: Seconds a subscriber waits for a message before it checks that its catalogue is alive.
POLL_TIMEOUT = 1.0
#: Seconds a write waits at most for its own notification to come back (see `_publish`).
ECHO_SECONDS = 0.25
#: Seconds a subscriber waits before subscribing again after Redis failed it.
RESUBSCRIBE_SECONDS = 1.0

UNREACHABLE = "The site catalogue (Redis) is unreachable; retry later"

# Check-and-set in one step: no other write can come between reading the current version
# and storing the next, so concurrent writers with the same If-Match get one success, and
# of concurrent writers of one url|version (canonical) one gets it.
_WRITE = """
local id, if_match, base, updated, method = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local canonical, create_only = ARGV[8], ARGV[10]
local answered = redis.call('GET', KEYS[9])
if answered then return cjson.decode(answered) end
local site = redis.call('HGET', KEYS[1], id)
local current = site or (base ~= '' and base) or nil
if create_only == '1' and current then return {'exists', current} end
if if_match ~= '' and not ((if_match == '*' and current) or if_match == current) then
  return {'stale', current or ''}
end
if method == 'DELETE' and not site then
  if current then return {'shipped', current} end
  return {'missing', ''}
end
local holder = canonical ~= '' and redis.call('HGET', KEYS[7], canonical)
if holder and holder ~= id then return {'duplicate', holder} end
local held = redis.call('HGET', KEYS[8], id)
if held and held ~= canonical and redis.call('HGET', KEYS[7], held) == id then
  redis.call('HDEL', KEYS[7], held)
end
local vid = tostring(redis.call('LLEN', KEYS[3]) + 1)
local record = '{"versionId":"' .. vid .. '","lastUpdated":"' .. updated
  .. '","method":"' .. method .. '"'
local outcome = 'deleted'
if method == 'DELETE' then
  record = record .. '}'
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[8], id)
  redis.call('HSET', KEYS[6], id, vid)
else
  record = record .. ',"resource":' .. ARGV[6] .. '}'
  redis.call('HSET', KEYS[1], id, vid)
  redis.call('HSET', KEYS[2], id, record)
  redis.call('HDEL', KEYS[6], id)
  if canonical ~= '' then
    redis.call('HSET', KEYS[7], canonical, id)
    redis.call('HSET', KEYS[8], id, canonical)
  else
    redis.call('HDEL', KEYS[8], id)
  end
  outcome = current and 'updated' or 'created'
end
redis.call('RPUSH', KEYS[3], record)
redis.call('SETNX', KEYS[5], ARGV[7])
redis.call('INCR', KEYS[4])
local result = {outcome, vid}
redis.call('SET', KEYS[9], cjson.encode(result), 'EX', ARGV[9])
return result
"""


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}{sep}{user + ':' if user else ''}***@{host}"


class RedisSiteStore(SiteStore):
    """The shared site catalogue; its clients are made in each process on first use."""

    mode = "redis"
    writable = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: tuple[redis.Redis, redis.Redis, Script] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._subscribed: socket.socket | None = None  # the listener's connection
        self._echoes: dict[str, threading.Event] = {}  # this process's writes, by token

    def _connected(self) -> tuple[redis.Redis, redis.Redis, Script]:
        """The reader, the writer (longer timeout, no retry of a timeout) and the script."""
        # gunicorn preloads the app in the master: never reuse its connections in a worker.
        if self._clients is None or self._pid != os.getpid():
            with self._lock:
                if self._clients is None or self._pid != os.getpid():
                    reader = self._client(TIMEOUT, RETRY)
                    writer = self._client(WRITE_TIMEOUT, WRITE_RETRY)
                    self._clients = reader, writer, writer.register_script(_WRITE)
                    self._pid = os.getpid()
        return self._clients

    def _client(self, timeout: float, retry: Retry) -> redis.Redis:
        return redis.Redis.from_url(
            self.url,
            socket_connect_timeout=TIMEOUT,
            socket_timeout=timeout,
            retry=retry,
            decode_responses=True,
        )

    def _call(self, what: str, action: Callable[[redis.Redis], Any]) -> Any:
        try:
            return action(self._connected()[0])
        except redis.RedisError as exc:
            log.debug("site catalogue: Redis %s failed: %s", what, type(exc).__name__)
            raise ServiceUnavailable(UNREACHABLE, retry_after=RETRY_AFTER) from None

    def snapshot(self) -> SiteSnapshot:
        """The change token (epoch and counter), each current id's version and the deleted
        ids, read together."""

        def read(client: redis.Redis) -> Any:
            with client.pipeline(transaction=True) as pipe:
                pipe.mget(EPOCH, COUNTER)
                pipe.hgetall(VERSIONS)
                pipe.hgetall(DELETED)
                return pipe.execute()

        (epoch, counter), versions, deleted = self._call("read", read)
        return SiteSnapshot(f"{epoch}:{counter}", versions, deleted)

    def token(self) -> str:
        """Only the change token: the cheap per-poll read."""
        epoch, counter = self._call("poll", lambda client: client.mget(EPOCH, COUNTER))
        return f"{epoch}:{counter}"

    def records(self, ids: list[str]) -> list[SiteRecord]:
        """The current records of these ids."""
        if not ids:
            return []
        found = self._call("read", lambda client: client.hmget(CURRENT, ids))
        return [_record(rid, raw) for rid, raw in zip(ids, found, strict=True) if raw]

    def write(
        self,
        id: str,
        resource: dict[str, Any] | None,
        *,
        if_match: str,
        base_version: str,
        canonical: str,
        create_only: bool = False,
        token: str = "",
    ) -> WriteResult:
        """Run the check-and-set script once; `token` (random unless given) names this write,
        so a second run with it answers what the first did and writes nothing."""
        body = jsonio.dumps(resource).decode("utf-8") if resource is not None else ""
        updated = instant()
        method = "DELETE" if resource is None else "PUT"
        keys = [VERSIONS, CURRENT, HISTORY + id, COUNTER, EPOCH, DELETED, CANONICALS, CANONICAL]
        keys.append(WRITES + (token or uuid.uuid4().hex))
        args = [id, if_match, base_version, updated, method, body, uuid.uuid4().hex, canonical]
        args += [str(TOKEN_SECONDS), "1" if create_only else "0"]
        _, writer, script = self._connected()
        try:
            outcome, value = script(keys=keys, args=args, client=writer)
        except redis.ResponseError as exc:  # Redis refused to run it (read-only replica, OOM)
            log.warning("site catalogue: Redis refused a write: %s", exc)
            raise ServiceUnavailable(UNREACHABLE, retry_after=RETRY_AFTER) from None
        except redis.RedisError as exc:
            # Sent, perhaps run, but not answered: retrying blindly could store it twice.
            log.warning("site catalogue: Redis did not confirm a write: %s", type(exc).__name__)
            raise ServiceUnavailable(
                "The site catalogue (Redis) did not confirm this write, which may or may not "
                f"be stored: read Questionnaire/{id} (or its _history) before writing again",
                retry_after=RETRY_AFTER,
            ) from None
        if outcome == Outcome.DUPLICATE.value:
            return WriteResult(Outcome.DUPLICATE, "", updated, holder=value)
        if outcome in {Outcome.CREATED.value, Outcome.UPDATED.value, Outcome.DELETED.value}:
            self._publish(writer, id)
        return WriteResult(Outcome(outcome), value, updated)

    def _publish(self, writer: redis.Redis, id: str) -> None:
        # After the script, not inside it: a Redis whose ACL refuses PUBLISH must not fail a
        # write that is already stored. The pollers see it within POLL_SECONDS regardless.
        # The write is answered once this worker's own listener has the message (at most
        # ECHO_SECONDS): Redis has then sent it to every subscriber, so a client that reads
        # from another worker after this answer finds it there (`unread`).
        echo = threading.Event() if self._subscribed is not None else None
        token = uuid.uuid4().hex
        if echo is not None:
            self._echoes[token] = echo
        try:
            writer.publish(CHANNEL, f"{id} {token}")
            if echo is not None:
                echo.wait(ECHO_SECONDS)
        except redis.RedisError as exc:
            log.debug("site catalogue: Redis publish failed: %s", type(exc).__name__)
        finally:
            self._echoes.pop(token, None)

    def listen(self, changed: Callable[[], None], alive: Callable[[], bool]) -> None:
        """Call `changed` for every write published (and on each (re)subscription, for what
        was missed meanwhile) until `alive()` is False; a failure resubscribes after a pause.
        Runs in its own thread: requests never wait on it."""
        warned = False
        while alive():
            client = redis.Redis.from_url(
                self.url, socket_connect_timeout=TIMEOUT, socket_timeout=WRITE_TIMEOUT
            )
            try:
                with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    pubsub.subscribe(CHANNEL)
                    changed()
                    warned = False
                    sock = getattr(pubsub.connection, "_sock", None)
                    if not isinstance(sock, socket.socket):
                        raise redis.ConnectionError("no socket to listen on")
                    self._subscribed = sock
                    while alive():
                        if select.select([sock], [], [], POLL_TIMEOUT)[0]:
                            # Counted before the bytes are read: a request that finds the
                            # socket drained finds the change counted (see `unread`).
                            changed()
                            while (message := pubsub.get_message(timeout=0)) is not None:
                                self._echoed(message)
            except redis.RedisError as exc:
                if not warned:
                    log.warning(
                        "site catalogue: no change notifications (%s); polling only",
                        type(exc).__name__,
                    )
                warned = True
                time.sleep(RESUBSCRIBE_SECONDS)
            finally:
                self._subscribed = None
                client.close()

    def _echoed(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        echo = self._echoes.get(text.rpartition(" ")[2])
        if echo is not None:
            echo.set()

    def unread(self) -> bool:
        """Whether a notification has reached this process but not yet the listener: a
        zero-timeout look at the local socket buffer, never a request to Redis. A request
        that arrives just after another worker's write may get there before the listener
        thread does (it waits for the interpreter lock): this lets it wait for the change."""
        sock = self._subscribed
        if sock is None or self._pid != os.getpid():
            return False
        try:
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):  # closed meanwhile
            return False

    def history(self, id: str) -> list[SiteRecord]:
        """Every version, oldest first."""
        found = self._call("read", lambda client: client.lrange(HISTORY + id, 0, -1))
        return [_record(id, raw) for raw in found]

    def problem(self) -> str | None:
        """None when Redis answers PING, else why not."""
        try:
            self._connected()[0].ping()
        except redis.RedisError as exc:
            return f"the site catalogue's Redis is unreachable ({type(exc).__name__})"
        return None


def _record(id: str, raw: str) -> SiteRecord:
    data = jsonio.loads(raw.encode("utf-8"))
    return SiteRecord(
        id, data["versionId"], data["lastUpdated"], data["method"], data.get("resource")
    )
