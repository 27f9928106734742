"""Key endpoints under faults: every verifier's key cache against a counting server on 127.0.0.1.

Four enforcement points fetch keys over HTTP: the tenant Lambda authorizer, the local gateway's
JWT authorizer (discovery document, then JWKS) and the web app's machine-token paths share one
JWKS cache (jwtcheck/jwks.py); the web app's ALB key cache fetches a PEM per kid. For each: keys
are cached; a flood of unknown-kid tokens costs at most one fetch per window; with the endpoint
down, slow, trickling its answer or answering garbage, cached keys keep working, an uncached key
is a refusal within one fetch deadline, and repeated requests back off instead of refetching;
a rotated key (new kid) is picked up, a removed one stops being trusted.
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
from tenant_authorizer.verifier import AccessTokenVerifier, TokenError, VerifierSettings

import local.jwt_authorizer as local_jwt_authorizer
from jwtcheck.jwks import MAX_AGE_SECONDS, JwksCache
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
TRICKLE = 0.1  # seconds between the bytes of a trickled answer: each read is quick, the answer takes minutes


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
    fetches_per_refresh: int = 1  # the local gateway reads the discovery document first


def lambda_authorizer(pool: Pool) -> Verifier:
    clock = FakeMonotonic()
    cache = JwksCache(f"{pool.issuer}/.well-known/jwks.json", penalty=WINDOW, deadline=TIMEOUT, clock=clock)
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

    return Verifier(authorizer.verify, TokenRejected, advance, UNKNOWN_KID_REFETCH_SECONDS, fetches_per_refresh=2)


def machine_paths(pool: Pool) -> Verifier:
    clock = FakeMonotonic()
    cache = JwksCache(f"{pool.issuer}/.well-known/jwks.json", penalty=WINDOW, deadline=TIMEOUT, clock=clock)
    verifier = MachineTokenVerifier(
        issuer=pool.issuer, jwks_url=cache.url, client_ids=(CLIENT,), required_scope=SCOPE, jwks=cache
    )

    def advance(seconds: float) -> None:
        clock.now += seconds

    return Verifier(lambda token: verifier.verify(f"Bearer {token}"), MachineAuthError, advance, WINDOW)


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
    refused_within(bearer, pool.token(), TIMEOUT + 0.3)  # one deadline for the whole refresh


def test_a_trickled_key_set_is_refused_within_one_deadline(bearer: Verifier, pool: Pool) -> None:
    # Every byte comes well within any per-read timeout; the whole answer would take minutes.
    pool.server.trickle = TRICKLE
    refused_within(bearer, pool.token(), TIMEOUT + 0.3)


def test_a_trickled_refresh_leaves_cached_keys_working(bearer: Verifier, pool: Pool) -> None:
    bearer.verify(pool.token())
    pool.server.trickle = TRICKLE
    bearer.advance(MAX_AGE_SECONDS + 1)  # the keys are due for a refresh
    started = time.monotonic()
    assert bearer.verify(pool.token())  # the refresh fails within the deadline; the old keys serve
    assert time.monotonic() - started < TIMEOUT + 0.3
    started = time.monotonic()
    for _ in range(20):
        assert bearer.verify(pool.token())
    assert time.monotonic() - started < 0.5, "after a failed refresh, requests do not wait for the endpoint"


@pytest.mark.parametrize(
    "answer",
    [b"<html>Service Unavailable</html>", b"\xff\xfe\x00", b'{"keys": "none"}', b"[1, 2]", b"{" * 50_000, b""],
    ids=["html", "binary", "keys not a list", "a JSON list", "deep nesting", "empty"],
)
def test_a_garbage_answer_is_a_clean_refusal(bearer: Verifier, pool: Pool, answer: bytes) -> None:
    pool.server.serve_raw(pool.jwks_path, answer)
    for _ in range(FLOOD):
        refused_within(bearer, pool.token(), TIMEOUT + 0.3)
    assert pool.fetches() == 1, "a garbage answer is a failed fetch: the next ones back off"


@pytest.mark.parametrize("fault", ["down", "slow", "trickle", "500"])
def test_an_outage_backs_off_instead_of_fetching_per_request(bearer: Verifier, pool: Pool, fault: str) -> None:
    if fault == "down":
        pool.server.down()
    elif fault == "slow":
        pool.server.delay = SLOW
    elif fault == "trickle":
        pool.server.trickle = TRICKLE
    else:
        pool.server.serve_raw(pool.jwks_path, b"{}", status=500)
    started = time.monotonic()
    for _ in range(FLOOD):  # 50 requests in the first 5 s of the outage
        with pytest.raises(bearer.rejection):
            bearer.verify(pool.token())
        bearer.advance(0.1)
    elapsed = time.monotonic() - started
    attempts = pool.server.count(f"/{POOL}/") // bearer.fetches_per_refresh if fault != "down" else None
    if attempts is not None:
        assert attempts <= 3, f"{attempts} fetches for {FLOOD} requests: back-off of 2 s, then 4 s"
    assert elapsed < 3 * (TIMEOUT + 0.3), f"{elapsed:.1f} s: every attempt waited, not just the fetches"


def test_a_removed_key_stops_being_trusted_after_the_refresh_interval(bearer: Verifier, pool: Pool) -> None:
    retired = attacks.RsaKey("key-old")
    pool.keys.append(retired)
    pool.publish()
    assert bearer.verify(pool.token(retired))
    pool.keys.remove(retired)
    pool.publish()
    bearer.advance(MAX_AGE_SECONDS - 1)
    assert bearer.verify(pool.token(retired))  # not refreshed yet: still within the documented time
    bearer.advance(2)
    with pytest.raises(bearer.rejection):
        bearer.verify(pool.token(retired))
    assert bearer.verify(pool.token())


def test_a_flood_of_failing_kids_during_an_outage_costs_no_extra_fetch(bearer: Verifier, pool: Pool) -> None:
    bearer.verify(pool.token())
    pool.server.serve_raw(pool.jwks_path, b"{}", status=503)
    stranger = attacks.RsaKey("stranger")  # one signing key: what differs per request is the unknown kid
    for index in range(FLOOD):
        refused_within(bearer, pool.token(stranger, kid=f"made-up-{index}"), TIMEOUT + 0.3)
    assert pool.fetches() <= 2
    assert bearer.verify(pool.token())


# Signing the attacker's token with the 1024-bit key makes PyJWT warn: that weakness is the point.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_weak_or_misfit_key_in_the_key_set_is_never_used(bearer: Verifier, pool: Pool) -> None:
    weak = attacks.weak_rsa_key("weak")
    encryption = attacks.RsaKey("enc")
    hs = attacks.RsaKey("hs")
    pool.server.serve_json(
        pool.jwks_path,
        {
            "keys": [
                pool.keys[0].jwk(),
                weak.jwk(),
                {**encryption.jwk(), "use": "enc"},
                {**hs.jwk(), "alg": "HS256"},
            ]
        },
    )
    assert bearer.verify(pool.token())
    for key in (weak, encryption, hs):
        with pytest.raises(bearer.rejection):
            bearer.verify(pool.token(key))


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


def test_a_trickled_alb_key_is_refused_within_one_deadline(alb: Alb) -> None:
    alb.server.trickle = TRICKLE
    alb_refused_within(alb, alb.token(), TIMEOUT + 0.3)
    for _ in range(FLOOD):
        alb_refused_within(alb, alb.token(kid=str(uuid.uuid4())), 0.2)
    assert alb.fetches() == 1


@pytest.mark.parametrize(
    "answer", [b"<html>oops</html>", b"\xff\x00", b"{}", b""], ids=["html", "binary", "json", "empty"]
)
def test_a_garbage_alb_key_is_a_clean_refusal_and_backs_off(alb: Alb, answer: bytes) -> None:
    alb.server.serve_raw(f"/{alb.realm.kid}", answer, content_type="application/x-pem-file")
    for _ in range(FLOOD):
        alb_refused_within(alb, alb.token(), TIMEOUT + 0.3)
    assert alb.fetches() == 1


def test_an_uncached_alb_key_with_the_endpoint_down_or_slow_is_refused_within_the_timeout(alb: Alb) -> None:
    alb.server.delay = SLOW
    alb_refused_within(alb, alb.token(), TIMEOUT + 1)
    alb.server.down()
    alb.clock.now += WINDOW + 1
    alb_refused_within(alb, alb.token(), TIMEOUT + 1)
