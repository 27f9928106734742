"""jwtcheck/jws.py: one strict read of a compact JWS, the same verdict as PyJWT's decode.

Specification: a token is accepted exactly when `jwt.decode()` with the verifiers' options
accepts it, with the same claims (genuine, hand-picked and fuzzed tokens, RS256 and the ALB's
padded ES256); failures are PyJWT's exception classes; the header cache keeps only headers of
tokens whose signature verified, at most `size` of them, the oldest dropped first, and a header
segment it does not hold is read afresh.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Collection
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jwtcheck.jws import CompactJws, HeaderCache
from tests import attacks

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Jws"
REQUIRE = ("exp", "iat", "iss", "sub", "token_use", "client_id")
RSA_KEY = attacks.RsaKey("jws-key-1")
OTHER_RSA_KEY = attacks.RsaKey("jws-key-2")
WEAK_KEY = attacks.weak_rsa_key("jws-weak")
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_P384_KEY = ec.generate_private_key(ec.SECP384R1())
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    document = {
        "sub": "u1",
        "iss": ISSUER,
        "client_id": "c1",
        "token_use": "access",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
    }
    document.update(changes)
    return {name: value for name, value in document.items() if value is not None}


def rs256_token(header: Any = None, payload: Any = None, *, key: attacks.RsaKey = RSA_KEY, pad: bool = False) -> str:
    header = {"kid": RSA_KEY.kid, "alg": "RS256"} if header is None else header
    return attacks.compact(header, claims() if payload is None else payload, attacks.rs256(key.private_key), pad=pad)


def es256_token(header: Any = None, payload: Any = None) -> str:
    header = {"kid": "k", "alg": "ES256", "signer": "arn"} if header is None else header
    return attacks.compact(header, {"sub": "u1"} if payload is None else payload, attacks.es256(EC_KEY), pad=True)


def ours(token: str, key: Any, algorithm: str, require: Collection[str], issuer: str | None) -> tuple[str, Any]:
    try:
        return "accepted", CompactJws(token).verified_claims(key, algorithm, require=require, issuer=issuer)
    except jwt.PyJWTError as error:
        return "refused", type(error).__name__


def pyjwt(token: str, key: Any, algorithm: str, require: Collection[str], issuer: str | None) -> tuple[str, Any]:
    """PyJWT's verdict with the options every verifier passed it."""
    options: Any = {
        "require": list(require),
        "verify_aud": False,
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_iss": issuer is not None,
        "enforce_minimum_key_length": True,
    }
    try:
        return "accepted", jwt.decode(token, key, algorithms=[algorithm], issuer=issuer, options=options)
    except jwt.PyJWTError as error:
        return "refused", type(error).__name__


def same_verdict(token: str, key: Any, algorithm: str, require: Collection[str] = (), issuer: str | None = None) -> str:
    mine, theirs = ours(token, key, algorithm, require, issuer), pyjwt(token, key, algorithm, require, issuer)
    assert mine[0] == theirs[0], (token, mine, theirs)
    if mine[0] == "accepted":
        assert mine[1] == theirs[1]
    return mine[0]


def rs256(token: str) -> str:
    return same_verdict(token, RSA_KEY.private_key.public_key(), "RS256", REQUIRE, ISSUER)


def es256(token: str) -> str:
    return same_verdict(token, EC_KEY.public_key(), "ES256")


# --------------------------------------------------------------------------- the same verdict as PyJWT


def test_genuine_tokens_are_accepted_with_their_claims():
    assert rs256(rs256_token()) == "accepted"
    assert CompactJws(rs256_token()).verified_claims(RSA_KEY.private_key.public_key(), "RS256") == claims()
    assert es256(es256_token()) == "accepted"
    # Padding is accepted where the length allows it (the ALB's format), for RS256 too.
    assert rs256(rs256_token(pad=True)) == "accepted"
    for filler in ("", "x", "xx", "xxx"):
        assert es256(es256_token(payload={"sub": "u1", "f": filler})) == "accepted"


