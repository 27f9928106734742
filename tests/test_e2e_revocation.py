"""End to end on loopback: instant revocation, through the local gateway, issuer and real handlers.

Specification (issue 13, "Instant revocation"): after sign-out, global sign-out or a tenant
not-before, tokens issued before it are refused within 5 seconds on a JWT-authorizer route and
on the Lambda-authorizer route, although the gateway caches the Lambda authorizer's allow for
300 s; when the revocation store does not answer, requests are refused (fail closed) and the
refusal is logged for the alarm. Every wait is a poll bounded by the promise (5 s), never a sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import auth_contract
from local import testing
from local.stack import DUMMY_CREDENTIALS
from tests.synth import Synthesized

PROMISE_SECONDS = 5.0
POLL_SECONDS = 0.1
ME = ("GET", "/me")  # behind the JWT authorizer


def summary(tenant: str) -> tuple[str, str]:
    return ("GET", f"/tenants/{tenant}/summary")  # behind the tenant-path Lambda authorizer


@pytest.fixture(scope="session")
def stack(dev_env: Synthesized) -> Iterator[testing.RunningStack]:
    with testing.shared_stack(dev_env.assembly()) as running:
        yield running


def dynamodb(stack: testing.RunningStack) -> Any:
    return boto3.client(
        "dynamodb", endpoint_url=stack.summary["moto_url"], region_name=stack.summary["region"], **DUMMY_CREDENTIALS
    )


def revocation_table_name(stack: testing.RunningStack) -> str:
    (name,) = [name for name in dynamodb(stack).list_tables()["TableNames"] if "RevocationTable" in name]
    return name


def sign_in(stack: testing.RunningStack, tenant: str, role: str) -> dict[str, Any]:
    user = stack.user(tenant, role)
    return stack.sign_in(user["email"], user["password"])


def refused_within(stack: testing.RunningStack, route: tuple[str, str], token: str, statuses=(401,)) -> float:
    """Seconds until `route` refuses `token` with one of `statuses`; fails past the 5 s promise."""
    started = time.monotonic()
    while True:
        response = stack.call(*route, token=token)
        elapsed = time.monotonic() - started
        if response.status in statuses:
            assert response.json() in (
                {"message": "Unauthorized"},
                {"message": "Forbidden"},
                {"message": "Service unavailable"},
            )
            return elapsed
        assert response.status == 200, (route, response.status, response.raw)
        assert elapsed <= PROMISE_SECONDS, f"{route} still answered 200 after {elapsed:.1f} s"
        time.sleep(POLL_SECONDS)


def signed_in_again(stack: testing.RunningStack, tenant: str, role: str) -> dict[str, Any]:
    """A new sign-in that the API accepts after a global sign-out. A sign-in within the second of
    the sign-out is refused (its not-before rounds up to the next whole second), so this also
    leaves no such second behind for the tests that follow."""
    deadline = time.monotonic() + PROMISE_SECONDS
    while True:
        tokens = sign_in(stack, tenant, role)
        if stack.call(*ME, token=tokens["AccessToken"]).status == 200:
            return tokens
        assert time.monotonic() < deadline, "no sign-in was accepted after the global sign-out"
        time.sleep(POLL_SECONDS)


def allowed(stack: testing.RunningStack, route: tuple[str, str], token: str) -> None:
    response = stack.call(*route, token=token)
    assert response.status == 200, (route, response.status, response.raw)


def test_sign_out_refuses_the_sessions_tokens_within_five_seconds_on_both_kinds_of_route(stack) -> None:
    tokens = sign_in(stack, "acme", auth_contract.VIEWER)
    other_session = sign_in(stack, "acme", auth_contract.VIEWER)
    for token in (tokens["AccessToken"], other_session["AccessToken"]):
        allowed(stack, ME, token)
        allowed(stack, summary("acme"), token)  # the gateway now caches the authorizer's allow (300 s)

    assert stack.call("POST", "/me/sign-out", token=tokens["AccessToken"]).status == 204

    assert refused_within(stack, ME, tokens["AccessToken"]) <= PROMISE_SECONDS
    # The cached allow still lets the request through the gateway: the handler refuses it.
    assert refused_within(stack, summary("acme"), tokens["AccessToken"]) <= PROMISE_SECONDS
    # Another sign-in of the same user is another session: untouched.
    allowed(stack, ME, other_session["AccessToken"])
    allowed(stack, summary("acme"), other_session["AccessToken"])


def test_a_revoked_token_never_gets_a_new_allow_from_the_lambda_authorizer(stack) -> None:
    tokens = sign_in(stack, "globex", auth_contract.VIEWER)
    assert stack.call("POST", "/me/sign-out", token=tokens["AccessToken"]).status == 204
    refused_within(stack, ME, tokens["AccessToken"])  # the revocation is visible (cache window over)
    # First presented after that: the authorizer itself denies (API Gateway answers 403) and no
    # allow is cached for the token.
    response = stack.call(*summary("globex"), token=tokens["AccessToken"])
    assert (response.status, response.json()) == (403, {"message": "Forbidden"})


def test_global_sign_out_refuses_every_session_of_the_user_and_its_refresh_tokens(stack) -> None:
    first = sign_in(stack, "acme", auth_contract.EDITOR)
    second = sign_in(stack, "acme", auth_contract.EDITOR)
    for session in (first, second):
        allowed(stack, ME, session["AccessToken"])
        allowed(stack, summary("acme"), session["AccessToken"])

    assert stack.call("POST", "/me/sign-out-everywhere", token=first["AccessToken"]).status == 204

    for session in (first, second):
        assert refused_within(stack, ME, session["AccessToken"]) <= PROMISE_SECONDS
        assert refused_within(stack, summary("acme"), session["AccessToken"]) <= PROMISE_SECONDS
    # Cognito's side (AdminUserGlobalSignOut, through the local issuer): no new tokens either.
    with pytest.raises(stack.cognito().exceptions.NotAuthorizedException):
        stack.cognito().initiate_auth(
            ClientId=stack.outputs["SpaClientId"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": second["RefreshToken"]},
        )
    # Signing in again gives tokens issued after the not-before: they pass.
    fresh = signed_in_again(stack, "acme", auth_contract.EDITOR)
    allowed(stack, summary("acme"), fresh["AccessToken"])


def test_a_tenant_not_before_refuses_that_tenants_tokens_and_no_others(stack) -> None:
    from shared.revocation import RevocationStore

    globex = sign_in(stack, "globex", auth_contract.ADMIN)
    acme = sign_in(stack, "acme", auth_contract.VIEWER)
    for token in (globex["AccessToken"], acme["AccessToken"]):
        allowed(stack, ME, token)
    allowed(stack, summary("globex"), globex["AccessToken"])
    allowed(stack, summary("acme"), acme["AccessToken"])
    # The tenant is suspended in a later second than its tokens were issued in: tokens issued from
    # then on (iat >= not_before) pass, so the tests that follow are not affected.
    issued = int(time.time())
    wait_until(lambda: time.time() >= issued + 1, "the next second")

    table = boto3.resource(
        "dynamodb", endpoint_url=stack.summary["moto_url"], region_name=stack.summary["region"], **DUMMY_CREDENTIALS
    ).Table(revocation_table_name(stack))
    RevocationStore(table, ttl_seconds=3600).revoke_tenant("globex", "suspended (test)")

    assert refused_within(stack, ME, globex["AccessToken"]) <= PROMISE_SECONDS
    assert refused_within(stack, summary("globex"), globex["AccessToken"]) <= PROMISE_SECONDS
    allowed(stack, ME, acme["AccessToken"])
    allowed(stack, summary("acme"), acme["AccessToken"])
    allowed(stack, ME, sign_in(stack, "globex", auth_contract.ADMIN)["AccessToken"])  # issued after it


def test_an_unanswering_store_refuses_every_caller_and_says_so(stack) -> None:
    tokens = sign_in(stack, "acme", auth_contract.VIEWER)
    allowed(stack, ME, tokens["AccessToken"])
    client = dynamodb(stack)
    name = revocation_table_name(stack)
    description = client.describe_table(TableName=name)["Table"]
    client.delete_table(TableName=name)
    try:
        # JWT route: the handler answers 503; Lambda-authorizer route with a token it has not seen:
        # the authorizer denies (403). Both within the cache's bound.
        assert refused_within(stack, ME, tokens["AccessToken"], statuses=(503,)) <= PROMISE_SECONDS
        fresh = sign_in(stack, "acme", auth_contract.VIEWER)
        response = stack.call(*summary("acme"), token=fresh["AccessToken"])
        assert (response.status, response.json()) == (403, {"message": "Forbidden"})
        assert '"revocation":"store-unavailable"' in stack.log()
    finally:
        client.create_table(
            TableName=name,
            KeySchema=description["KeySchema"],
            AttributeDefinitions=description["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
    wait_until(lambda: stack.call(*ME, token=tokens["AccessToken"]).status == 200, "recovery once the store answers")


def wait_until(condition: Callable[[], bool], what: str = "the condition") -> None:
    deadline = time.monotonic() + PROMISE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not hold within {PROMISE_SECONDS} s"
        time.sleep(POLL_SECONDS)


# ---------------------------------------------------------------------- the command-line client


def cli_for(stack: testing.RunningStack, directory: Path) -> Any:
    from client.cache import TokenCache
    from tests.test_e2e_client import Cli

    return Cli(stack, TokenCache(directory / "tokens.json"))


def test_cli_logout_refuses_the_signed_out_access_token_at_the_api(stack, tmp_path: Path) -> None:
    cli = cli_for(stack, tmp_path)
    assert cli.login("globex", auth_contract.EDITOR)[0] == 0
    token = cli.entry()["access_token"]
    allowed(stack, ME, token)
    code, out = cli("logout")
    assert code == 0
    assert "refused from now on" in out and cli.entry() == {}
    assert refused_within(stack, ME, token) <= PROMISE_SECONDS


def test_cli_logout_everywhere_ends_the_users_other_sessions_too(stack, tmp_path: Path) -> None:
    laptop, phone = cli_for(stack, tmp_path / "laptop"), cli_for(stack, tmp_path / "phone")
    assert laptop.login("acme", auth_contract.ADMIN)[0] == 0
    assert phone.login("acme", auth_contract.ADMIN)[0] == 0
    phone_token = phone.entry()["access_token"]
    allowed(stack, ME, phone_token)
    code, out = laptop("logout", "--everywhere")
    assert code == 0 and "every session of this user" in out
    assert refused_within(stack, ME, phone_token) <= PROMISE_SECONDS
    assert phone("refresh")[0] == 2  # its refresh token is revoked in Cognito as well
    code, out = phone("logout")  # the phone signing out afterwards: nothing left to revoke, no error
    assert code == 0 and "nothing to revoke" in out and phone.entry() == {}
    signed_in_again(stack, "acme", auth_contract.ADMIN)
