"""The site catalogue in Redis: versioned Questionnaires, written by one atomic Lua script.

Keys (all under `rapport:`; the URL's database number separates deployments):

    rapport:catalog:counter          INCR on every write: workers poll it to know to reload
    rapport:catalog:epoch            random, set once: a Redis that lost its data is noticed
    rapport:questionnaire:versions   hash id → current versionId
    rapport:questionnaire:current    hash id → current record (JSON)
    rapport:questionnaire:history:ID list of records, versionId n at index n-1
    rapport:catalog:changed          channel: "id versionId" after each write

Each record is `{"versionId", "lastUpdated", "method", "resource"?}`; the resource is kept
without its server meta, which readers put back. Durability is Redis's own (AOF).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.errors import ServiceUnavailable
from service.fhir import jsonio
from service.fhir.bundle import instant

from .site import Outcome, SiteRecord, SiteSnapshot, WriteResult

__all__ = ["RETRY", "TIMEOUT", "RedisSiteStore", "redacted"]

log = logging.getLogger(__name__)

#: Seconds to connect and to wait for one reply: a dead Redis must never stall a request.
TIMEOUT = 0.25
RETRY_AFTER = 5
#: One immediate retry, for a pooled connection a restarted Redis closed; no backoff sleeps.
RETRY = Retry(NoBackoff(), 1)
PREFIX = "rapport:"
COUNTER = PREFIX + "catalog:counter"
EPOCH = PREFIX + "catalog:epoch"
CHANNEL = PREFIX + "catalog:changed"
VERSIONS = PREFIX + "questionnaire:versions"
CURRENT = PREFIX + "questionnaire:current"
HISTORY = PREFIX + "questionnaire:history:"

# Check-and-set in one step: no other write can come between reading the current version
# and storing the next, so concurrent writers with the same If-Match get one success.
_WRITE = """
local id, if_match, base, updated, method = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local site = redis.call('HGET', KEYS[1], id)
local current = site or (base ~= '' and base) or nil
if if_match ~= '' and not ((if_match == '*' and current) or if_match == current) then
  return {'stale', current or ''}
end
if method == 'DELETE' and not site then
  if current then return {'shipped', current} end
  return {'missing', ''}
end
local vid = tostring(redis.call('LLEN', KEYS[3]) + 1)
local record = '{"versionId":"' .. vid .. '","lastUpdated":"' .. updated
  .. '","method":"' .. method .. '"'
local outcome = 'deleted'
if method == 'DELETE' then
  record = record .. '}'
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
else
  record = record .. ',"resource":' .. ARGV[6] .. '}'
  redis.call('HSET', KEYS[1], id, vid)
  redis.call('HSET', KEYS[2], id, record)
  outcome = current and 'updated' or 'created'
end
redis.call('RPUSH', KEYS[3], record)
redis.call('SETNX', KEYS[5], ARGV[7])
redis.call('INCR', KEYS[4])
redis.call('PUBLISH', ARGV[8], id .. ' ' .. vid)
return {outcome, vid}
"""


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}{sep}{user + ':' if user else ''}***@{host}"


class RedisSiteStore:
    """The shared site catalogue; one client per process, made on first use after a fork."""

    mode = "redis"
    writable = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: redis.Redis | None = None
        self._script: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    def _redis(self) -> redis.Redis:
        # gunicorn preloads the app in the master: never reuse its connections in a worker.
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                self._client = redis.Redis.from_url(
                    self.url,
                    socket_connect_timeout=TIMEOUT,
                    socket_timeout=TIMEOUT,
                    retry=RETRY,
                    decode_responses=True,
                )
                self._script = self._client.register_script(_WRITE)
                self._pid = os.getpid()
        return self._client

    def _call(self, what: str, action: Any) -> Any:
        try:
            return action(self._redis())
        except redis.RedisError as exc:
            log.debug("site catalogue: Redis %s failed: %s", what, type(exc).__name__)
            raise ServiceUnavailable(
                "The site catalogue (Redis) is unreachable; retry later",
                retry_after=RETRY_AFTER,
            ) from None

    def snapshot(self) -> SiteSnapshot:
        """The change token (epoch and counter) and each current id's version, read together."""

        def read(client: redis.Redis) -> Any:
            with client.pipeline(transaction=True) as pipe:
                pipe.mget(EPOCH, COUNTER)
                pipe.hgetall(VERSIONS)
                return pipe.execute()

        (epoch, counter), versions = self._call("read", read)
        return SiteSnapshot(f"{epoch}:{counter}", versions)

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
        self, id: str, resource: dict[str, Any] | None, *, if_match: str, base_version: str
    ) -> WriteResult:
        """Run the check-and-set script."""
        body = jsonio.dumps(resource).decode("utf-8") if resource is not None else ""
        updated = instant()
        method = "DELETE" if resource is None else "PUT"
        args = [id, if_match, base_version, updated, method, body]
        args += [uuid.uuid4().hex, CHANNEL]
        keys = [VERSIONS, CURRENT, HISTORY + id, COUNTER, EPOCH]
        outcome, version_id = self._call(
            "write", lambda client: self._script(keys=keys, args=args, client=client)
        )
        return WriteResult(Outcome(outcome), version_id, updated)

    def history(self, id: str) -> list[SiteRecord]:
        """Every version, oldest first."""
        found = self._call("read", lambda client: client.lrange(HISTORY + id, 0, -1))
        return [_record(id, raw) for raw in found]

    def problem(self) -> str | None:
        """None when Redis answers PING, else why not."""
        try:
            self._redis().ping()
        except redis.RedisError as exc:
            return f"the site catalogue's Redis is unreachable ({type(exc).__name__})"
        return None


def _record(id: str, raw: str) -> SiteRecord:
    data = jsonio.loads(raw.encode("utf-8"))
    return SiteRecord(
        id, data["versionId"], data["lastUpdated"], data["method"], data.get("resource")
    )
