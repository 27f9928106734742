"""The local JWT authorizer checks exactly what API Gateway's native JWT authorizer checks."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from local.jwt_authorizer import (
    JwksCache,
    JwtAuthorizer,
    TokenRejected,
    scopes_allowed,
    token_from_identity,
    token_scopes,
)
from local.tokens import Clock, SigningKey

ISSUER = "http://127.0.0.1:9/eu-west-1_pool"
CLIENT = "spa-client"


class FakeIssuer:
    """Serves the discovery document and JWKS the authorizer fetches, and counts the fetches."""

    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.keys = [self.key]
        self.fetches = 0
        self.down = False

    def fetch(self, url: str, timeout: float) -> Any:
        assert timeout <= 1.5
        if self.down:
            raise OSError("unreachable")
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/.well-known/jwks.json"}
        if url == f"{ISSUER}/.well-known/jwks.json":
            self.fetches += 1
            return {"keys": [key.jwk() for key in self.keys]}
        raise AssertionError(url)


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def authorizer(issuer: FakeIssuer, clock: Clock) -> JwtAuthorizer:
    return JwtAuthorizer(
        authorizer_id="a1",
        name="UserPool",
        issuer=ISSUER,
        audience=(CLIENT, "machine-client"),
        identity_source="$request.header.Authorization",
        jwks=JwksCache(clock, fetch=issuer.fetch),
    )


def access_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "u1",
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin https://api/items.read",
        "exp": now + 300,
        "iat": now,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_a_valid_access_token_passes_on_its_client_id(authorizer: JwtAuthorizer, issuer: FakeIssuer) -> None:
    assert authorizer.verify(issuer.key.sign(access_claims()))["sub"] == "u1"


def test_an_id_token_passes_on_its_audience(authorizer: JwtAuthorizer, issuer: FakeIssuer) -> None:
    token = issuer.key.sign(access_claims(client_id=None, aud=CLIENT, token_use="id", scope=None))
    assert authorizer.verify(token)["token_use"] == "id"


def test_aud_is_checked_instead_of_client_id_when_both_are_present(
    authorizer: JwtAuthorizer, issuer: FakeIssuer
) -> None:
    with pytest.raises(TokenRejected, match="audience"):
        authorizer.verify(issuer.key.sign(access_claims(aud="someone-else")))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "http://127.0.0.1:9/other-pool"}, "issuer"),
        ({"client_id": "unknown-client"}, "audience"),
        ({"exp": int(time.time()) - 1}, "expired"),
        ({"exp": None}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
        ({"iat": int(time.time()) + 600}, "not valid yet"),
    ],
)
def test_tokens_with_bad_claims_are_rejected(
    authorizer: JwtAuthorizer, issuer: FakeIssuer, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(TokenRejected, match=reason):
        authorizer.verify(issuer.key.sign(access_claims(**overrides)))


def test_a_token_signed_by_a_key_not_in_the_jwks_is_rejected(authorizer: JwtAuthorizer) -> None:
    stranger = SigningKey.generate()
    with pytest.raises(TokenRejected, match="signing key"):
        authorizer.verify(stranger.sign(access_claims()))


def test_a_forged_signature_under_a_known_kid_is_rejected(authorizer: JwtAuthorizer, issuer: FakeIssuer) -> None:
    forged = jwt.encode(
        access_claims(), SigningKey.generate().private_key, algorithm="RS256", headers={"kid": issuer.key.kid}
    )
    with pytest.raises(TokenRejected, match="signature"):
        authorizer.verify(forged)


@pytest.mark.parametrize("algorithm", ["HS256", "ES256", "none"])
def test_only_rsa_algorithms_are_accepted(authorizer: JwtAuthorizer, issuer: FakeIssuer, algorithm: str) -> None:
    key: Any = {"HS256": "k" * 32, "ES256": ec.generate_private_key(ec.SECP256R1()), "none": None}[algorithm]
    token = jwt.encode(access_claims(), key, algorithm=algorithm, headers={"kid": issuer.key.kid})
    with pytest.raises(TokenRejected, match="signing method"):
        authorizer.verify(token)


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "x" * 9000])
def test_garbage_is_rejected_not_crashed_on(authorizer: JwtAuthorizer, garbage: str) -> None:
    with pytest.raises(TokenRejected):
        authorizer.verify(garbage)


def test_the_token_comes_bare_or_after_bearer() -> None:
    assert token_from_identity("Bearer abc") == "abc"
    assert token_from_identity("bearer abc") == "abc"
    assert token_from_identity("abc") == "abc"
    for missing in (None, "", "Bearer ", "   "):
        with pytest.raises(TokenRejected):
            token_from_identity(missing)


def test_route_scopes_are_any_of_on_scope_or_scp() -> None:
    assert scopes_allowed(("https://api/items.read", "https://api/admin"), {"scope": "openid https://api/admin"})
    assert scopes_allowed(("items.read",), {"scp": ["items.read"]})
    assert scopes_allowed(("items.read",), {"scp": "items.read other"})
    assert not scopes_allowed(("https://api/items.write",), {"scope": "https://api/items.read"})
    assert not scopes_allowed(("https://api/items.read",), {})
    assert scopes_allowed((), {})
    assert token_scopes({"scope": "a b"}) == ["a", "b"]


def test_the_jwks_is_cached_and_refetched_at_most_once_per_window_for_unknown_kids(
    authorizer: JwtAuthorizer, issuer: FakeIssuer, clock: Clock
) -> None:
    authorizer.verify(issuer.key.sign(access_claims()))
    authorizer.verify(issuer.key.sign(access_claims()))
    assert issuer.fetches == 1
    rotated = SigningKey.generate()
    issuer.keys.append(rotated)
    assert authorizer.verify(rotated.sign(access_claims()))["sub"] == "u1"
    assert issuer.fetches == 2
    stranger = SigningKey.generate()
    for _ in range(3):
        with pytest.raises(TokenRejected):
            authorizer.verify(stranger.sign(access_claims()))
    assert issuer.fetches == 2


def test_an_unreachable_issuer_means_every_token_is_rejected(authorizer: JwtAuthorizer, issuer: FakeIssuer) -> None:
    issuer.down = True
    with pytest.raises(TokenRejected, match="signing key"):
        authorizer.verify(issuer.key.sign(access_claims()))
