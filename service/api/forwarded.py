"""Who the client is and how it reached us: forwarded headers from trusted proxies only, and a
Host that is a host.

`RAPPORT_TRUSTED_PROXIES` lists the proxies' addresses or networks (`10.0.0.0/8,::1`). When
the peer that connected is one of them, `X-Forwarded-For` is read from its right end, where
each proxy appended the address it saw: the client is the first address, walking left, that
is not itself a trusted proxy. So a client reaching the port directly is never believed, and
one behind the proxies cannot pose as another by sending its own X-Forwarded-For (the
proxies' entries come after it). Only IP addresses are taken: anything else in the header
ends the walk, so the address the rate limiter counts and the logs show is always an
address. `X-Forwarded-Proto` from a trusted peer sets the scheme of links when it is `http`
or `https`, and is ignored otherwise. gunicorn's own handling of these headers is off
(`forwarded_allow_ips` in gunicorn.conf.py): this is the one place that decides.

Without `RAPPORT_BASE_URL`, links (`Location`, `fullUrl`, paging) are built from the Host the
client sent: it must be a host name or an IP address with an optional port (400 otherwise),
so nothing but a host can be reflected. A deployment that others reach through names it
does not control sets RAPPORT_BASE_URL, and then Host is never used.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import Any, Final

from flask import Flask, request

from service.api.http import state
from service.errors import InvalidRequest
from service.fhir.outcome import IssueType

__all__ = ["TrustedProxies", "init_app", "valid_host"]

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST: Final = re.compile(
    rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]{{2,45}}\])(?::[0-9]{{1,5}})?"
)
_SCHEMES: Final = frozenset({"http", "https"})
#: At most this many X-Forwarded-For entries are looked at (a longer chain is a forgery).
MAX_HOPS: Final = 20


@functools.lru_cache(maxsize=64)
def valid_host(host: str) -> bool:
    """Whether `host` (a Host header) is a DNS name or IP literal with an optional port."""
    # Kept: a worker sees few distinct hosts, and the match backtracks through each label
    # (bounded: the Host header is the client's to choose).
    return _HOST.fullmatch(host) is not None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR and the URL scheme from trusted proxies' headers."""

    def __init__(self, app: Any, networks: Iterable[str]) -> None:
        self.app = app
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in networks
        )

    def trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        """Whether `address` is one of the trusted proxies."""
        if address is None:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Rewrite the environ when the peer is trusted; leave it alone otherwise."""
        peer = _address(environ.get("REMOTE_ADDR", ""))
        if self.trusted(peer):
            client = peer
            chain = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")[-MAX_HOPS:]
            for entry in reversed(chain):
                address = _address(entry)
                if address is None:
                    break  # not an address: the client is the last proxy that sent one
                client = address
                if not self.trusted(address):
                    break
            environ["REMOTE_ADDR"] = str(client)
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in _SCHEMES:
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)


def _check_host() -> None:
    # Through `_get_current_object`: an attribute read through the proxy costs an
    # AttributeError made and caught (Python 3.11) on the way to its `__getattr__`.
    if not valid_host(request._get_current_object().host):  # type: ignore[attr-defined]
        raise InvalidRequest(
            "The Host header must be a host name or an IP address, with an optional port",
            issue_type=IssueType.VALUE,
        )


def init_app(app: Flask) -> None:
    """Trust the configured proxies; check Host where links are built from it."""
    settings = state(app).settings
    if settings.trusted_proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
        log.info(
            "client addresses: from X-Forwarded-For, behind the trusted proxies %s",
            ", ".join(settings.trusted_proxies),
        )
    if not settings.base_url:
        app.before_request(_check_host)
