"""Verifies the user-claims token (`x-amzn-oidc-data`) that an Application Load Balancer signs.

Every ALB in a region signs with keys from the same public endpoint, for whatever issuer it is
configured with, so a valid signature and issuer prove little on their own: the token's `signer`
must be *this* ALB's ARN and its `client` this app's client id. The format differs from a plain
JWT: ES256 only, `signer`, `client`, `iss` and `exp` in the **header**, base64url segments that
keep their `=` padding (the signature covers the padded text), and the public key is a PEM file
at `<key endpoint>/<kid>`, not a JWKS.

Configure `AlbTokenVerifier` once with everything it must check; `verify()` returns the claims or
raises `AlbAuthError`, whose message is for logs only: callers answer with a generic 401.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jwtcheck.fetch import FetchError, fetch
from jwtcheck.jws import CompactJws, HeaderCache
from jwtcheck.rules import ClaimRuleError, check_times, numeric_date

ALGORITHM = "ES256"
# ALB key ids are UUIDs; nothing else may reach the key URL (no '/', '..', '?', '%', ...).
# Matched with fullmatch: `$` would let a trailing newline through.
KID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
ALB_ARN_PATTERN = re.compile(
    r"arn:aws[a-z-]*:elasticloadbalancing:(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d):\d{12}:loadbalancer/app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}"
)
# ALB headers are bounded by the load balancer; anything larger is not from it.
MAX_TOKEN_BYTES = 16 * 1024
MAX_KEY_BYTES = 4 * 1024
DEFAULT_FETCH_TIMEOUT_SECONDS = 1.5
# After a key fetch fails (an unknown kid, the endpoint down), no uncached kid is fetched for this
# long: a flood of made-up kids costs one request per window, whatever the kids, and an endpoint
# outage does not stall every request.
FAILED_FETCH_BACKOFF_SECONDS = 10.0
MAX_CACHED_KEYS = 16


class AlbAuthError(Exception):
    """The request does not carry a valid token from this ALB. The message is for logs only."""


def key_endpoint(region: str) -> str:
    """Where the ALBs of `region` publish their public keys (PEM files named by kid)."""
    if region.startswith("us-gov-"):
        return f"https://s3-{region}.amazonaws.com/aws-elb-public-keys-prod-{region}"
    return f"https://public-keys.auth.elb.{region}.amazonaws.com"


def region_of(alb_arn: str) -> str:
    match = ALB_ARN_PATTERN.fullmatch(alb_arn)
    if match is None:
        raise ValueError(f"not an Application Load Balancer ARN: {alb_arn!r}")
    return match.group("region")


class AlbPublicKeys:
    """Fetches ALB public keys by kid, caches them, and backs off after a failed fetch."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_FETCH_TIMEOUT_SECONDS,
        backoff: float = FAILED_FETCH_BACKOFF_SECONDS,
        max_keys: int = MAX_CACHED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.backoff = backoff
        self.max_keys = max_keys
        self.clock = clock
        self._keys: OrderedDict[str, ec.EllipticCurvePublicKey] = OrderedDict()
        self._failed_at: float | None = None
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()

    def url_for(self, kid: str) -> str:
        if not KID_PATTERN.fullmatch(kid):
            raise AlbAuthError("kid is not a key id")
        return f"{self.base_url}/{kid}"

    def get(self, kid: str) -> ec.EllipticCurvePublicKey:
        url = self.url_for(kid)
        key = self._cached(kid)
        if key is not None:
            return key
        # One fetch at a time: concurrent requests for a new kid wait for the first fetch.
        with self._fetch_lock:
            key = self._cached(kid)
            if key is not None:
                return key
            # One timestamp for every kid: per-kid backoff would let each made-up kid cost a fetch
            # (and an entry in memory).
            if self._failed_at is not None and self.clock() - self._failed_at < self.backoff:
                raise AlbAuthError("a key fetch failed recently")
            try:
                key = self._fetch(url)
            except AlbAuthError:
                self._failed_at = self.clock()
                raise
            with self._lock:
                self._keys[kid] = key
                while len(self._keys) > self.max_keys:
                    self._keys.popitem(last=False)
            return key

    def _cached(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        with self._lock:
            key = self._keys.get(kid)
            if key is not None:
                self._keys.move_to_end(kid)
            return key

    def _fetch(self, url: str) -> ec.EllipticCurvePublicKey:
        # One deadline for the whole answer (a trickled key cannot hold a request), no redirects.
        try:
            pem = fetch(
                url, deadline=self.timeout, max_bytes=MAX_KEY_BYTES, accept="application/x-pem-file, text/plain"
            )
        except (FetchError, ValueError) as error:
            raise AlbAuthError(f"key endpoint unavailable: {error}") from None
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            raise AlbAuthError("key is not a PEM public key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise AlbAuthError("key is not a P-256 public key")
        return key


class AlbTokenVerifier:
    """Checks one ALB's user-claims tokens: signature (ES256), signer, client, issuer, expiry."""

    def __init__(
        self,
        *,
        alb_arn: str,
        issuer: str,
        client_id: str,
        region: str | None = None,
        key_url_base: str | None = None,
        fetch_timeout: float = DEFAULT_FETCH_TIMEOUT_SECONDS,
        leeway_seconds: int = 0,
        keys: AlbPublicKeys | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (("alb_arn", alb_arn), ("issuer", issuer), ("client_id", client_id)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} is required: the verifier refuses to run with a check left unset")
        arn_region = region_of(alb_arn)
        if region is not None and region != arn_region:
            raise ValueError(f"region {region!r} is not the ALB's region {arn_region!r}")
        self.alb_arn = alb_arn
        self.issuer = issuer
        self.client_id = client_id
        self.region = arn_region
        self.leeway = leeway_seconds
        self.clock = clock
        self.keys = keys or AlbPublicKeys(key_url_base or key_endpoint(arn_region), timeout=fetch_timeout)
        # Parsed headers of verified tokens by segment (jwtcheck/jws.py). An ALB header holds the
        # token's own exp, so this pays only while the load balancer sends the same header again.
        self.headers = HeaderCache()

    def verify(self, token: str | None) -> dict[str, Any]:
        """The token's claims, once every check has passed; `AlbAuthError` otherwise."""
        if not token or not isinstance(token, str):
            raise AlbAuthError("no token")
        if len(token) > MAX_TOKEN_BYTES or not token.isascii() or token.count(".") != 2:
            raise AlbAuthError("not a compact JWS of acceptable size")
        try:
            token_jws = CompactJws(token, self.headers)
        except jwt.PyJWTError:
            raise AlbAuthError("unreadable header") from None
        header = token_jws.header
        # Cheap checks first: a token for another ALB or client never costs a key fetch.
        self._check_header(header)
        key = self.keys.get(header["kid"])
        try:
            # The signature over the padded segments, then the payload (a JSON object): jwtcheck/jws.py.
            claims = token_jws.verified_claims(key, ALGORITHM)
        except jwt.PyJWTError as error:
            raise AlbAuthError(f"token rejected: {type(error).__name__}") from None
        # A key fetch may have taken a while: the header's expiry again, then the payload's dates.
        self._check_expiry(header)
        try:
            check_times(claims, self.clock(), required=(), leeway=self.leeway)
        except ClaimRuleError as error:
            raise AlbAuthError(f"payload: {error}") from None
        if "iss" in claims and claims["iss"] != self.issuer:
            raise AlbAuthError("payload issuer mismatch")
        return claims

    def _check_header(self, header: Mapping[str, Any]) -> None:
        if header.get("alg") != ALGORITHM:
            raise AlbAuthError("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
            raise AlbAuthError("kid is not a key id")
        if header.get("signer") != self.alb_arn:
            raise AlbAuthError("signed by another load balancer")
        if header.get("client") != self.client_id:
            raise AlbAuthError("issued for another client")
        if header.get("iss") != self.issuer:
            raise AlbAuthError("issuer mismatch")
        self._check_expiry(header)

    def _check_expiry(self, header: Mapping[str, Any]) -> None:
        if "exp" not in header:
            raise AlbAuthError("header exp missing")
        try:
            # A JSON number, like every numeric date (jwtcheck/rules.py): never a string, never
            # infinite; checked before any key is fetched.
            expires = numeric_date(header["exp"], "header exp")
        except ClaimRuleError as error:
            raise AlbAuthError(str(error)) from None
        if expires + self.leeway <= self.clock():
            raise AlbAuthError("expired")
