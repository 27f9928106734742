"""jwtcheck: the claim rules, the bounded fetch and the JWKS cache every verifier shares.

Specification: numeric dates are finite JSON numbers in range, never strings; the audience is
`aud` when present, `client_id` only when not (API Gateway's rule); scopes split on single
spaces only; a key fetch ends within one deadline however the answer is trickled; a failed fetch
backs off; a flood of unknown kids costs one fetch per window; a removed key stops being trusted
at the next refresh; weak, encryption and wrong-algorithm keys are never used.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from jwtcheck.fetch import FetchError, check_url, fetch, fetch_json
from jwtcheck.jwks import JwksCache, KeyUnavailable
from jwtcheck.rules import ClaimRuleError, check_audience, check_times, numeric_date, scope_list
from tests import attacks

NOW = 1_800_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- numeric dates


@pytest.mark.parametrize("value", [0, NOW, NOW + 0.5, 253_402_300_799])
def test_a_numeric_date_is_a_finite_json_number_in_range(value):
    assert numeric_date(value, "exp") == value


@pytest.mark.parametrize(
    "value",
    [
        math.inf,
        -math.inf,
        math.nan,
        json.loads("1e999"),  # valid JSON text, yet not a finite number
        -1,
        253_402_300_800,
        10**30,
        str(NOW),  # RFC 7519: a JSON number, not a string
        f"{NOW}.0",
        True,
        False,
        None,
        [NOW],
        {"n": NOW},
    ],
    ids=repr,
)
def test_anything_else_is_refused_as_a_numeric_date(value):
    with pytest.raises(ClaimRuleError):
        numeric_date(value, "exp")


def test_times_follow_api_gateway():
    check_times({"exp": NOW + 1, "nbf": NOW, "iat": NOW}, NOW)
    for claims in ({"exp": NOW}, {"exp": NOW + 60, "nbf": NOW + 1}, {"exp": NOW + 60, "iat": NOW + 1}, {}):
        with pytest.raises(ClaimRuleError):
            check_times(claims, NOW)
    with pytest.raises(ClaimRuleError):
        check_times({"exp": NOW + 60}, NOW, required=("exp", "iat"))


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
def test_a_string_date_is_refused_even_when_it_would_pass(name):
    claims: dict[str, Any] = {"exp": NOW + 60, "nbf": NOW - 60, "iat": NOW - 60}
    claims[name] = str(claims[name])
    with pytest.raises(ClaimRuleError):
        check_times(claims, NOW)


# --------------------------------------------------------------------------- audience


def test_client_id_counts_only_when_aud_is_absent():
    assert check_audience({"client_id": "spa"}, {"spa"}) == "spa"
    assert check_audience({"aud": "spa", "client_id": "other"}, {"spa"}) == "spa"
    assert check_audience({"aud": ["other", "spa"]}, {"spa"}) == "spa"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "other", "client_id": "spa"},  # aud present: client_id is not looked at
        {"aud": ["other"], "client_id": "spa"},
        {"aud": [], "client_id": "spa"},
        {"aud": None, "client_id": "spa"},
        {"aud": [["spa"]]},
        {"aud": {"spa": 1}},
        {"client_id": ["spa"]},
        {"client_id": "spax"},
        {},
    ],
    ids=repr,
)
def test_an_aud_or_client_id_outside_the_list_is_refused(claims):
    with pytest.raises(ClaimRuleError):
        check_audience(claims, {"spa"})


# --------------------------------------------------------------------------- scopes


def test_scopes_split_on_single_spaces_only():
    assert scope_list("openid rs/items.read") == ("openid", "rs/items.read")
    assert scope_list("a  b") == ("a", "b")


@pytest.mark.parametrize("separator", ["\t", "\n", "\r", "\x0b", "\x0c", "\u00a0", "\u2003", "\u3000"], ids=repr)
def test_other_whitespace_never_makes_extra_scopes(separator):
    scopes = scope_list(f"openid{separator}rs/admin")
    assert "rs/admin" not in scopes and "openid" not in scopes


@pytest.mark.parametrize("value", [None, 7, ["rs/admin"], {"rs/admin": True}, "", 'rs/a"b', "rs/a\\b"], ids=repr)
def test_a_scope_claim_that_is_not_a_string_of_scope_tokens_grants_nothing(value):
    assert "rs/admin" not in scope_list(value)


# --------------------------------------------------------------------------- the bounded fetch


@pytest.fixture
def server() -> Iterator[attacks.CountingServer]:
    server = attacks.CountingServer()
    yield server
    server.down()


def test_a_trickled_answer_is_cut_at_the_deadline(server):
    # Each byte arrives well within any per-read timeout; the whole answer would take ~40 s.
    server.serve_json("/jwks.json", {"keys": [{"kty": "RSA", "n": "x" * 200}]})
    server.trickle = 0.15
    started = time.monotonic()
    with pytest.raises(FetchError):
        fetch(f"{server.base_url}/jwks.json", deadline=0.5, max_bytes=65536)
    assert time.monotonic() - started < 0.8


def test_a_late_answer_is_cut_at_the_deadline(server):
    server.serve_json("/jwks.json", {"keys": []})
    server.delay = 3
    started = time.monotonic()
    with pytest.raises(FetchError):
        fetch_json(f"{server.base_url}/jwks.json", 0.4)
    assert time.monotonic() - started < 0.7


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, b"<html>not json</html>"), (200, b"\xff\xfe"), (200, b"[" * 100_000), (500, b"{}"), (302, b"{}")],
    ids=["html", "not utf-8", "deep nesting", "500", "redirect"],
)
def test_anything_but_a_json_200_is_a_fetch_error(server, status, body):
    server.serve_raw("/jwks.json", body, status)
    with pytest.raises(FetchError):
        fetch_json(f"{server.base_url}/jwks.json", 1.0, max_bytes=200_000)


def test_an_answer_over_the_size_limit_is_a_fetch_error(server):
    server.serve_raw("/jwks.json", b" " * 70_000 + b"{}")
    with pytest.raises(FetchError):
        fetch_json(f"{server.base_url}/jwks.json", 1.0)


@pytest.mark.e2e  # opens a socket (to a closed loopback port): not for the unit tier
def test_an_unreachable_endpoint_is_a_fetch_error():
    with pytest.raises(FetchError):
        fetch_json("http://127.0.0.1:9/jwks.json", 0.5)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/jwks.json",
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "https://",
        "http://10.0.0.1/jwks.json",
        "http://127.0.0.1.example.com/jwks.json",
        "http://[::1/jwks.json",
        None,
    ],
)
def test_key_urls_must_be_https_or_loopback(url):
    with pytest.raises(ValueError):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://cognito-idp.eu-west-1.amazonaws.com/p/.well-known/jwks.json",
        "http://127.0.0.2:8788/p",
        "http://[::1]:1/p",
        "http://localhost/p",
    ],
)
def test_https_and_every_loopback_address_are_key_urls(url):
    assert check_url(url) == url


# --------------------------------------------------------------------------- the JWKS cache


class Documents:
    """A fake key endpoint: answers with `document` (or raises `failure`), counting calls."""

    def __init__(self, *keys: attacks.RsaKey) -> None:
        self.document: Any = {"keys": [key.jwk() for key in keys]}
        self.failure: Exception | None = None
        self.calls = 0

    def __call__(self, url: str, seconds: float) -> Any:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return self.document


@pytest.fixture(scope="module")
def key1() -> attacks.RsaKey:
    return attacks.RsaKey("k1")


@pytest.fixture(scope="module")
def key2() -> attacks.RsaKey:
    return attacks.RsaKey("k2")


def cache_for(documents: Documents, clock: FakeClock, **options: Any) -> JwksCache:
    return JwksCache("https://issuer.example/.well-known/jwks.json", fetch=documents, clock=clock, **options)


def test_keys_are_fetched_once_and_served_from_the_cache(key1):
    documents, clock = Documents(key1), FakeClock()
    cache = cache_for(documents, clock)
    for _ in range(5):
        cache.key("k1", "RS256")
    assert documents.calls == 1


def test_a_flood_of_unknown_kids_costs_one_fetch_per_penalty_window(key1):
    documents, clock = Documents(key1), FakeClock()
    cache = cache_for(documents, clock, penalty=10)
    cache.key("k1", "RS256")
    for index in range(100):
        with pytest.raises(KeyUnavailable):
            cache.key(f"made-up-{index}", "RS256")
        clock.now += 0.05  # 100 kids over 5 s
    assert documents.calls == 2, "the first unknown kid refetched; the others fell in its window"
    clock.now += 11
    for index in range(100):
        with pytest.raises(KeyUnavailable):
            cache.key(f"again-{index}", "RS256")
    assert documents.calls == 3


def test_a_rotated_key_is_fetched_at_its_first_use_then_the_window_applies(key1, key2):
    documents, clock = Documents(key1), FakeClock()
    cache = cache_for(documents, clock, penalty=10)
    cache.key("k1", "RS256")
    documents.document = {"keys": [key1.jwk(), key2.jwk()]}
    assert cache.key("k2", "RS256") is not None
    assert documents.calls == 2
    key3 = attacks.RsaKey("k3")
    documents.document = {"keys": [key1.jwk(), key2.jwk(), key3.jwk()]}
    with pytest.raises(KeyUnavailable):
        cache.key("k3", "RS256")  # within the window of k2's refetch
    clock.now += 11
    assert cache.key("k3", "RS256") is not None


def test_a_removed_key_stops_being_trusted_at_the_next_refresh(key1, key2):
    documents, clock = Documents(key1, key2), FakeClock()
    cache = cache_for(documents, clock, max_age=300)
    cache.key("k2", "RS256")
    documents.document = {"keys": [key1.jwk()]}  # k2 withdrawn
    clock.now += 299
    assert cache.key("k2", "RS256") is not None  # still within max_age
    clock.now += 2
    with pytest.raises(KeyUnavailable):
        cache.key("k2", "RS256")
    assert cache.key("k1", "RS256") is not None


def test_during_an_outage_the_last_good_keys_serve_until_max_stale(key1):
    documents, clock = Documents(key1), FakeClock()
    cache = cache_for(documents, clock, max_age=300, max_stale=3600)
    cache.key("k1", "RS256")
    documents.failure = FetchError("down")
    clock.now += 301
    assert cache.key("k1", "RS256") is not None
    clock.now += 3300
    with pytest.raises(KeyUnavailable):
        cache.key("k1", "RS256")


def test_failures_back_off_doubling_up_to_the_cap(key1):
    documents, clock = Documents(key1), FakeClock()
    documents.failure = FetchError("down")
    cache = cache_for(documents, clock, backoff=2, max_backoff=8)
    attempts_at: list[float] = []
    for _ in range(400):  # 40 s of requests, ten a second
        before = documents.calls
        with pytest.raises(KeyUnavailable):
            cache.key("k1", "RS256")
        if documents.calls > before:
            attempts_at.append(clock.now - 1000)
        clock.now += 0.1
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(attempts_at)]
    assert gaps[:4] == [2.0, 4.0, 8.0, 8.0]
    documents.failure = None
    clock.now += 8
    assert cache.key("k1", "RS256") is not None


@pytest.mark.parametrize(
    "document",
    [
        "not a key set",
        ["a", "list"],
        {"keys": "none"},
        {"keys": []},
        {"no": "keys"},
        {"keys": [{"kty": "RSA", "kid": "k1", "n": 5, "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "kid": "k1", "n": "!!", "e": "AQAB"}]},
        {"keys": [None, 1, "k"]},
    ],
    ids=repr,
)
def test_a_malformed_key_set_is_a_clean_refusal_and_a_back_off(document):
    documents, clock = Documents(), FakeClock()
    documents.document = document
    cache = cache_for(documents, clock)
    for _ in range(10):
        with pytest.raises(KeyUnavailable):
            cache.key("k1", "RS256")
    assert documents.calls == 1


def test_a_fetch_that_raises_anything_is_a_clean_refusal():
    documents, clock = Documents(), FakeClock()
    documents.failure = RecursionError("deep")
    with pytest.raises(KeyUnavailable):
        cache_for(documents, clock).key("k1", "RS256")


def test_weak_encryption_and_wrong_algorithm_keys_are_never_used(key1):
    weak = attacks.weak_rsa_key("weak")
    documents, clock = Documents(), FakeClock()
    documents.document = {
        "keys": [
            key1.jwk(),
            weak.jwk(),
            {**key1.jwk(), "kid": "enc", "use": "enc"},
            {**key1.jwk(), "kid": "rs512", "alg": "RS512"},
            {**key1.jwk(), "kid": "hs256", "alg": "HS256"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {**key1.jwk(), "kid": "twice"},
            {**key1.jwk(), "kid": "twice"},
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key1.private_key)), "kid": "private"},
        ]
    }
    cache = cache_for(documents, clock)
    assert cache.key("k1", "RS256") is not None
    for kid in ("weak", "enc", "rs512", "hs256", "hmac", "ec", "twice", "private"):
        with pytest.raises(KeyUnavailable):
            cache.key(kid, "RS256")


def test_a_key_is_used_only_for_its_own_algorithm(key1):
    documents, clock = Documents(), FakeClock()
    no_alg = {name: value for name, value in key1.jwk().items() if name != "alg"}
    documents.document = {"keys": [{**key1.jwk(), "kid": "rs256"}, {**no_alg, "kid": "any"}]}
    cache = cache_for(documents, clock, algorithms=("RS256", "RS384"))
    assert cache.key("rs256", "RS256") is not None
    with pytest.raises(KeyUnavailable):
        cache.key("rs256", "RS384")  # the key says RS256
    assert cache.key("any", "RS384") is not None  # no alg: any of the verifier's algorithms
    with pytest.raises(KeyUnavailable):
        cache.key("any", "RS512")  # not one of the verifier's


@pytest.mark.parametrize("kid", [None, 7, "", "k" * 129, ["k1"]], ids=repr)
def test_a_malformed_kid_never_costs_a_fetch(kid):
    documents, clock = Documents(), FakeClock()
    with pytest.raises(KeyUnavailable):
        cache_for(documents, clock).key(kid, "RS256")
    assert documents.calls == 0


def test_concurrent_callers_share_one_fetch(key1):
    calls = {"n": 0}

    def slow(url: str, seconds: float) -> Any:
        calls["n"] += 1
        time.sleep(0.3)
        return {"keys": [key1.jwk()]}

    cache = JwksCache("https://issuer.example/jwks", fetch=slow)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(cache.key("k1", "RS256"))) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20 and calls["n"] == 1


def test_a_trickled_key_set_is_refused_within_one_deadline(server, key1):
    server.serve_json("/jwks.json", {"keys": [key1.jwk()]})
    server.trickle = 0.05  # the ~700-byte answer would take over 30 s
    cache = JwksCache(f"{server.base_url}/jwks.json", deadline=0.5)
    started = time.monotonic()
    for _ in range(20):
        with pytest.raises(KeyUnavailable):
            cache.key("k1", "RS256")
    assert time.monotonic() - started < 1.0, "one deadline in all, then the back-off refuses at once"
    assert server.count("/jwks.json") == 1


def test_discovery_then_key_set_share_one_deadline(server, key1):
    issuer = attacks.serve_issuer(server, "pool", [key1])
    cache = JwksCache(f"{issuer}/.well-known/openid-configuration", discovery=True, deadline=0.5)
    assert cache.key("k1", "RS256") is not None
    server.delay = 0.3  # each answer alone is in time, both together are not
    fresh = JwksCache(f"{issuer}/.well-known/openid-configuration", discovery=True, deadline=0.5)
    started = time.monotonic()
    with pytest.raises(KeyUnavailable):
        fresh.key("k1", "RS256")
    assert time.monotonic() - started < 0.8
