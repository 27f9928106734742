"""End to end: the command-line client's tenant and member commands against the local stack, and
what it tells a person whose account waits for an invitation or whose tenant is suspended."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import auth_contract
from client.cache import TokenCache
from client.cli import main
from local import testing
from tests.synth import Synthesized

NEW_PASSWORD = "Cli-e2e-Passw0rd!"


@pytest.fixture(scope="session")
def stack(dev_env: Synthesized) -> Iterator[testing.RunningStack]:
    with testing.shared_stack(dev_env.assembly()) as running:
        yield running


class Cli:
    """`python -m client` in-process, with its own token cache; stdout and stderr captured."""

    def __init__(self, stack: testing.RunningStack, cache: TokenCache, capsys: pytest.CaptureFixture) -> None:
        self.stack = stack
        self.cache = cache
        self.capsys = capsys

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        out = io.StringIO()
        self.capsys.readouterr()
        code = main(
            ["--outputs", str(self.stack.outputs_file), *argv], out=out, stdin=io.StringIO(stdin), cache=self.cache
        )
        return code, out.getvalue(), self.capsys.readouterr().err

    def login(self, email: str, password: str) -> tuple[int, str, str]:
        return self("login", email, "--flow", "password", "--password-stdin", stdin=password + "\n")


@pytest.fixture
def cli(stack: testing.RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture) -> Cli:
    return Cli(stack, TokenCache(tmp_path / "tokens.json"), capsys)


def test_an_operator_runs_tenants_from_the_command_line(cli: Cli, stack: testing.RunningStack) -> None:
    assert cli.login(stack.operator["email"], stack.operator["password"])[0] == 0
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    code, out, _ = cli("tenants", "create", tenant, "--name", "From the CLI")
    assert (code, json.loads(out)["status"]) == (0, auth_contract.TENANT_ACTIVE)
    code, out, _ = cli("tenants", "list", "--limit", "100")
    assert code == 0 and json.loads(out)["tenants"]
    code, out, _ = cli("tenants", "suspend", tenant)
    assert (code, json.loads(out)["status"]) == (0, auth_contract.TENANT_SUSPENDED)
    code, out, _ = cli("tenants", "reinstate", tenant)
    assert (code, json.loads(out)["status"]) == (0, auth_contract.TENANT_ACTIVE)
    assert cli("tenants", "create", tenant)[0] == 1  # 409: exists


def test_a_tenant_admin_runs_their_members_from_the_command_line(cli: Cli, stack: testing.RunningStack) -> None:
    admin = stack.user("acme", auth_contract.ADMIN)
    assert cli.login(admin["email"], admin["password"])[0] == 0
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    code, out, _ = cli("members", "invite", "acme", email, "--role", auth_contract.VIEWER)
    member = json.loads(out)
    assert (code, member["role"]) == (0, auth_contract.VIEWER)
    code, out, _ = cli("members", "list", "acme")
    assert code == 0 and email in {m.get("email") for m in json.loads(out)["members"]}
    code, out, _ = cli("members", "role", "acme", member["sub"], auth_contract.EDITOR)
    assert (code, json.loads(out)["role"]) == (0, auth_contract.EDITOR)
    code, out, _ = cli("members", "disable", "acme", member["sub"])
    assert (code, json.loads(out)["enabled"]) == (0, False)
    code, out, _ = cli("members", "enable", "acme", member["sub"])
    assert (code, json.loads(out)["enabled"]) == (0, True)
    assert cli("members", "remove", "acme", member["sub"])[0] == 0

    assert cli("members", "list", "globex")[0] == 1  # another tenant: 403
    assert cli("tenants", "list")[0] == 1  # operators only: 403


def test_a_path_segment_that_would_change_the_path_is_refused(cli: Cli, stack: testing.RunningStack) -> None:
    admin = stack.user("acme", auth_contract.ADMIN)
    cli.login(admin["email"], admin["password"])
    code, _, err = cli("members", "list", "acme/../globex")
    assert code == 2 and "not a usable tenant" in err


def test_a_user_without_an_invitation_is_told_so_at_login_and_on_a_refused_call(
    cli: Cli, stack: testing.RunningStack
) -> None:
    email = f"waiting-{uuid.uuid4().hex[:8]}@example.com"
    cognito = stack.cognito()
    cognito.sign_up(
        ClientId=stack.outputs["SpaClientId"],
        Username=email,
        Password=NEW_PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=stack.outputs["UserPoolId"], Username=email)
    code, out, _ = cli.login(email, NEW_PASSWORD)
    assert code == 0
    assert "Your account is waiting for an invitation" in out
    assert "python -m client members link <tenant>" in out
    code, _, err = cli("call", "GET", "/items")
    assert code == 1
    assert "waiting for an invitation" in err


def test_a_suspended_tenants_user_is_told_why_sign_in_fails(cli: Cli, stack: testing.RunningStack) -> None:
    operator = Cli(stack, TokenCache(cli.cache.path.parent / "operator.json"), cli.capsys)
    operator.login(stack.operator["email"], stack.operator["password"])
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    operator("tenants", "create", tenant)
    email = f"{tenant}@example.com"
    operator("members", "invite", tenant, email, "--role", auth_contract.ADMIN)
    stack.accept_invitation(email, NEW_PASSWORD)
    operator("tenants", "suspend", tenant)
    code, _, err = cli.login(email, NEW_PASSWORD)
    assert code == 2
    assert err.strip() == "error: Sign-in refused: your tenant is suspended"
