"""One GET of a key document, the whole exchange bounded by a single deadline.

A socket timeout bounds each read, not the answer: an endpoint that trickles one byte a second
would hold a caller for as long as it likes. Here the request runs in a worker thread and the
caller waits at most `deadline` seconds for the complete body; at the deadline the socket is
shut down, which ends the worker's read at once. Only a 200 is an answer (redirects are not
followed), the body is size-bounded, and every failure is a `FetchError`.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import socket
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit


class FetchError(Exception):
    """No usable answer: unreachable, late, not a 200, too large, or not what was asked for."""


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """https://, or plain http:// to a loopback address (local runs and tests)."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:  # an unbalanced [ in the host
        parts = None
    if parts is not None and parts.scheme == "https" and parts.hostname:
        return url
    if parts is not None and parts.scheme == "http" and _is_loopback(parts.hostname):
        return url
    raise ValueError("key URL: must be https:// (or http:// to a loopback address)")


def fetch(url: str, *, deadline: float, max_bytes: int, accept: str = "application/json") -> bytes:
    """The body of a 200 answer to GET `url`, received completely within `deadline` seconds."""
    parts = urlsplit(check_url(url))
    host = parts.hostname
    if host is None:  # check_url lets no URL without a host through
        raise FetchError("no host")
    try:
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, parts.port, timeout=deadline, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=deadline)
    except ValueError as error:  # a malformed port
        raise FetchError(type(error).__name__) from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            connection.request("GET", target, headers={"Accept": accept, "Connection": "close"})
            response = connection.getresponse()
            if response.status != 200:
                raise FetchError(f"answered {response.status}")
            body = response.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise FetchError("answer too large")
            outcome["body"] = body
        except FetchError as error:
            outcome["error"] = error
        except Exception as error:  # noqa: BLE001 (resets, TLS failures, malformed answers: all a failed fetch)
            outcome["error"] = FetchError(type(error).__name__)
        finally:
            done.set()
            connection.close()

    threading.Thread(target=run, name="key-fetch", daemon=True).start()
    if not done.wait(deadline):
        _abort(connection)
        raise FetchError(f"no complete answer within {deadline} s")
    if "error" in outcome:
        raise outcome["error"]
    body: bytes = outcome["body"]
    return body


def _abort(connection: http.client.HTTPConnection) -> None:
    """Ends a fetch that missed its deadline: a shut-down socket makes the blocked read return."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the worker
            sock.shutdown(socket.SHUT_RDWR)


def fetch_json(url: str, deadline: float, *, max_bytes: int = 64 * 1024) -> Any:
    """The JSON document at `url`, or FetchError (also for an answer that is not JSON)."""
    body = fetch(url, deadline=deadline, max_bytes=max_bytes, accept="application/json")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise FetchError("answer is not JSON") from None
