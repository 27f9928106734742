"""The revocation check (lambdas/shared/revocation.py, RevocationChecker) and where it runs.

Specification: a token is refused when its sign-in session is revoked or it was issued before a
not-before of its user, tenant or (machine tokens) client; one BatchGetItem per check; answers
are cached per instance for at most ITEM_CACHE_SECONDS, a revoked token until it expires, in
bounded LRU caches; when the store does not answer the check fails closed. Every API function
runs it before any route (401 revoked, 503 store unavailable, generic bodies), and the Lambda
authorizer denies a revoked token.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import boto3
import pytest
from items_write import handler as write_handler
from me import handler as me_handler
from tenant_summary import handler as summary_handler

import auth_contract
from shared import revocation
from tests.api_events import (
    REGION,
    REVOCATION_TABLE_NAME,
    LambdaContext,
    User,
    access_claims,
    http_event,
    jwt_authorizer,
    lambda_authorizer,
    machine_claims,
    mocked_items_table,
    response_json,
    table_contents,
)

NOW = 1_800_000_000
EDITOR = User("erin", "acme", (auth_contract.EDITOR,))


class Clock:
    """Monotonic and wall clocks the test moves by hand."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = float(NOW)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


class SpyClient:
    """A DynamoDB client that records every BatchGetItem and passes it on."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        return self.client.batch_get_item(**kwargs)


@pytest.fixture
def store(monkeypatch):
    """An empty revocation table (moto), its writer, and a checker on a clock the test moves."""
    for table in mocked_items_table(monkeypatch):
        clock = Clock()
        spy = SpyClient(boto3.client("dynamodb", region_name=REGION))
        checker = revocation.RevocationChecker(
            spy, REVOCATION_TABLE_NAME, monotonic=lambda clock=clock: clock.mono, now=lambda clock=clock: clock.wall
        )
        revocations = boto3.resource("dynamodb", region_name=REGION).Table(REVOCATION_TABLE_NAME)
        yield {
            "table": table,
            "revocations": revocations,
            "writer": revocation.revocation_store(),
            "checker": checker,
            "clock": clock,
            "spy": spy,
        }


def user_token(**overrides: Any) -> revocation.TokenRef:
    fields = {
        "sub": "sub-1",
        "issued_at": NOW - 60,
        "expires_at": NOW + 840,
        "origin_jti": "jti-1",
        "tenant": "acme",
        "client_id": "spa",
        "machine": False,
    }
    return revocation.TokenRef(**{**fields, **overrides})


def machine_token(**overrides: Any) -> revocation.TokenRef:
    fields = {"sub": "m2m", "issued_at": NOW - 60, "expires_at": NOW + 3540, "client_id": "m2m", "machine": True}
    return revocation.TokenRef(**{**fields, **overrides})


# --------------------------------------------------------------------------- what refuses a token


def test_an_unrevoked_token_passes_with_one_batch_read_of_its_keys(store):
    store["checker"].check(user_token())
    (request,) = store["spy"].requests
    read = request["RequestItems"][REVOCATION_TABLE_NAME]
    assert [key[auth_contract.TABLE_PARTITION_KEY]["S"] for key in read["Keys"]] == [
        "JTI#jti-1",
        "USER#sub-1",
        "TENANT#acme",
    ]
    assert read["ConsistentRead"] is True


def test_machine_tokens_are_checked_by_client_and_tenant_not_by_user(store):
    store["checker"].check(machine_token(tenant="acme"))
    keys = [
        k[auth_contract.TABLE_PARTITION_KEY]["S"]
        for k in store["spy"].requests[0]["RequestItems"][REVOCATION_TABLE_NAME]["Keys"]
    ]
    assert keys == ["CLIENT#m2m", "TENANT#acme"]


def test_a_revoked_session_refuses_every_token_of_it_whenever_issued(store):
    store["writer"].revoke_session("jti-1", "logout", now=NOW - 3600)
    with pytest.raises(revocation.Revoked):
        store["checker"].check(user_token(issued_at=NOW))
    store["checker"].check(user_token(origin_jti="jti-2"))  # another session of the same user


@pytest.mark.parametrize(
    ("write", "token"),
    [
        (lambda w, at: w.revoke_user("sub-1", "global sign-out", now=at), user_token),
        (lambda w, at: w.revoke_tenant("acme", "suspended", now=at), user_token),
        (lambda w, at: w.revoke_client("m2m", "rotated", now=at), machine_token),
        (lambda w, at: w.revoke_tenant("acme", "suspended", now=at), lambda **kw: machine_token(tenant="acme", **kw)),
    ],
    ids=["user", "tenant", "client", "tenant-of-machine"],
)
def test_a_not_before_refuses_tokens_issued_before_it_and_not_after(store, write, token):
    write(store["writer"], NOW)
    with pytest.raises(revocation.Revoked):
        store["checker"].check(token(issued_at=NOW - 1))
    store["checker"].check(token(issued_at=NOW))
    store["checker"].check(token(issued_at=NOW + 5))


def test_a_client_not_before_does_not_touch_user_tokens_of_that_client(store):
    store["writer"].revoke_client("spa", "rotated", now=NOW)
    store["checker"].check(user_token(client_id="spa"))


def test_another_users_or_tenants_not_before_refuses_nothing(store):
    store["writer"].revoke_user("sub-2", "removed", now=NOW)
    store["writer"].revoke_tenant("globex", "suspended", now=NOW)
    store["checker"].check(user_token())


def test_a_user_token_without_a_session_is_refused(store):
    with pytest.raises(revocation.Revoked):
        store["checker"].check(user_token(origin_jti=None))
    assert store["spy"].requests == []


# --------------------------------------------------------------------------- the cache and the 5 s bound


def test_a_revocation_is_seen_once_the_cached_answer_is_older_than_the_cache_ttl(store):
    checker, clock = store["checker"], store["clock"]
    checker.check(user_token())
    store["writer"].revoke_session("jti-1", "logout", now=clock.wall)
    clock.advance(revocation.ITEM_CACHE_SECONDS - 0.1)
    checker.check(user_token())  # still the cached "not revoked"
    assert len(store["spy"].requests) == 1
    clock.advance(0.1)
    with pytest.raises(revocation.Revoked):
        checker.check(user_token())
    assert len(store["spy"].requests) == 2


def test_a_revoked_token_is_remembered_until_it_expires_without_reading_again(store):
    checker, clock = store["checker"], store["clock"]
    store["writer"].revoke_session("jti-1", "logout", now=clock.wall)
    with pytest.raises(revocation.Revoked):
        checker.check(user_token())
    store["revocations"].delete_item(Key={auth_contract.TABLE_PARTITION_KEY: "JTI#jti-1"})
    clock.advance(600)
    with pytest.raises(revocation.Revoked):
        checker.check(user_token())
    assert len(store["spy"].requests) == 1


def test_keys_shared_by_tokens_are_read_once_per_ttl(store):
    checker = store["checker"]
    checker.check(user_token(origin_jti="a"))
    checker.check(user_token(origin_jti="b"))
    second = store["spy"].requests[1]["RequestItems"][REVOCATION_TABLE_NAME]["Keys"]
    assert [k[auth_contract.TABLE_PARTITION_KEY]["S"] for k in second] == ["JTI#b"]


def test_the_caches_are_bounded_least_recently_used_first(store):
    checker = revocation.RevocationChecker(
        store["spy"], REVOCATION_TABLE_NAME, max_cached_keys=4, max_cached_revoked=2,
        monotonic=lambda: store["clock"].mono, now=lambda: store["clock"].wall,
    )  # fmt: skip
    for index in range(10):
        checker.check(user_token(origin_jti=f"j{index}", sub="same", tenant=None))
    assert len(checker._items) == 4
    for index in range(5):
        store["writer"].revoke_session(f"r{index}", "logout", now=NOW)
        with pytest.raises(revocation.Revoked):
            checker.check(user_token(origin_jti=f"r{index}"))
    assert len(checker._revoked) == 2


# --------------------------------------------------------------------------- fail closed


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_store_fails_closed_within_the_request_budget(store):
    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        config=revocation.CLIENT_CONFIG,
    )
    checker = revocation.RevocationChecker(client, REVOCATION_TABLE_NAME)
    started = time.monotonic()
    with pytest.raises(revocation.StoreUnavailable):
        checker.check(user_token())
    assert time.monotonic() - started < 5


def test_a_missing_table_fails_closed(store):
    checker = revocation.RevocationChecker(boto3.client("dynamodb", region_name=REGION), "no-such-table")
    with pytest.raises(revocation.StoreUnavailable):
        checker.check(user_token())


def test_unprocessed_keys_fail_closed(store):
    class Throttled:
        def batch_get_item(self, **kwargs):
            return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}

    with pytest.raises(revocation.StoreUnavailable):
        revocation.RevocationChecker(Throttled(), REVOCATION_TABLE_NAME).check(user_token())


def test_an_item_without_a_usable_not_before_fails_closed(store):
    store["revocations"].put_item(Item={auth_contract.TABLE_PARTITION_KEY: "USER#sub-1", "reason": "hand-written"})
    with pytest.raises(revocation.StoreUnavailable):
        store["checker"].check(user_token())


def test_without_the_table_setting_nothing_passes(monkeypatch):
    monkeypatch.delenv(revocation.TABLE_ENV, raising=False)
    revocation.revocation_checker.cache_clear()
    with pytest.raises(revocation.StoreUnavailable):
        revocation.revocation_checker()


# --------------------------------------------------------------------------- every API function


def call_me(claims: dict[str, str]) -> dict[str, Any]:
    return me_handler.lambda_handler(
        http_event("GET", "/me", "/me", authorizer=jwt_authorizer(claims)), LambdaContext()
    )


def test_handlers_refuse_a_revoked_token_with_a_generic_401(store):
    claims = access_claims(EDITOR)
    assert call_me(claims)["statusCode"] == 200
    store["writer"].revoke_session(claims["origin_jti"], "logout")
    revocation.revocation_checker.cache_clear()  # a new instance; the cache bound is tested above
    response = call_me(claims)
    assert response["statusCode"] == 401
    assert response_json(response) == {"message": "Unauthorized"}


def test_a_revoked_token_changes_nothing(store):
    claims = access_claims(EDITOR)
    store["writer"].revoke_user(EDITOR.sub, "removed", now=time.time() + 1)
    event = http_event("POST", "/items", "/items", authorizer=jwt_authorizer(claims), body={"name": "x"})
    assert write_handler.lambda_handler(event, LambdaContext())["statusCode"] == 401
    assert table_contents(store["table"]) == []


def test_handlers_behind_the_lambda_authorizer_check_too(store):
    """API Gateway may serve a cached allow given before the revocation: the handler refuses."""
    now = int(time.time())
    context = {
        "tenant": "acme",
        "roles": "viewer",
        "scopes": "",
        "sub": EDITOR.sub,
        "client_id": "spa",
        "username": "erin",
        "token_use": "access",
        "origin_jti": "jti-summary",
        "iat": now - 10,
        "exp": now + 600,
    }
    store["writer"].revoke_session("jti-summary", "logout")
    event = http_event(
        "GET",
        "/tenants/{tenantId}/summary",
        "/tenants/acme/summary",
        authorizer=lambda_authorizer(context),
        path_parameters={"tenantId": "acme"},
    )
    response = summary_handler.lambda_handler(event, LambdaContext())
    assert (response["statusCode"], response_json(response)) == (401, {"message": "Unauthorized"})


def test_handlers_fail_closed_with_a_generic_503_and_a_countable_log_line(store, monkeypatch, caplog):
    monkeypatch.setenv(revocation.TABLE_ENV, "no-such-table")
    revocation.revocation_checker.cache_clear()
    response = call_me(access_claims(EDITOR))
    assert (response["statusCode"], response_json(response)) == (503, {"message": "Service unavailable"})
    flagged = [
        record
        for record in caplog.records
        if getattr(record, revocation.UNAVAILABLE_LOG_FIELD, None) == revocation.UNAVAILABLE_LOG_VALUE
    ]
    assert flagged and all(record.levelname == "ERROR" for record in flagged)


def test_a_machine_token_is_checked_by_its_client(store):
    from tenant_events import handler as events_handler

    claims = machine_claims()
    store["writer"].revoke_client(claims["client_id"], "rotated", now=time.time() + 1)
    event = http_event(
        "POST",
        "/tenants/{tenantId}/events",
        "/tenants/acme/events",
        authorizer=jwt_authorizer(claims),
        path_parameters={"tenantId": "acme"},
        body={"type": "invoice.paid"},
    )
    assert events_handler.lambda_handler(event, LambdaContext())["statusCode"] == 401
    assert table_contents(store["table"]) == []


def test_public_routes_need_no_store(store, monkeypatch):
    monkeypatch.setenv(revocation.TABLE_ENV, "no-such-table")
    revocation.revocation_checker.cache_clear()
    response = me_handler.lambda_handler(http_event("GET", "/health", "/health"), LambdaContext())
    assert response["statusCode"] == 200


def test_refusal_logs_never_carry_the_session_or_the_subject(store, caplog):
    claims = access_claims(EDITOR)
    store["writer"].revoke_session(claims["origin_jti"], "logout")
    revocation.revocation_checker.cache_clear()
    assert call_me(claims)["statusCode"] == 401
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "token revoked" in logged
    assert claims["origin_jti"] not in logged and claims["sub"] not in logged
