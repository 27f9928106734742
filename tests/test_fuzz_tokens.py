"""Property-based fuzzing of the token parsers and the claims module.

Random text and bytes, and structured mutations of genuine tokens (a segment replaced, characters
inserted, deleted or swapped, header and claims rewritten and then validly signed), go to each
parser. Whatever comes in, the only exception that may come out is the module's own rejection:
`TokenError` (Lambda authorizer), `TokenRejected` (local JWT authorizer), `AlbAuthError` (ALB
verifier), `MachineAuthError` (machine tokens), `ClaimsError` (claims). Keys never leave memory:
each cache's fetch is replaced by a function returning the published keys.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tenant_authorizer.verifier import AccessTokenVerifier, TokenError, VerifierSettings

import auth_contract
from jwtcheck.jwks import JwksCache
from jwtcheck.rules import MAX_NUMERIC_DATE
from local.jwt_authorizer import JwksCache as GatewayJwksCache
from local.jwt_authorizer import JwtAuthorizer, TokenRejected, token_from_identity
from local.tokens import Clock
from service.alb_auth import AlbAuthError, AlbPublicKeys, AlbTokenVerifier
from service.devtools import TEST_ALB_ARN
from service.m2m_auth import MachineAuthError, MachineTokenVerifier
from shared.claims import ClaimsError, Identity, parse_identity
from tests import attacks

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Fuzz"
CLIENT = "4fuzzclient000000000000000"
SCOPE = "https://api.jwt-auth.test/items.read"
ALB_KID = "0b5f3a52-1111-4222-8333-444455556666"
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POOL_KEY = attacks.RsaKey("fuzz-key-1")
ALB_KEY = ec.generate_private_key(ec.SECP256R1())


def _jwks(url: str, timeout: float) -> dict[str, Any]:
    if url.endswith("openid-configuration"):
        return {"jwks_uri": f"{ISSUER}/.well-known/jwks.json"}
    return {"keys": [POOL_KEY.jwk()]}


class _MemoryAlbKeys(AlbPublicKeys):
    def _fetch(self, url: str) -> ec.EllipticCurvePublicKey:
        if url.endswith(ALB_KID):
            return ALB_KEY.public_key()
        raise AlbAuthError("no such key")


_authorizer_cache = JwksCache(f"{ISSUER}/.well-known/jwks.json", fetch=_jwks)
LAMBDA_VERIFIER = AccessTokenVerifier(
    VerifierSettings(ISSUER, frozenset({CLIENT}), _authorizer_cache.url), _authorizer_cache
)
GATEWAY_VERIFIER = JwtAuthorizer(
    "a1", "UserPool", ISSUER, (CLIENT,), "$request.header.Authorization", GatewayJwksCache(Clock(), fetch=_jwks)
)
MACHINE_VERIFIER = MachineTokenVerifier(
    issuer=ISSUER,
    jwks_url=f"{ISSUER}/.well-known/jwks.json",
    client_ids=(CLIENT,),
    required_scope=SCOPE,
    jwks=JwksCache(f"{ISSUER}/.well-known/jwks.json", fetch=_jwks),
)
ALB_VERIFIER = AlbTokenVerifier(
    alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT, keys=_MemoryAlbKeys("https://keys.example")
)

# Each parser, with the one exception it may raise.
BEARER_PARSERS = {
    "tenant Lambda authorizer": (LAMBDA_VERIFIER.verify, TokenError),
    "local JWT authorizer": (lambda token: GATEWAY_VERIFIER.verify(token_from_identity(token)), TokenRejected),
    "machine tokens": (lambda token: MACHINE_VERIFIER.verify(f"Bearer {token}"), MachineAuthError),
}
ALL_PARSERS = {**BEARER_PARSERS, "ALB verifier": (ALB_VERIFIER.verify, AlbAuthError)}


def genuine_claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": CLIENT,
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": SCOPE,
        "iat": now,
        "exp": now + 600,
    }


def genuine_bearer() -> str:
    return attacks.compact({"kid": POOL_KEY.kid, "alg": "RS256"}, genuine_claims(), attacks.rs256(POOL_KEY.private_key))


def alb_header() -> dict[str, Any]:
    return {
        "typ": "JWT",
        "kid": ALB_KID,
        "alg": "ES256",
        "iss": ISSUER,
        "client": CLIENT,
        "signer": TEST_ALB_ARN,
        "exp": int(time.time()) + 120,
    }


def genuine_alb() -> str:
    return attacks.compact(alb_header(), {"sub": "u1", "email": "a@example.com"}, attacks.es256(ALB_KEY), pad=True)


def run(parser: str, token: Any) -> None:
    verify, rejection = ALL_PARSERS[parser]
    with contextlib.suppress(rejection):
        verify(token)


def test_each_parser_accepts_its_genuine_token():
    for parser in BEARER_PARSERS:
        BEARER_PARSERS[parser][0](genuine_bearer())
    assert ALB_VERIFIER.verify(genuine_alb())["sub"] == "u1"


# --------------------------------------------------------------------------- strategies

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
B64ISH = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.% \t\n\x00", max_size=80)
HEADER_VALUES = {
    "alg": st.sampled_from(["RS256", "ES256", "HS256", "none", "NONE", "PS256", "", "RS256 ", "rs256"]) | JSON,
    "kid": st.sampled_from([POOL_KEY.kid, ALB_KID, "../x", "", "\x00"]) | st.text(max_size=40) | JSON,
    "typ": JSON,
    "crit": JSON,
    "jku": JSON,
    "jwk": JSON,
    "signer": st.sampled_from([TEST_ALB_ARN, ""]) | JSON,
    "client": st.sampled_from([CLIENT, ""]) | JSON,
    "iss": st.sampled_from([ISSUER, ISSUER + "/"]) | JSON,
    "exp": st.integers(min_value=-(2**70), max_value=2**70) | JSON,
}
CLAIM_VALUES = {
    "sub": JSON,
    "iss": st.sampled_from([ISSUER, ISSUER.upper()]) | JSON,
    "client_id": st.sampled_from([CLIENT, [CLIENT]]) | JSON,
    "aud": st.sampled_from([CLIENT, [CLIENT]]) | JSON,
    "token_use": st.sampled_from(["access", "id"]) | JSON,
    "scope": st.sampled_from([SCOPE, [SCOPE], ""]) | JSON,
    "exp": st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | JSON,
    "iat": st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | JSON,
    "nbf": st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | JSON,
    "username": JSON,
}


@st.composite
def mutated(draw: st.DrawFn, genuine: str) -> str:
    """A genuine token with one structural mutation."""
    parts = genuine.split(".")
    kind = draw(st.sampled_from(["segment", "insert", "delete", "replace", "split", "join"]))
    if kind == "segment":
        index = draw(st.integers(0, 2))
        parts[index] = draw(B64ISH | JSON.map(lambda value: attacks.segment(json.dumps(value).encode())))
        return ".".join(parts)
    token = genuine
    position = draw(st.integers(0, len(token)))
    if kind == "insert":
        return token[:position] + draw(st.text(min_size=1, max_size=4)) + token[position:]
    if kind == "delete":
        return token[:position] + token[position + draw(st.integers(1, 8)) :]
    if kind == "replace":
        return token[:position] + draw(st.characters()) + token[position + 1 :]
    if kind == "split":
        return token[:position] + "." + token[position:]
    return token.replace(".", draw(st.sampled_from(["", "..", " ", "=."])), 1)


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("parser", list(ALL_PARSERS))
@FUZZ
@example(token="\ud800.e30.e30")  # a lone surrogate: was a UnicodeEncodeError from PyJWT in every verifier
@given(token=st.text(max_size=300) | st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")))
def test_random_text_raises_only_the_parsers_rejection(parser, token):
    run(parser, token)


@pytest.mark.parametrize("parser", list(ALL_PARSERS))
@FUZZ
@given(header=JSON, payload=JSON, signature=st.binary(max_size=300))
def test_random_json_segments_raise_only_the_parsers_rejection(parser, header, payload, signature):
    pad = parser == "ALB verifier"
    token = ".".join(
        (
            attacks.segment(json.dumps(header).encode(), pad=pad),
            attacks.segment(json.dumps(payload).encode(), pad=pad),
            attacks.b64(signature, pad=pad),
        )
    )
    run(parser, token)


@pytest.mark.parametrize("parser", list(BEARER_PARSERS))
@FUZZ
@given(data=st.data())
def test_mutated_genuine_bearer_tokens_raise_only_the_parsers_rejection(parser, data):
    run(parser, data.draw(mutated(genuine_bearer())))


@FUZZ
@given(data=st.data())
def test_mutated_genuine_alb_tokens_raise_only_the_verifiers_rejection(data):
    run("ALB verifier", data.draw(mutated(genuine_alb())))


@pytest.mark.parametrize("parser", list(BEARER_PARSERS))
@FUZZ
@example(header={}, claims={"client_id": [CLIENT]})  # was a TypeError (a 500) in two verifiers
@example(header={}, claims={"client_id": {"id": CLIENT}})
@given(
    header=st.fixed_dictionaries({}, optional=HEADER_VALUES),
    claims=st.fixed_dictionaries({}, optional=CLAIM_VALUES),
)
def test_validly_signed_bearer_tokens_with_arbitrary_header_and_claims_raise_only_the_rejection(parser, header, claims):
    token = attacks.compact(
        {"kid": POOL_KEY.kid, "alg": "RS256", **header},
        {**genuine_claims(), **claims},
        attacks.rs256(POOL_KEY.private_key),
    )
    run(parser, token)


@FUZZ
@given(
    header=st.fixed_dictionaries({}, optional=HEADER_VALUES),
    claims=st.dictionaries(st.sampled_from(["sub", "exp", "nbf", "iat", "iss", "email"]), JSON, max_size=4),
)
def test_validly_signed_alb_tokens_with_arbitrary_header_and_claims_raise_only_the_rejection(header, claims):
    token = attacks.compact({**alb_header(), **header}, {"sub": "u1", **claims}, attacks.es256(ALB_KEY), pad=True)
    run("ALB verifier", token)


# --------------------------------------------------------------------------- numeric dates

NOW = int(time.time())
# Near now (both sides of every comparison), anywhere, not finite, and not numbers at all.
DATE_VALUES = (
    st.integers(min_value=NOW - 1000, max_value=NOW + 1000)
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=NOW - 1000, max_value=NOW + 1000)
    | st.integers(min_value=NOW - 1000, max_value=NOW + 1000).map(str)
    | st.booleans()
    | st.none()
    | st.lists(st.integers(), max_size=2)
)


def _is_good_date(name: str, value: Any) -> bool:
    """What every verifier may accept: a finite JSON number in range, on the right side of now."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if not 0 <= value <= MAX_NUMERIC_DATE:
        return False
    now = time.time()
    return value > now + 5 if name == "exp" else value <= now - 5