def _respell_last_character(token: str, index: int) -> str:
    """The segment with the unused bits of its last character set: other text, the same bytes."""
    parts = token.split(".")
    text = parts[index].rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    position = alphabet.index(text[-1])
    parts[index] = text[:-1] + alphabet[position + 1] + parts[index][len(text) :]
    return ".".join(parts)


def _header_of(token: str) -> str:
    return token.split(".")[0]


@pytest.mark.parametrize(
    "build",
    [
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "crit": ["b64"], "b64": True}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "crit": ["b64"]}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "crit": []}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "crit": "b64", "b64": True}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "crit": ["exp"], "exp": 1}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "crit": [1]}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "b64": False}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "b64": 0}),
        lambda: rs256_token(header={"kid": 7, "alg": "RS256"}),
        lambda: rs256_token(header={"alg": "RS256"}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": ["RS256"]}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS384"}),
        lambda: rs256_token(header={"kid": RSA_KEY.kid, "alg": "none"}),
        lambda: rs256_token(header=[{"alg": "RS256"}]),
        lambda: attacks.compact(b"\xef\xbb\xbf" + b'{"alg": "RS256"}', claims(), attacks.rs256(RSA_KEY.private_key)),
        lambda: attacks.compact('{"alg": "RS256"}'.encode("utf-16"), claims(), attacks.rs256(RSA_KEY.private_key)),
        lambda: attacks.compact({"alg": "RS256"}, b"[" * 5000 + b"]" * 5000, attacks.rs256(RSA_KEY.private_key)),
        lambda: attacks.compact({"alg": "RS256"}, b'{"sub": "\xed\xa0\x80"}', attacks.rs256(RSA_KEY.private_key)),
        lambda: attacks.compact({"alg": "RS256"}, b'{"n": 1' + b"0" * 5000 + b"}", attacks.rs256(RSA_KEY.private_key)),
        lambda: rs256_token(payload=claims(sub=7)),
        lambda: rs256_token(payload=claims(jti=["j"])),
        lambda: rs256_token(payload={**claims(), "token_use": None}),
        lambda: rs256_token(payload=claims(client_id=None)),
        lambda: rs256_token(payload=claims(iss=[ISSUER])),
        lambda: rs256_token(payload=claims(iss=ISSUER + "/")),
        lambda: rs256_token(payload=claims(iss=None)),
        lambda: rs256_token(payload=claims(exp="soon", iat="now")),  # dates are the callers' rule
        lambda: rs256_token(payload="claims"),
        lambda: rs256_token(key=OTHER_RSA_KEY),
        lambda: rs256_token(key=WEAK_KEY),
        lambda: _respell_last_character(rs256_token(), 0),
        lambda: _respell_last_character(rs256_token(), 1),
        lambda: _respell_last_character(rs256_token(), 2),
        lambda: rs256_token() + "=",
        lambda: rs256_token() + "==",
        lambda: rs256_token() + "===",
        lambda: rs256_token().replace(".", "=.", 1),
        lambda: rs256_token()[:-1],
        lambda: rs256_token()[:-2],
        lambda: rs256_token().replace("-", "+").replace("_", "/"),
        lambda: rs256_token() + ".",
        lambda: rs256_token().rsplit(".", 1)[0],
        lambda: rs256_token().rsplit(".", 1)[0] + ".",
        lambda: "." + rs256_token().split(".", 1)[1],
        lambda: rs256_token() + "\n",
        lambda: "..",
        lambda: "",
    ],
)
def test_hand_picked_tokens_get_pyjwts_verdict(build: Callable[[], str]):
    rs256(build())


