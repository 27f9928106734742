"""One strict read of a compact JWS, its signature checked by PyJWT's own algorithm objects.

Why not `jwt.decode()`: every verifier must read the header before it can choose a key, and
PyJWT's public API has no "decode with this header already read" call, so each token was parsed
twice (`jwt.get_unverified_header()`, then `jwt.decode()`). And PyJWT 2.15.1 checks each segment's
base64url alphabet with a Python loop over every character (`PyJWS._decode_base64url_segment`, its
fix for GHSA-hxm8-2xgr-2p9m): for a 1 KB Cognito token, the two parses cost several times the RSA
signature check. Here the token is read once, the alphabet checked by one compiled regular
expression, and the signature verified by the algorithm object `jwt.get_algorithm_by_name()` returns
(its `prepare_key`, `check_key_length` and `verify`: the same calls `jwt.decode()` makes).

What is accepted is what `jwt.decode(token, key, algorithms=[algorithm], issuer=..., options=
{"require": [...], "enforce_minimum_key_length": True, verify_aud/exp/nbf/iat off})` accepts, or
less (tests/test_jws.py compares the two on genuine, hand-picked and fuzzed tokens):

- Three segments of the base64url alphabet. A segment may end in one or two `=` only when its
  length is a multiple of 4 (ALB tokens keep their padding); none may be 4n+1 characters long; the
  unused bits of the last character must be zero, so one byte string has one spelling.
- The header: a JSON object; `kid` a string when present; `crit` as PyJWT allows it (a non-empty
  list of the extensions it supports, each present); `b64: false` refused (no detached payloads).
- `alg` must be the caller's algorithm; the key must be one that algorithm's `prepare_key` takes
  (for EC: the algorithm's curve), and an RSA key at least 2048 bits.
- The payload, read only after the signature verified: a JSON object; each `require`d claim present
  and not null; `iss` a string equal to `issuer` when one is given; `sub` and `jti` strings when
  present (PyJWT's defaults).

Failures raise PyJWT's own exception classes (all `jwt.PyJWTError`), so callers handle and log
them as before. Dates and audiences are the callers' (jwtcheck/rules.py).

`HeaderCache`: every token one key signs carries the same header segment (Cognito:
`{"kid":...,"alg":"RS256"}`), so the parsed header is kept by its exact segment text. Only headers
of tokens whose signature verified are added, so forged headers can neither fill the cache nor
push a genuine one out; it holds at most `size` entries, the oldest dropped first.
"""

from __future__ import annotations

import binascii
import json
import re
import threading
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

import jwt
from jwt.exceptions import InvalidJTIError, InvalidSubjectError  # not re-exported by `jwt`

# Three segments of the base64url alphabet (RFC 4648 section 5), each with at most two `=`.
_COMPACT = re.compile(r"([A-Za-z0-9_-]*={0,2})\.([A-Za-z0-9_-]*={0,2})\.([A-Za-z0-9_-]*={0,2})")
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
# The last character of a segment 4n+2 (4n+3) characters long carries 4 (2) unused bits: zero in
# the canonical spelling, i.e. a character whose alphabet index is a multiple of 16 (of 4).
_LAST_OF_4N_PLUS_2 = frozenset("AQgw")
_LAST_OF_4N_PLUS_3 = frozenset("AEIMQUYcgkosw048")
# The `crit` extensions PyJWT understands (PyJWS._supported_crit).
_SUPPORTED_CRIT = frozenset({"b64"})
DEFAULT_HEADER_CACHE_SIZE = 16


class HeaderCache:
    """Headers of verified tokens by their exact header segment: at most `size`, oldest out first."""

    def __init__(self, size: int = DEFAULT_HEADER_CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError("size: at least 1")
        self.size = size
        self._headers: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._headers)

    def clear(self) -> None:
        with self._lock:
            self._headers.clear()

    def get(self, segment: str) -> Mapping[str, Any] | None:
        return self._headers.get(segment)

    def remember(self, segment: str, header: Mapping[str, Any]) -> None:
        with self._lock:
            if segment in self._headers:
                return
            while len(self._headers) >= self.size:
                del self._headers[next(iter(self._headers))]  # dicts keep insertion order
            self._headers[segment] = header


