"""A JWKS served over HTTPS from 127.0.0.1, with a self-signed certificate made by `openssl`.

The tests change what it serves (`body`, `cache_control`) between reads, and can hold an
answer back (`gate`) to see what other threads do meanwhile.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["JWKSServer", "self_signed", "serve_jwks"]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for IP 127.0.0.1 and its key, as PEM files in `folder`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not on PATH: apt-get install -y openssl (.ci/run does)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


@dataclass
class JWKSServer:
    """What the server answers, and what it has seen."""

    url: str
    cert: Path
    body: bytes = b'{"keys": []}'
    cache_control: str | None = None
    #: Answers wait until this is set (it is, unless a test clears it).
    gate: threading.Event = field(default_factory=threading.Event)
    #: Set whenever a request arrives.
    arrived: threading.Event = field(default_factory=threading.Event)
    reads: int = 0

    def context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.cert))


@contextmanager
def serve_jwks(cert: Path, key: Path) -> Iterator[JWKSServer]:
    """Serve a JWKS over HTTPS with this certificate (see `self_signed`) until the block ends."""
    served: list[JWKSServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state = served[0]
            state.reads += 1
            state.arrived.set()
            state.gate.wait(timeout=10)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            if state.cache_control is not None:
                self.send_header("Cache-Control", state.cache_control)
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    served.append(JWKSServer(f"https://127.0.0.1:{server.server_port}/jwks.json", cert))
    served[0].gate.set()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served[0]
    finally:
        served[0].gate.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