def test_weak_keys_and_foreign_curves_are_refused_as_pyjwt_refuses_them():
    token = rs256_token(key=WEAK_KEY)
    assert same_verdict(token, WEAK_KEY.private_key.public_key(), "RS256") == "refused"

    def p384_signature(data: bytes) -> bytes:
        r, s = decode_dss_signature(EC_P384_KEY.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(48, "big") + s.to_bytes(48, "big")

    p384 = attacks.compact({"alg": "ES256"}, {"sub": "u1"}, p384_signature, pad=True)
    assert same_verdict(p384, EC_P384_KEY.public_key(), "ES256") == "refused"


def test_padding_stripped_from_or_added_to_an_alb_token_is_refused():
    token = es256_token(payload={"sub": "u1", "f": "x"})
    assert "=" in token
    assert es256(".".join(part.rstrip("=") for part in token.split("."))) == "refused"
    assert es256(".".join(part if part.endswith("=") else part + "==" for part in token.split("."))) == "refused"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
HEADER_EXTRAS = {
    "alg": st.sampled_from(["RS256", "ES256", "HS256", "none", ""]) | JSON,
    "kid": st.text(max_size=8) | JSON,
    "crit": st.sampled_from([["b64"], [], ["exp"], "b64"]) | JSON,
    "b64": st.sampled_from([True, False, 0, "false"]) | JSON,
    "typ": JSON,
}
CLAIM_EXTRAS = dict.fromkeys(("sub", "jti", "iss", "client_id", "token_use", "exp", "iat", "aud"), JSON)
SEGMENTISH = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/", max_size=40)


@FUZZ
@given(
    header=st.fixed_dictionaries({}, optional=HEADER_EXTRAS),
    payload=st.fixed_dictionaries({}, optional=CLAIM_EXTRAS),
    pad=st.booleans(),
)
def test_validly_signed_tokens_with_any_header_and_claims_get_pyjwts_verdict(header, payload, pad):
    rs256(rs256_token({"kid": RSA_KEY.kid, "alg": "RS256", **header}, {**claims(), **payload}, pad=pad))
    es256(es256_token({"kid": "k", "alg": "ES256", **header}, {"sub": "u1", **payload}))


@FUZZ
@example(index=1, text="e30")
@example(index=0, text="eyJhbGciOiJSUzI1NiJ9=")
@given(index=st.integers(0, 2), text=SEGMENTISH)
def test_any_segment_replaced_gets_pyjwts_verdict(index, text):
    for token, check in ((rs256_token(), rs256), (es256_token(), es256)):
        parts = token.split(".")
        parts[index] = text
        check(".".join(parts))


@FUZZ
@given(data=st.data())
def test_characters_inserted_deleted_or_replaced_get_pyjwts_verdict(data):
    for token, check in ((rs256_token(), rs256), (es256_token(), es256)):
        position = data.draw(st.integers(0, len(token)))
        kind = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        text = data.draw(
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.", max_size=3)
        )
        if kind == "insert":
            check(token[:position] + text + token[position:])
        elif kind == "delete":
            check(token[:position] + token[position + 1 + len(text) :])
        else:
            check(token[:position] + text + token[position + len(text) :])


@FUZZ
@given(text=st.text(max_size=200))
def test_random_text_is_refused_with_pyjwts_exceptions_only(text):
    with pytest.raises(jwt.PyJWTError):
        CompactJws(text).verified_claims(RSA_KEY.private_key.public_key(), "RS256")


# --------------------------------------------------------------------------- the header cache


def test_only_the_header_of_a_verified_token_is_cached():
    cache = HeaderCache()
    public_key = RSA_KEY.private_key.public_key()
    forged = rs256_token(key=OTHER_RSA_KEY)  # the same header segment, another key's signature
    with pytest.raises(jwt.InvalidSignatureError):
        CompactJws(forged, cache).verified_claims(public_key, "RS256")
    assert len(cache) == 0
    token = rs256_token()
    CompactJws(token, cache).verified_claims(public_key, "RS256")
    header: Any = cache.get(_header_of(token))
    assert header == {"kid": RSA_KEY.kid, "alg": "RS256"}
    with pytest.raises(TypeError):  # shared by every later token: read-only
        header["alg"] = "none"


def test_a_flood_of_forged_headers_neither_grows_the_cache_nor_evicts_the_genuine_one():
    cache = HeaderCache(size=2)
    public_key = RSA_KEY.private_key.public_key()
    token = rs256_token()
    CompactJws(token, cache).verified_claims(public_key, "RS256")
    for number in range(50):
        forged = rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "n": number}, key=OTHER_RSA_KEY)
        with pytest.raises(jwt.InvalidSignatureError):
            CompactJws(forged, cache).verified_claims(public_key, "RS256")
    assert len(cache) == 1
    assert cache.get(_header_of(token)) is not None


