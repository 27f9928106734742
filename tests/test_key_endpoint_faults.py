"""Key endpoints under faults: every verifier's key cache against a counting server on 127.0.0.1.

Four caches fetch keys over HTTP: the tenant Lambda authorizer's JWKS cache, the local gateway's
JWT authorizer (discovery document, then JWKS), the web app's ALB key cache (a PEM per kid) and
its machine-token JWKS client. For each: keys are cached; a flood of unknown-kid tokens costs at
most one fetch per window; with the endpoint down or slow, cached keys keep working and an
uncached key is a refusal within the fetch timeout; a rotated key (new kid) is picked up.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tenant_authorizer.jwks import JwksCache as AuthorizerJwksCache
from tenant_authorizer.verifier import AccessTokenVerifier, TokenError, VerifierSettings

import local.jwt_authorizer as local_jwt_authorizer
from local.jwt_authorizer import UNKNOWN_KID_REFETCH_SECONDS, JwtAuthorizer, TokenRejected
from local.jwt_authorizer import JwksCache as GatewayJwksCache
from local.tokens import Clock
from service.alb_auth import AlbAuthError, AlbPublicKeys, AlbTokenVerifier
from service.devtools import TEST_ALB_ARN
from service.m2m_auth import MachineAuthError, MachineTokenVerifier
from tests import attacks

POOL = "eu-west-1_Faults"
CLIENT = "4faultclient00000000000000"
SCOPE = "https://api.jwt-auth.test/events.write"
FLOOD = 50
WINDOW = 10.0  # the refetch window set here where a cache takes one
TIMEOUT = 0.5  # fetch timeout used here, to keep the slow cases short
SLOW = 3.0  # how late a slow endpoint answers: well past TIMEOUT


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Pool:
    server: attacks.CountingServer
    issuer: str
    keys: list[attacks.RsaKey]

    @property
    def jwks_path(self) -> str:
        return f"/{POOL}/.well-known/jwks.json"

    def publish(self) -> None:
        attacks.serve_issuer(self.server, POOL, self.keys)

    def fetches(self) -> int:
        return self.server.count(self.jwks_path)

    def token(self, key: attacks.RsaKey | None = None, *, kid: str | None = None) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        claims = {
            "sub": CLIENT,
            "iss": self.issuer,
            "client_id": CLIENT,
            "token_use": "access",
            "scope": SCOPE,
            "iat": now,
            "exp": now + 600,
        }
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": kid or key.kid})


@pytest.fixture
def pool() -> Iterator[Pool]:
    server = attacks.CountingServer()
    pool = Pool(server, f"{server.base_url}/{POOL}", [attacks.RsaKey("key-1")])
    pool.publish()
    yield pool
    server.down()


# --------------------------------------------------------------------------- one adapter per cache


@dataclass
class Verifier:
    """A verifier with its clock: `verify(token)` returns normally or raises `rejection`."""

    verify: Callable[[str], Any]
    rejection: type[Exception]
    advance: Callable[[float], None]
    window: float  # at most one refetch for unknown kids per this many seconds


def lambda_authorizer(pool: Pool) -> Verifier:
    clock = FakeMonotonic()
    cache = AuthorizerJwksCache(
        f"{pool.issuer}/.well-known/jwks.json", refetch_interval=WINDOW, timeout=TIMEOUT, clock=clock
    )
    verifier = AccessTokenVerifier(VerifierSettings(pool.issuer, frozenset({CLIENT}), cache.url), cache)

    def advance(seconds: float) -> None:
        clock.now += seconds

    return Verifier(verifier.verify, TokenError, advance, WINDOW)


def local_gateway(pool: Pool) -> Verifier:
    clock = Clock()
    cache = GatewayJwksCache(clock)
    authorizer = JwtAuthorizer("a1", "UserPool", pool.issuer, (CLIENT,), "$request.header.Authorization", cache)

    def advance(seconds: float) -> None:
        clock.offset += seconds

    return Verifier(authorizer.verify, TokenRejected, advance, UNKNOWN_KID_REFETCH_SECONDS)


def machine_paths(pool: Pool) -> Verifier:
    client = jwt.PyJWKClient(f"{pool.issuer}/.well-known/jwks.json", cache_keys=True, lifespan=3600, timeout=TIMEOUT)
    verifier = MachineTokenVerifier(
        issuer=pool.issuer, jwks_url=client.uri, client_ids=(CLIENT,), required_scope=SCOPE, jwk_client=client
    )

    def advance(seconds: float) -> None:
        # PyJWKClient reads time.monotonic() itself: move its record of the last fetch back instead.
        if client._last_successful_fetch is not None:
            client._last_successful_fetch -= seconds

    return Verifier(
        lambda token: verifier.verify(f"Bearer {token}"), MachineAuthError, advance, client.cooldown_duration
    )


BEARER_VERIFIERS = {
    "tenant Lambda authorizer": lambda_authorizer,
    "local gateway JWT authorizer": local_gateway,
    "web app machine paths": machine_paths,
}


@pytest.fixture(params=list(BEARER_VERIFIERS))
def bearer(request, pool: Pool, monkeypatch) -> Verifier:
    # The local gateway's fetch timeout is API Gateway's 1.5 s; shortened here like the others'.
    monkeypatch.setattr(local_jwt_authorizer, "JWKS_TIMEOUT_SECONDS", TIMEOUT)
    return BEARER_VERIFIERS[request.param](pool)


def refused_within(verifier: Verifier, token: str, seconds: float) -> None:
    started = time.monotonic()
    with pytest.raises(verifier.rejection):
        verifier.verify(token)
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"refusal took {elapsed:.2f} s"


# --------------------------------------------------------------------------- JWKS (bearer tokens)


def test_keys_are_fetched_once_and_cached(bearer: Verifier, pool: Pool) -> None:
    for _ in range(10):
        bearer.verify(pool.token())
    assert pool.fetches() == 1


def test_a_flood_of_unknown_kids_refetches_at_most_once_per_window(bearer: Verifier, pool: Pool) -> None:
    bearer.verify(pool.token())
    stranger = attacks.RsaKey("stranger")
    bearer.advance(bearer.window + 1)
    for index in range(FLOOD):
        with pytest.raises(bearer.rejection):
            bearer.verify(pool.token(stranger, kid=f"made-up-{index}"))
    assert pool.fetches() <= 2, "one fetch to warm up, at most one refetch in the window"
    bearer.advance(bearer.window + 1)
    for index in range(FLOOD):
        with pytest.raises(bearer.rejection):
            bearer.verify(pool.token(stranger, kid=f"made-up-again-{index}"))
    assert pool.fetches() <= 3
    assert bearer.verify(pool.token())  # the genuine key still works


def test_a_rotated_key_is_picked_up(bearer: Verifier, pool: Pool) -> None:
    bearer.verify(pool.token())
    rotated = attacks.RsaKey("key-2")
    pool.keys.append(rotated)
    pool.publish()
    bearer.advance(bearer.window + 1)
    assert bearer.verify(pool.token(rotated))
    assert bearer.verify(pool.token())


def test_cached_keys_keep_working_while_the_endpoint_is_down(bearer: Verifier, pool: Pool) -> None:
    bearer.verify(pool.token())
    pool.server.down()
    bearer.advance(bearer.window + 1)
    # An unknown kid makes the cache try the dead endpoint; the keys it knows must survive that.
    refused_within(bearer, pool.token(attacks.RsaKey("stranger")), TIMEOUT + 2)
    for _ in range(3):
        assert bearer.verify(pool.token())


def test_cached_keys_keep_working_while_the_endpoint_is_slow(bearer: Verifier, pool: Pool) -> None:
    bearer.verify(pool.token())
    pool.server.delay = SLOW
    bearer.advance(bearer.window + 1)
    started = time.monotonic()
    assert bearer.verify(pool.token())
    assert time.monotonic() - started < 0.5, "a cached key must not wait for the endpoint"
    refused_within(bearer, pool.token(attacks.RsaKey("stranger")), 2 * TIMEOUT + 1)


def test_an_uncached_key_with_the_endpoint_down_is_refused_within_the_timeout(bearer: Verifier, pool: Pool) -> None:
    pool.server.down()
    refused_within(bearer, pool.token(), 2 * TIMEOUT + 1)


def test_an_uncached_key_with_a_slow_endpoint_is_refused_within_the_timeout(bearer: Verifier, pool: Pool) -> None:
    pool.server.delay = SLOW
    refused_within(bearer, pool.token(), 2 * TIMEOUT + 1)  # the local gateway makes two fetches


# --------------------------------------------------------------------------- ALB public keys


@dataclass
class Alb:
    server: attacks.CountingServer
    realm: attacks.AlbRealm
    verifier: AlbTokenVerifier
    clock: FakeMonotonic

    def token(self, **header: Any) -> str:
        return self.realm.signed(header=self.realm.header(**header))

    def fetches(self) -> int:
        return self.server.count("/")


@pytest.fixture
def alb() -> Iterator[Alb]:
    server = attacks.CountingServer()
    key = ec.generate_private_key(ec.SECP256R1())
    realm = attacks.AlbRealm(
        alb_arn=TEST_ALB_ARN,
        issuer="https://issuer.example",
        client_id="alb-client",
        kid=str(uuid.uuid4()),
        key=key,
        other_alb_arn="",
        other_alb_kid="",
        other_alb_key=key,
        attacker_ec=key,
        attacker_rsa=None,  # type: ignore[arg-type]
        attacker_url="",
    )
    server.serve_pem(f"/{realm.kid}", attacks.public_pem(key))
    clock = FakeMonotonic()
    keys = AlbPublicKeys(server.base_url, timeout=TIMEOUT, backoff=WINDOW, clock=clock)
    verifier = AlbTokenVerifier(alb_arn=TEST_ALB_ARN, issuer=realm.issuer, client_id=realm.client_id, keys=keys)
    yield Alb(server, realm, verifier, clock)
    server.down()


def alb_refused_within(alb: Alb, token: str, seconds: float) -> None:
    started = time.monotonic()
    with pytest.raises(AlbAuthError):
        alb.verifier.verify(token)
    assert time.monotonic() - started < seconds


def test_alb_keys_are_fetched_once_and_cached(alb: Alb) -> None:
    for _ in range(10):
        alb.verifier.verify(alb.token())
    assert alb.fetches() == 1


def test_a_flood_of_unknown_alb_kids_fetches_at_most_once_per_window(alb: Alb) -> None:
    alb.verifier.verify(alb.token())
    for _ in range(FLOOD):
        alb_refused_within(alb, alb.token(kid=str(uuid.uuid4())), TIMEOUT + 1)
    assert alb.fetches() <= 2, "every made-up kid cost a fetch"
    alb.clock.now += WINDOW + 1
    for _ in range(FLOOD):
        alb_refused_within(alb, alb.token(kid=str(uuid.uuid4())), TIMEOUT + 1)
    assert alb.fetches() <= 3
    assert alb.verifier.verify(alb.token())["sub"]


def test_a_new_alb_kid_is_picked_up(alb: Alb) -> None:
    alb.verifier.verify(alb.token())
    new_key = ec.generate_private_key(ec.SECP256R1())
    new_kid = str(uuid.uuid4())
    alb.server.serve_pem(f"/{new_kid}", attacks.public_pem(new_key))
    token = alb.realm.signed(header=alb.realm.header(kid=new_kid), key=new_key)
    assert alb.verifier.verify(token)["sub"]


def test_cached_alb_keys_keep_working_while_the_endpoint_is_down_or_slow(alb: Alb) -> None:
    alb.verifier.verify(alb.token())
    alb.server.delay = SLOW
    alb_refused_within(alb, alb.token(kid=str(uuid.uuid4())), TIMEOUT + 1)
    started = time.monotonic()
    assert alb.verifier.verify(alb.token())["sub"]
    assert time.monotonic() - started < 0.5
    alb.server.down()
    alb.clock.now += WINDOW + 1
    alb_refused_within(alb, alb.token(kid=str(uuid.uuid4())), TIMEOUT + 1)
    assert alb.verifier.verify(alb.token())["sub"]


def test_an_uncached_alb_key_with_the_endpoint_down_or_slow_is_refused_within_the_timeout(alb: Alb) -> None:
    alb.server.delay = SLOW
    alb_refused_within(alb, alb.token(), TIMEOUT + 1)
    alb.server.down()
    alb.clock.now += WINDOW + 1
    alb_refused_within(alb, alb.token(), TIMEOUT + 1)