def _borderline(value: Any) -> bool:
    """A finite number within 5 s of now: the clock may move between building and checking."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return numeric and abs(value - time.time()) <= 5


def _accepted(parser: str, token: str) -> bool:
    """True when accepted, False when refused with the parser's own rejection (anything else raises)."""
    verify, rejection = ALL_PARSERS[parser]
    try:
        verify(token)
    except rejection:
        return False
    return True


@pytest.mark.parametrize("parser", list(BEARER_PARSERS))
@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@FUZZ
@given(value=DATE_VALUES)
def test_a_bearer_date_is_accepted_only_as_a_finite_number_on_the_right_side_of_now(parser, name, value):
    claims = {**genuine_claims(), "nbf": NOW - 60}
    raw = attacks.with_raw_member(claims, name, json.dumps(value))  # json.dumps writes inf as Infinity
    token = attacks.compact({"kid": POOL_KEY.kid, "alg": "RS256"}, raw, attacks.rs256(POOL_KEY.private_key))
    accepted = _accepted(parser, token)
    if accepted:
        assert _is_good_date(name, value) or _borderline(value), (name, value)
    elif _is_good_date(name, value):
        pytest.fail(f"{name}={value!r} is a good date, yet the token was refused")


@pytest.mark.parametrize("where", ["header exp", "payload exp", "payload nbf"])
@FUZZ
@given(value=DATE_VALUES)
def test_an_alb_date_is_accepted_only_as_a_finite_number_on_the_right_side_of_now(where, value):
    place, name = where.split()
    header = attacks.with_raw_member(alb_header(), name, json.dumps(value)) if place == "header" else alb_header()
    claims = {"sub": "u1"}
    payload = attacks.with_raw_member(claims, name, json.dumps(value)) if place == "payload" else claims
    token = attacks.compact(header, payload, attacks.es256(ALB_KEY), pad=True)
    accepted = _accepted("ALB verifier", token)
    if accepted:
        assert _is_good_date(name, value) or _borderline(value), (where, value)
    elif _is_good_date(name, value):
        pytest.fail(f"{where}={value!r} is a good date, yet the token was refused")