class CompactJws:
    """A compact JWS whose segments are well-formed and whose header is a valid JOSE header."""

    __slots__ = ("_cached", "_header_segment", "_headers", "_payload_segment", "_signature_segment", "_token", "header")

    def __init__(self, token: str, headers: HeaderCache | None = None) -> None:
        """Reads `token`'s header (from `headers` when it holds this exact segment, and into it once
        the signature verified); jwt.DecodeError or jwt.InvalidTokenError if the token is malformed."""
        match = _COMPACT.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            raise jwt.DecodeError("not three base64url segments")
        self._token = token
        self._header_segment, self._payload_segment, self._signature_segment = match.groups()
        self._headers = headers
        cached = headers.get(self._header_segment) if headers is not None else None
        self._cached = cached is not None
        self.header: Mapping[str, Any] = cached if cached is not None else _read_header(self._header_segment)

    def verified_claims(
        self,
        key: Any,
        algorithm: str,
        *,
        require: Collection[str] = (),
        issuer: str | None = None,
    ) -> dict[str, Any]:
        """The payload, once the signature verified with `key` under `algorithm` and the claim
        checks above passed; a jwt.PyJWTError otherwise. A verified header goes into the cache the
        token was read with."""
        if self.header.get("alg") != algorithm:
            raise jwt.InvalidAlgorithmError("The specified alg value is not allowed")
        try:
            verifier = jwt.get_algorithm_by_name(algorithm)
        except NotImplementedError:
            raise jwt.InvalidAlgorithmError("Algorithm not supported") from None
        prepared = verifier.prepare_key(key)
        if verifier.check_key_length(prepared):  # a message when the key is too short
            raise jwt.InvalidKeyError("key below the algorithm's minimum length")
        signature = _segment_bytes(self._signature_segment, "crypto")
        signing_input = self._token[: len(self._header_segment) + 1 + len(self._payload_segment)].encode("ascii")
        if not verifier.verify(signing_input, prepared, signature):
            raise jwt.InvalidSignatureError("Signature verification failed")
        if self._headers is not None and not self._cached:
            self._headers.remember(self._header_segment, self.header)
        claims = _json_object(_segment_bytes(self._payload_segment, "payload"), "payload")
        _check_registered_claims(claims, require, issuer)
        return claims


def _segment_bytes(segment: str, name: str) -> bytes:
    """The bytes of one segment the shape pattern already matched, if it is spelled canonically."""
    stripped = segment.rstrip("=")
    length = len(stripped)
    remainder = length % 4
    if (length != len(segment) and len(segment) % 4) or remainder == 1:
        raise jwt.DecodeError(f"Invalid {name} padding")
    if (remainder == 2 and stripped[-1] not in _LAST_OF_4N_PLUS_2) or (
        remainder == 3 and stripped[-1] not in _LAST_OF_4N_PLUS_3
    ):
        raise jwt.DecodeError(f"Invalid {name} padding")
    # The alphabet is checked, so the standard decoder sees nothing it would skip.
    try:
        return binascii.a2b_base64(stripped.encode("ascii").translate(_TO_STANDARD_ALPHABET) + b"=" * (-length % 4))
    except binascii.Error:
        raise jwt.DecodeError(f"Invalid {name} padding") from None


def _json_object(data: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(data)  # bytes, as PyJWT passes them: UTF-8, -16 or -32
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise jwt.DecodeError(f"Invalid {name} string") from None
    if not isinstance(value, dict):
        raise jwt.DecodeError(f"Invalid {name} string: must be a json object")
    return value


def _read_header(segment: str) -> Mapping[str, Any]:
    header = _json_object(_segment_bytes(segment, "header"), "header")
    if header.get("b64", True) is False:
        raise jwt.InvalidTokenError("detached payloads (b64: false) are not accepted")
    if "kid" in header and not isinstance(header["kid"], str):
        raise jwt.InvalidTokenError("Key ID header parameter must be a string")
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit:
            raise jwt.InvalidTokenError("Invalid 'crit' header: must be a non-empty list")
        for extension in crit:
            if not isinstance(extension, str) or extension not in _SUPPORTED_CRIT or extension not in header:
                raise jwt.InvalidTokenError("Invalid 'crit' header")
    return MappingProxyType(header)  # shared through the cache: read-only


def _check_registered_claims(claims: Mapping[str, Any], require: Collection[str], issuer: str | None) -> None:
    """PyJWT's claim checks with `require`, `issuer` and its defaults for `sub` and `jti`."""
    for name in require:
        if claims.get(name) is None:
            raise jwt.MissingRequiredClaimError(name)
    if issuer is not None:
        if "iss" not in claims:
            raise jwt.MissingRequiredClaimError("iss")
        if not isinstance(claims["iss"], str) or claims["iss"] != issuer:
            raise jwt.InvalidIssuerError("Invalid issuer")
    if "sub" in claims and not isinstance(claims["sub"], str):
        raise InvalidSubjectError("Subject must be a string")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise InvalidJTIError("JWT ID must be a string")
