"""Bytes on a socket: requests no HTTP client would send (malformed, oversized, chunked by hand)."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["RawAnswer", "chunked", "send_raw"]


@dataclass(frozen=True)
class RawAnswer:
    """A response as read off the socket until the server closed it."""

    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


def send_raw(host: str, port: int, data: bytes, *, close_early: bool = False) -> RawAnswer | None:
    """Send `data` as is and read until the server closes; `close_early` hangs up instead."""
    with socket.create_connection((host, port), timeout=10.0) as sock:
        sock.sendall(data)
        if close_early:
            return None
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(int(status_line.split()[1]), headers, body)


def chunked(body: bytes, size: int = 1000) -> Iterable[bytes]:
    """`body` in HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), ending with the last chunk."""
    for start in range(0, len(body), size):
        part = body[start : start + size]
        yield b"%x\r\n%s\r\n" % (len(part), part)
    yield b"0\r\n\r\n"