def test_the_cache_holds_at_most_size_headers_the_oldest_dropped_first():
    cache = HeaderCache(size=3)
    public_key = RSA_KEY.private_key.public_key()
    tokens = [rs256_token(header={"kid": RSA_KEY.kid, "alg": "RS256", "n": number}) for number in range(5)]
    for token in tokens:
        CompactJws(token, cache).verified_claims(public_key, "RS256")
        assert len(cache) <= 3
    assert [cache.get(_header_of(token)) is not None for token in tokens] == [False, False, True, True, True]
    with pytest.raises(ValueError, match="size"):
        HeaderCache(size=0)


def test_a_changed_header_is_read_afresh_and_judged_on_its_own():
    cache = HeaderCache()
    public_key = RSA_KEY.private_key.public_key()
    CompactJws(rs256_token(), cache).verified_claims(public_key, "RS256")
    # The same members spelled differently, then another alg, a kid that is not a string, b64 false.
    respaced = attacks.compact(
        b'{"kid":"%s","alg":"RS256"}' % RSA_KEY.kid.encode(), claims(), attacks.rs256(RSA_KEY.private_key)
    )
    assert CompactJws(respaced, cache).header == {"kid": RSA_KEY.kid, "alg": "RS256"}
    assert cache.get(_header_of(respaced)) is None
    with pytest.raises(jwt.InvalidAlgorithmError):
        CompactJws(rs256_token(header={"kid": RSA_KEY.kid, "alg": "HS256"}), cache).verified_claims(public_key, "RS256")
    for header in ({"kid": 1, "alg": "RS256"}, {"kid": RSA_KEY.kid, "alg": "RS256", "b64": False}):
        with pytest.raises(jwt.InvalidTokenError):
            CompactJws(rs256_token(header=header), cache)


@pytest.mark.parametrize(
    "build",
    [
        lambda: rs256_token(key=OTHER_RSA_KEY),
        lambda: rs256_token(payload="claims"),
        lambda: rs256_token(payload=claims(iss="https://attacker.example")),
        lambda: rs256_token(payload=claims(sub=1)),
        lambda: rs256_token(payload=claims(client_id=None)),
        lambda: rs256_token()[:-2],
        lambda: _respell_last_character(rs256_token(), 1),
        lambda: _respell_last_character(rs256_token(), 2),
    ],
)
def test_a_cached_header_changes_no_verdict(build: Callable[[], str]):
    """A token whose header segment is cached is refused exactly as it is with an empty cache."""
    cache = HeaderCache()
    public_key = RSA_KEY.private_key.public_key()
    genuine = rs256_token()
    CompactJws(genuine, cache).verified_claims(public_key, "RS256")
    token = build()
    assert _header_of(token) == _header_of(genuine)
    verdicts = []
    for headers in (None, cache):
        try:
            CompactJws(token, headers).verified_claims(public_key, "RS256", require=REQUIRE, issuer=ISSUER)
            verdicts.append("accepted")
        except jwt.PyJWTError as error:
            verdicts.append(type(error).__name__)
    assert verdicts[0] == verdicts[1] != "accepted"


def test_the_header_segment_alone_decides_a_cache_hit():
    segment = base64.urlsafe_b64encode(json.dumps({"alg": "RS256"}).encode()).decode().rstrip("=")
    cache = HeaderCache()
    cache.remember(segment, {"alg": "RS256"})
    assert cache.get(segment + "=") is None
    assert cache.get(segment) == {"alg": "RS256"}
    cache.clear()
    assert len(cache) == 0
