"""Property-based fuzzing of the token parsers and the claims module.

Random text and bytes, and structured mutations of genuine tokens (a segment replaced, characters
inserted, deleted or swapped, header and claims rewritten and then validly signed), go to each
parser. Whatever comes in, the only exception that may come out is the module's own rejection:
`TokenError` (Lambda authorizer), `TokenRejected` (local JWT authorizer), `AlbAuthError` (ALB
verifier), `MachineAuthError` (machine tokens), `ClaimsError` (claims). And whatever a parser
accepts must be a token of ours that has not expired (`ACCEPTANCE_CHECKS`): the issuer exactly,
the client, an access token where the parser requires one, and an expiry in the future. Keys never
leave memory: each cache's fetch is replaced by a function returning the published keys.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
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
from service.m2m_auth import MachineAuthError, MachineIdentity, MachineTokenVerifier
from service.m2m_auth import bearer_token as machine_bearer_token
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


# --------------------------------------------------------------------------- what an accepted token is


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _names_our_client(claims: Mapping[str, Any]) -> bool:
    """The audience as API Gateway checks it, and every verifier with it (docs/security.md,
    "Audience"): `aud` when present (a string, or a list holding the client), else `client_id`."""
    if "aud" in claims:
        audience = claims["aud"]
        return audience == CLIENT or (isinstance(audience, list) and CLIENT in audience)
    return claims.get("client_id") == CLIENT


def _check_pool_claims(claims: Mapping[str, Any], before: float, after: float, *, access_only: bool) -> None:
    """A user pool token's claims, accepted between `before` and `after`: ours, and current."""
    assert claims.get("iss") == ISSUER, claims.get("iss")
    assert _names_our_client(claims), (claims.get("aud"), claims.get("client_id"))
    if access_only:
        assert claims.get("token_use") == "access", claims.get("token_use")
    assert _finite_number(claims.get("exp")) and claims["exp"] > before, claims.get("exp")
    for name in ("nbf", "iat"):
        if name in claims:
            assert _finite_number(claims[name]) and claims[name] <= after, (name, claims[name])


def _signed_payload(token: str) -> dict[str, Any]:
    """The claims of a token a verifier has accepted (so its signature holds), as PyJWT reads them."""
    payload: dict[str, Any] = jwt.decode_complete(token, options={"verify_signature": False})["payload"]
    return payload


def _accepted_by_lambda_authorizer(token: str, claims: Any, before: float, after: float) -> None:
    _check_pool_claims(claims, before, after, access_only=True)
    # The context carries client_id: with an `aud`, the audience rule leaves it unchecked, yet it
    # must still be a client id (docs/security.md).
    assert isinstance(claims["client_id"], str) and claims["client_id"], claims["client_id"]


def _accepted_by_jwt_authorizer(token: str, claims: Any, before: float, after: float) -> None:
    # Like API Gateway's JWT authorizer, it takes ID tokens too (their `aud` is the client).
    _check_pool_claims(claims, before, after, access_only=False)


def _accepted_by_machine_verifier(token: str, identity: Any, before: float, after: float) -> None:
    assert isinstance(identity, MachineIdentity)
    assert identity.client_id == CLIENT and SCOPE in identity.scopes, identity
    # It returns the client and scopes only: the rest is read from the token it verified.
    claims = _signed_payload(machine_bearer_token(f"Bearer {token}"))
    _check_pool_claims(claims, before, after, access_only=True)
    assert claims["client_id"] == CLIENT, claims["client_id"]


def _accepted_by_alb_verifier(token: str, claims: Any, before: float, after: float) -> None:
    # The ALB signs the header's signer, client, iss and exp: the verifier returns the payload only.
    header = jwt.get_unverified_header(token)
    assert (header.get("signer"), header.get("client"), header.get("iss")) == (TEST_ALB_ARN, CLIENT, ISSUER), header
    assert _finite_number(header.get("exp")) and header["exp"] > before, header.get("exp")
    assert claims.get("iss", ISSUER) == ISSUER, claims.get("iss")
    if "exp" in claims:
        assert _finite_number(claims["exp"]) and claims["exp"] > before, claims["exp"]
    for name in ("nbf", "iat"):
        if name in claims:
            assert _finite_number(claims[name]) and claims[name] <= after, (name, claims[name])


ACCEPTANCE_CHECKS: dict[str, Callable[[str, Any, float, float], None]] = {
    "tenant Lambda authorizer": _accepted_by_lambda_authorizer,
    "local JWT authorizer": _accepted_by_jwt_authorizer,
    "machine tokens": _accepted_by_machine_verifier,
    "ALB verifier": _accepted_by_alb_verifier,
}


