"""End to end: the command-line client against the local stack, as a person would use it."""

from __future__ import annotations

import io
import json
import re
import socket
import stat
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import auth_contract
from client.cache import TokenCache
from client.cli import main
from local import testing
from tests.synth import Synthesized


@pytest.fixture(scope="session")
def stack(dev_env: Synthesized) -> Iterator[testing.RunningStack]:
    with testing.shared_stack(dev_env.assembly()) as running:
        yield running


class Cli:
    """Runs `python -m client` in-process with its own token cache; output captured."""

    def __init__(self, stack: testing.RunningStack, cache: TokenCache) -> None:
        self.stack = stack
        self.cache = cache

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str]:
        out = io.StringIO()
        code = main(
            ["--outputs", str(self.stack.outputs_file), *argv], out=out, stdin=io.StringIO(stdin), cache=self.cache
        )
        return code, out.getvalue()

    def login(self, tenant: str, role: str, *extra: str) -> tuple[int, str]:
        user = self.stack.user(tenant, role)
        return self("login", user["email"], "--password-stdin", *extra, stdin=user["password"] + "\n")

    def entry(self) -> dict[str, Any]:
        profile = f"{self.stack.outputs['IssuerUrl']}#{self.stack.outputs['SpaClientId']}"
        return self.cache.get(profile) or {}


@pytest.fixture
def cli(stack: testing.RunningStack, tmp_path: Path) -> Cli:
    return Cli(stack, TokenCache(tmp_path / "cache" / "jwt-auth" / "tokens.json"))


def test_a_session_signs_in_with_srp_calls_the_api_refreshes_and_signs_out(
    cli: Cli, stack: testing.RunningStack
) -> None:
    code, out = cli.login("acme", auth_contract.EDITOR)
    assert code == 0
    assert "tenant acme, roles editor" in out

    code, out = cli("whoami")
    me = json.loads(out)
    assert (code, me["tenant"], me["roles"], me["expired"]) == (0, "acme", [auth_contract.EDITOR], False)

    code, out = cli("call", "POST", "/items", "--data", '{"name": "from the cli"}')
    assert (code, json.loads(out)["name"]) == (0, "from the cli")
    code, out = cli("call", "GET", "/items")
    assert code == 0
    assert "from the cli" in {entry["name"] for entry in json.loads(out)["items"]}

    before = cli.entry()["access_token"]
    assert cli("refresh")[0] == 0
    assert cli.entry()["access_token"] != before

    refresh_token = cli.entry()["refresh_token"]
    code, out = cli("logout")
    assert (code, cli.entry()) == (0, {})
    assert cli("refresh")[0] == 2
    # The refresh token the client held is revoked at the issuer, not only forgotten here.
    cli.cache.put(
        f"{stack.outputs['IssuerUrl']}#{stack.outputs['SpaClientId']}",
        {"access_token": before, "refresh_token": refresh_token},
    )
    assert cli("refresh")[0] == 2


def test_a_viewer_is_refused_a_write_and_the_exit_code_says_so(cli: Cli) -> None:
    assert cli.login("globex", auth_contract.VIEWER, "--flow", "password")[0] == 0
    code, out = cli("call", "POST", "/items", "--data", '{"name": "nope"}')
    assert (code, json.loads(out)) == (1, {"message": "Forbidden"})


def test_an_id_token_sent_by_the_client_is_refused(cli: Cli) -> None:
    cli.login("acme", auth_contract.ADMIN)
    assert cli("call", "GET", "/items", "--token", "id")[0] == 1


def test_a_wrong_password_is_an_error_not_a_traceback(
    cli: Cli, stack: testing.RunningStack, capsys: pytest.CaptureFixture
) -> None:
    email = stack.user("acme", auth_contract.VIEWER)["email"]
    code, _ = cli("login", email, "--password-stdin", stdin="Not-the-password-1\n")
    assert code == 2
    assert "NotAuthorizedException" in capsys.readouterr().err


