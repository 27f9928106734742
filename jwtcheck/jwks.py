"""The Cognito user pool's signing keys: one JWKS cache for every verifier of its tokens.

Built on PyJWT's `PyJWKClient` (it parses the key set and keeps the signing keys), with its own
caches off and these rules around it (in the spirit of awslabs/aws-jwt-verify):

- One fetch at a time, bounded by one total deadline (jwtcheck/fetch.py); concurrent callers wait
  for it and share its result.
- Keys are fresh for `max_age` seconds; the next use after that refetches, and a key the new set
  no longer holds stops being trusted at once. So a key removed from the JWKS is trusted for at
  most `max_age` (+ one fetch deadline) while the endpoint answers. While it does not, the last
  good set is used for up to `max_stale` seconds after it was fetched, then nothing is trusted.
- A `kid` the fresh set lacks triggers a refetch at most once per `penalty` seconds, whatever
  the kid (aws-jwt-verify's penalty box): a flood of made-up kids costs one fetch per window,
  and a key that was just rotated in is fetched at its first use.
- A failed fetch (unreachable, late, not a 200, too large, not JSON, not a key set) blocks every
  fetch for a back-off that doubles with each consecutive failure, from `backoff` up to
  `max_backoff` seconds; callers meanwhile get a refusal at once.
- Only RSA signing keys of at least 2048 bits are kept, whose `use` is `sig` and whose `alg`, when
  present, is one of the verifier's algorithms; a key is used only for a token whose `alg` fits
  the key's. A kid listed twice is dropped.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from jwtcheck.fetch import FetchError, check_url, fetch_json

FETCH_DEADLINE_SECONDS = 1.5  # API Gateway's own JWKS fetch timeout
MAX_AGE_SECONDS = 300.0
MAX_STALE_SECONDS = 3600.0
PENALTY_SECONDS = 10.0  # aws-jwt-verify's penalty box
BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 60.0
MIN_RSA_BITS = 2048
MAX_KID_LENGTH = 128
MAX_KEYS = 32
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth")  # RFC 7518 section 6.3.2

logger = logging.getLogger(__name__)

Fetch = Callable[[str, float], Any]  # (url, seconds left) -> parsed JSON, or an exception


class KeyUnavailable(Exception):
    """No key this token may be checked with. The message is for logs only."""


@dataclass(frozen=True)
class _Key:
    jwk: jwt.PyJWK
    algorithm: str | None  # the JWK's own `alg`, when it states one


def _base64url(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return False
    return True


class _KeySetClient(jwt.PyJWKClient):
    """PyJWKClient with its caches off, fetching through `fetch` (deadline, size and JSON checks)."""

    def __init__(self, url: str, fetch: Callable[[str], Any], algorithms: Collection[str]) -> None:
        super().__init__(url, cache_keys=False, cache_jwk_set=False)
        self._fetch = fetch
        self._algorithms = frozenset(algorithms)
        self.algorithms_by_kid: dict[str, str | None] = {}

    def fetch_data(self) -> Any:
        document = self._fetch(self.uri)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise FetchError("answer is not a key set")
        return {"keys": self._acceptable(document["keys"][:MAX_KEYS])}

    def _acceptable(self, entries: list[Any]) -> list[dict[str, Any]]:
        """The entries that may be RSA signing keys for our algorithms (sizes are checked once parsed)."""
        kids = [entry.get("kid") for entry in entries if isinstance(entry, dict)]
        kept: list[dict[str, Any]] = []
        self.algorithms_by_kid = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA":
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH or kids.count(kid) != 1:
                continue
            if entry.get("use", "sig") != "sig" or not _base64url(entry.get("n")) or not _base64url(entry.get("e")):
                continue
            if any(member in entry for member in PRIVATE_MEMBERS):
                continue  # a key set with private key material is not a public key set
            algorithm = entry.get("alg")
            if algorithm is not None and algorithm not in self._algorithms:
                continue
            kept.append(entry)
            self.algorithms_by_kid[kid] = algorithm
        if not kept:
            raise FetchError("no usable signing key in the key set")
        return kept


class JwksCache:
    """Signing keys by kid from one JWKS URL (or the `jwks_uri` of an OpenID discovery document)."""

    def __init__(
        self,
        url: str,
        *,
        discovery: bool = False,
        algorithms: Collection[str] = ("RS256",),
        deadline: float = FETCH_DEADLINE_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        max_stale: float = MAX_STALE_SECONDS,
        penalty: float = PENALTY_SECONDS,
        backoff: float = BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        fetch: Fetch = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = check_url(url)
        self.discovery = discovery
        self.algorithms = frozenset(algorithms)
        if not self.algorithms or not all(name.startswith("RS") for name in self.algorithms):
            raise ValueError("algorithms: RSA algorithms only (RS256, RS384, RS512)")
        self.deadline = deadline
        self.max_age = max_age
        self.max_stale = max_stale
        self.penalty = penalty
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, _Key] = {}
        self._fetched_at: float | None = None  # the last good fetch
        self._unknown_kid_fetch_at: float | None = None  # the last fetch an unknown kid caused
        self._failures = 0
        self._retry_at = float("-inf")
        self._lock = threading.Lock()
        self.fetches = 0  # attempts, for tests and figures

    def key(self, kid: Any, algorithm: str) -> Any:
        """The public key for a token with this `kid` and `alg`; KeyUnavailable if there is none now.

        Callers verify with `algorithms=[algorithm]`: the key's own `alg` (when it has one) already fits.
        """
        if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
            raise KeyUnavailable("missing or malformed kid")
        if algorithm not in self.algorithms:
            raise KeyUnavailable("algorithm not allowed")
        with self._lock:
            now = self._clock()
            if self._should_fetch(kid, now):
                self._refresh(now)
            if self._fetched_at is None or now - self._fetched_at >= self.max_stale:
                self._keys = {}
            entry = self._keys.get(kid)
        if entry is None:
            raise KeyUnavailable("no signing key with this kid")
        if entry.algorithm is not None and entry.algorithm != algorithm:
            raise KeyUnavailable("the key is for another algorithm")
        return entry.jwk.key

    def _should_fetch(self, kid: str, now: float) -> bool:
        if now < self._retry_at:
            return False  # backing off after a failure
        if self._fetched_at is None or now - self._fetched_at >= self.max_age:
            return True
        if kid in self._keys:
            return False
        # An unknown kid: the penalty window starts at the last fetch an unknown kid caused.
        if self._unknown_kid_fetch_at is not None and now - self._unknown_kid_fetch_at < self.penalty:
            return False
        self._unknown_kid_fetch_at = now
        return True

    def _refresh(self, now: float) -> None:
        self.fetches += 1
        try:
            keys = self._load()
        except Exception as error:  # noqa: BLE001 (any failure: keep the keys known, back off)
            self._failures += 1
            wait = min(self.backoff * 2 ** (self._failures - 1), self.max_backoff)
            self._retry_at = now + wait
            logger.warning("JWKS fetch failed (%s); next attempt in %.0f s", type(error).__name__, wait)
            return
        self._keys = keys
        self._fetched_at = now
        self._failures = 0
        self._retry_at = float("-inf")

    def _load(self) -> dict[str, _Key]:
        started = time.monotonic()

        def fetch(url: str) -> Any:
            left = self.deadline - (time.monotonic() - started)
            if left <= 0:
                raise FetchError("no time left for the key set")
            return self._fetch(check_url(url), left)

        url = self.url
        if self.discovery:
            document = fetch(url)
            jwks_uri = document.get("jwks_uri") if isinstance(document, dict) else None
            if not isinstance(jwks_uri, str):
                raise FetchError("discovery document without a jwks_uri")
            url = jwks_uri
        client = _KeySetClient(url, fetch, self.algorithms)
        keys: dict[str, _Key] = {}
        for jwk in client.get_signing_keys(refresh=True):
            kid = jwk.key_id
            if not isinstance(kid, str) or not isinstance(jwk.key, rsa.RSAPublicKey):
                continue
            if jwk.key.key_size < MIN_RSA_BITS:
                continue
            keys[kid] = _Key(jwk, client.algorithms_by_kid.get(kid))
        if not keys:
            raise FetchError("no usable signing key in the key set")
        return keys