# --------------------------------------------------------------------------- the claims module

CLAIM_NAMES = [
    "sub",
    "username",
    "cognito:username",
    "client_id",
    "aud",
    "token_use",
    "scope",
    auth_contract.TENANT_CLAIM,
    auth_contract.ROLES_CLAIM,
    auth_contract.GROUPS_CLAIM,
]
CONTEXT_NAMES = ["sub", "username", "tenant", "roles", "scopes", "client_id", "token_use"]
TEXTISH = st.text(max_size=30) | st.sampled_from(["[admin editor]", '["admin"]', "[", "]", "access", "id", ""])


def _parse(event: Any) -> None:
    try:
        identity = parse_identity(event, resource_server="https://api.jwt-auth.test")
    except ClaimsError:
        return
    assert isinstance(identity, Identity)


@FUZZ
@given(event=JSON)
def test_claims_module_raises_only_claims_error_on_any_event(event):
    _parse(event)


@FUZZ
@given(
    claims=st.dictionaries(st.sampled_from(CLAIM_NAMES), TEXTISH | JSON, max_size=8),
    scopes=st.none() | JSON | st.lists(TEXTISH, max_size=4),
)
def test_claims_module_raises_only_claims_error_on_any_jwt_authorizer_context(claims, scopes):
    _parse({"requestContext": {"authorizer": {"jwt": {"claims": claims, "scopes": scopes}}}})


@FUZZ
@given(context=st.dictionaries(st.sampled_from(CONTEXT_NAMES), TEXTISH | JSON, max_size=7))
def test_claims_module_raises_only_claims_error_on_any_lambda_authorizer_context(context):
    _parse({"requestContext": {"authorizer": {"lambda": context}}})


ALWAYS_READ = [
    "sub",
    "username",
    "client_id",
    "token_use",
    "scope",
    auth_contract.TENANT_CLAIM,
    auth_contract.ROLES_CLAIM,
]


@FUZZ
@given(size=st.integers(min_value=257, max_value=100_000), name=st.sampled_from(ALWAYS_READ))
def test_claims_module_refuses_huge_claim_values(size, name):
    claims = {"sub": "u1", name: "x" * size}
    with pytest.raises(ClaimsError):
        parse_identity({"requestContext": {"authorizer": {"jwt": {"claims": claims, "scopes": None}}}})