def _accepted(parser: str, token: Any) -> bool:
    """False when refused with the parser's own rejection; True when accepted, once what it
    returned passes the parser's acceptance check. Anything else raises."""
    verify, rejection = ALL_PARSERS[parser]
    before = time.time()
    try:
        result = verify(token)
    except rejection:
        return False
    ACCEPTANCE_CHECKS[parser](token, result, before, time.time())
    return True


def run(parser: str, token: Any) -> None:
    _accepted(parser, token)


def test_each_parser_accepts_its_genuine_token():
    for parser in BEARER_PARSERS:
        assert _accepted(parser, genuine_bearer())
    assert _accepted("ALB verifier", genuine_alb())
    assert ALB_VERIFIER.verify(genuine_alb())["sub"] == "u1"


@pytest.mark.parametrize(
    ("parser", "claims"),
    [
        ("local JWT authorizer", {"token_use": "id", "aud": CLIENT}),
        ("local JWT authorizer", {"aud": [CLIENT, "another"]}),
        ("tenant Lambda authorizer", {"aud": CLIENT}),
    ],
)
def test_the_acceptance_check_takes_what_the_parsers_rightly_accept(parser, claims):
    """An ID token at the JWT authorizer, an `aud` beside the right `client_id`: accepted, and checked."""
    token = attacks.compact(
        {"kid": POOL_KEY.kid, "alg": "RS256"}, {**genuine_claims(), **claims}, attacks.rs256(POOL_KEY.private_key)
    )
    assert _accepted(parser, token)


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
# Each a token of ours but for one claim: accepting it fails the acceptance check.
@example(header={}, claims={"iss": ISSUER.upper()})
@example(header={}, claims={"iss": ISSUER + "/"})
@example(header={}, claims={"iss": [ISSUER]})
@example(header={}, claims={"client_id": CLIENT + "x"})
@example(header={}, claims={"aud": "another-client"})
@example(header={}, claims={"token_use": "id"})
@example(header={}, claims={"exp": 1_000_000_000})
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
# Each a token of ours but for one member: accepting it fails the acceptance check.
@example(header={"signer": ""}, claims={})
@example(header={"client": CLIENT + "x"}, claims={})
@example(header={"iss": ISSUER + "/"}, claims={})
@example(header={"exp": 1_000_000_000}, claims={})
@example(header={}, claims={"iss": ISSUER.upper()})
@example(header={}, claims={"exp": 1_000_000_000})
@given(
    header=st.fixed_dictionaries({}, optional=HEADER_VALUES),
    claims=st.dictionaries(st.sampled_from(["sub", "exp", "nbf", "iat", "iss", "email"]), JSON, max_size=4),
)
def test_validly_signed_alb_tokens_with_arbitrary_header_and_claims_raise_only_the_rejection(header, claims):
    token = attacks.compact({**alb_header(), **header}, {"sub": "u1", **claims}, attacks.es256(ALB_KEY), pad=True)
    run("ALB verifier", token)


# A genuine token with a single member rewritten or removed: everything else about it is right,
# so a parser whose check of that one member is broken accepts it, and the acceptance check fails.
REMOVED = object()


@st.composite
def one_member_changed(
    draw: st.DrawFn, genuine: dict[str, Any], values: dict[str, st.SearchStrategy[Any]]
) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(values)))
    value = draw(values[name] | st.just(REMOVED))
    changed = dict(genuine)
    if value is REMOVED:
        changed.pop(name, None)
    else:
        changed[name] = value
    return changed


@pytest.mark.parametrize("parser", list(BEARER_PARSERS))
@FUZZ
@given(data=st.data())
def test_validly_signed_bearer_tokens_with_one_claim_changed_are_accepted_only_as_ours(parser, data):
    claims = data.draw(one_member_changed(genuine_claims(), CLAIM_VALUES))
    run(parser, attacks.compact({"kid": POOL_KEY.kid, "alg": "RS256"}, claims, attacks.rs256(POOL_KEY.private_key)))


@FUZZ
@given(data=st.data())
def test_validly_signed_alb_tokens_with_one_header_member_changed_are_accepted_only_as_ours(data):
    header = data.draw(one_member_changed(alb_header(), HEADER_VALUES))
    run("ALB verifier", attacks.compact(header, {"sub": "u1"}, attacks.es256(ALB_KEY), pad=True))


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