def test_call_refreshes_an_expired_cached_access_token_first(cli: Cli) -> None:
    cli.login("acme", auth_contract.VIEWER)
    stale = cli.entry()["access_token"]
    cli.cache.update(f"{cli.stack.outputs['IssuerUrl']}#{cli.stack.outputs['SpaClientId']}", expires_at=0)
    assert cli("call", "GET", "/items")[0] == 0
    assert cli.entry()["access_token"] != stale


def test_the_machine_client_gets_a_token_and_posts_events_only(
    cli: Cli, stack: testing.RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_AUTH_CLIENT_ID", stack.machine_client["client_id"])
    monkeypatch.setenv("JWT_AUTH_CLIENT_SECRET", stack.machine_client["client_secret"])
    code, out = cli("m2m-token")
    assert code == 0
    assert auth_contract.EVENTS_WRITE in out
    tenant = stack.machine_client["tenant"]
    code, out = cli("call", "POST", f"/tenants/{tenant}/events", "--token", "machine", "--data", '{"type": "ping"}')
    assert (code, json.loads(out)["tenant"]) == (0, tenant)
    other = next(t for t in ("acme", "globex") if t != tenant)
    assert cli("call", "POST", f"/tenants/{other}/events", "--token", "machine", "--data", '{"type": "ping"}')[0] == 1
    assert cli("call", "GET", "/items", "--token", "machine")[0] == 1


def test_m2m_token_without_a_secret_says_where_to_find_one(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("JWT_AUTH_CLIENT_SECRET", raising=False)
    assert cli("m2m-token")[0] == 2
    assert "JWT_AUTH_CLIENT_SECRET" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_hosted_ui_sign_in_with_pkce_through_a_loopback_redirect(
    cli: Cli, stack: testing.RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    redirect = f"http://localhost:{free_port()}/callback"
    idp = stack.cognito()
    pool, spa = stack.outputs["UserPoolId"], stack.outputs["SpaClientId"]
    config = idp.describe_user_pool_client(UserPoolId=pool, ClientId=spa)["UserPoolClient"]
    idp.update_user_pool_client(UserPoolId=pool, ClientId=spa, CallbackURLs=[*config["CallbackURLs"], redirect])
    user = stack.user("globex", auth_contract.EDITOR)

    def browser(url: str) -> None:
        """Signs in on the login page and follows the redirect, as the person's browser would."""
        with urllib.request.urlopen(url, timeout=10) as page:  # noqa: S310 - loopback
            action = re.search(r'action="([^"]+)"', page.read().decode()).group(1).replace("&amp;", "&")
        form = urllib.parse.urlencode({"username": user["email"], "password": user["password"]}).encode()
        with urllib.request.urlopen(stack.issuer_base_url + action, data=form, timeout=10) as landed:  # noqa: S310
            assert landed.status == 200

    monkeypatch.setattr("webbrowser.open", browser)
    code, out = cli("login", "--hosted-ui", "--redirect-uri", redirect)
    assert code == 0, out
    scopes = json.loads(cli("whoami")[1])["scopes"]
    resource_server = stack.outputs["ResourceServerIdentifier"]
    assert set(scopes) == {"openid", "email", "profile"} | {
        auth_contract.qualified_scope(resource_server, s) for s in auth_contract.ROLE_SCOPES[auth_contract.EDITOR]
    }
    assert cli("call", "POST", "/items", "--data", '{"name": "via the hosted ui"}')[0] == 0


def test_the_token_cache_is_readable_by_its_owner_only(
    stack: testing.RunningStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    user = stack.user("acme", auth_contract.VIEWER)
    out = io.StringIO()
    code = main(
        ["--outputs", str(stack.outputs_file), "login", user["email"], "--password-stdin"],
        out=out,
        stdin=io.StringIO(user["password"] + "\n"),
    )
    assert code == 0
    cache = tmp_path / "xdg" / "jwt-auth" / "tokens.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    assert user["password"] not in cache.read_text()


def test_a_missing_outputs_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        ["--outputs", str(tmp_path / "nope.json"), "whoami"], out=io.StringIO(), cache=TokenCache(tmp_path / "c.json")
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_not_being_signed_in_is_a_clear_error(cli: Cli, capsys: pytest.CaptureFixture) -> None:
    assert cli("call", "GET", "/items")[0] == 2
    assert "not signed in" in capsys.readouterr().err
