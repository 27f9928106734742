"""The small HTTP server under the local issuer and gateway: standard library only, one thread per connection.

Python's servers listen with a backlog of 5: a burst of simultaneous clients overflows it, and
the kernel drops or resets the surplus connections (clients see resets and one-second SYN
retries). These listen with a backlog of at least DEFAULT_BACKLOG, more when the API's stage
allows a larger burst (local/stack.py), and start a thread for every accepted connection (no
pool limit to queue behind).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

# API Gateway's limit for the request line plus headers; bodies have their own limits.
MAX_HEADER_BYTES = 10_240
# Above every environment's API throttle_burst in cdk.json (tests/test_local_concurrency.py);
# Linux caps a listen backlog at net.core.somaxconn (4096 by default since kernel 5.4).
DEFAULT_BACKLOG = 1024


class RequestTooLarge(Exception):
    pass


class LocalServer(ThreadingHTTPServer):
    """A loopback server that runs in a background thread and stops cleanly."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, host: str, port: int, handler: type[BaseHTTPRequestHandler], *, backlog: int = DEFAULT_BACKLOG
    ) -> None:
        # socketserver passes request_queue_size to listen() while binding, inside __init__.
        self.request_queue_size = max(backlog, DEFAULT_BACKLOG)
        super().__init__((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, name: str) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """Shared request plumbing: bounded bodies, JSON answers, quiet logs."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without TCP_NODELAY a keep-alive client waits
    # for a delayed ACK on every response.
    disable_nagle_algorithm = True
    server_version = "local"
    sys_version = ""
    max_body_bytes = 1_048_576

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def header_bytes(self) -> int:
        return len(self.requestline) + 2 + sum(len(k) + len(v) + 4 for k, v in self.headers.items())

    def read_body(self, limit: int | None = None) -> bytes:
        limit = self.max_body_bytes if limit is None else limit
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise RequestTooLarge("bad content length")
        if length > limit:
            self.close_connection = True
            raise RequestTooLarge(f"{length} bytes")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return bytes(body)
            if len(body) + size > limit:
                self.close_connection = True
                raise RequestTooLarge(f"more than {limit} bytes")
            body += self.rfile.read(size)
            self.rfile.readline()

    def send(self, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for name, value in headers or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send(status, body, [("Content-Type", "application/json"), *(headers or [])])
