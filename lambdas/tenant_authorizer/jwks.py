"""The user pool's signing keys, fetched from its JWKS URL and cached across invocations.

- Keys are kept for `max_age` seconds, then fetched again on the next use.
- A `kid` that is not in the cache triggers at most one refetch per `refetch_interval` (a
  token with a made-up `kid` cannot make every request fetch the JWKS).
- Each fetch is bounded: a short timeout, a size limit, https only (plain http only to a
  loopback address, for local runs).
- Only RSA signing keys for RS256 are kept; a failed refetch keeps the keys already known.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import jwt

FETCH_TIMEOUT_SECONDS = 1.5
MAX_JWKS_BYTES = 64 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

logger = logging.getLogger(__name__)


class JwksError(Exception):
    """No usable key for a token (unknown kid, JWKS unreachable or malformed)."""


def check_jwks_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url
    raise ValueError("JWKS URL: must be https:// (or http:// to a loopback address)")


def fetch_jwks(url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The JWKS document at `url` (bounded in time and size)."""
    request = urllib.request.Request(check_jwks_url(url), headers={"Accept": "application/json"})  # noqa: S310 (scheme checked above)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise JwksError("JWKS document too large")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise JwksError("JWKS document is not an object")
    return document


def signing_keys(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """The RS256 signing keys of a JWKS document, by kid; anything else is skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise JwksError("JWKS document has no key list")
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") != "RS256":
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256")
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
    return keys


class JwksCache:
    """Signing keys by kid, refreshed on age and (rate-limited) on an unknown kid."""

    def __init__(
        self,
        url: str,
        *,
        max_age: float = 3600.0,
        refetch_interval: float = 10.0,
        timeout: float = FETCH_TIMEOUT_SECONDS,
        fetch: Callable[[str, float], dict[str, Any]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = check_jwks_url(url)
        self.max_age = max_age
        self.refetch_interval = refetch_interval
        self.timeout = timeout
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.max_age
            if (stale or kid not in self._keys) and self._may_fetch(now):
                self._refresh(now)
            try:
                return self._keys[kid]
            except KeyError:
                raise JwksError("no signing key with this kid") from None

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self.refetch_interval

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            keys = signing_keys(self._fetch(self.url, self.timeout))
        except Exception as error:  # noqa: BLE001 (any fetch or parse failure: keep the keys already known)
            logger.warning("JWKS fetch failed: %s", type(error).__name__)
            return
        self._keys = keys
        self._fetched_at = now
