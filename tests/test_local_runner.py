"""`python -m local` (what `make local` runs): prints where everything is, writes the outputs, stops on Ctrl-C."""

from __future__ import annotations

import json
import re
import socket
import stat
import urllib.parse

import pytest

from local import testing
from local.__main__ import banner
from local.seed import demo_password
from tests.synth import Synthesized


@pytest.fixture(scope="module")
def stopped(dev_env: Synthesized) -> tuple[testing.RunningStack, int, str]:
    """A stack of its own, started and stopped with Ctrl-C: (the stack, its exit code, its output)."""
    running = testing.start(dev_env.assembly())
    try:
        outputs_mode = stat.S_IMODE(running.outputs_file.stat().st_mode)
        assert outputs_mode == 0o600
    finally:
        code = running.stop()
    return running, code, running.log()


def test_ctrl_c_stops_the_stack_cleanly(stopped: tuple[testing.RunningStack, int, str]) -> None:
    running, code, log = stopped
    assert code == 0, log[-2000:]
    assert "Traceback" not in log
    for url in (running.api_url, running.issuer_base_url, running.summary["moto_url"]):
        target = urllib.parse.urlsplit(url)
        with socket.socket() as probe:
            assert probe.connect_ex((target.hostname, target.port)) != 0, f"{url} still listening"


def test_it_prints_the_urls_and_every_demo_credential(stopped: tuple[testing.RunningStack, int, str]) -> None:
    running, _, log = stopped
    assert running.api_url in log
    assert running.outputs["IssuerUrl"] in log
    for user in running.summary["users"]:
        assert user["email"] in log and user["password"] in log
    client = running.machine_client
    assert f"JWT_AUTH_CLIENT_ID={client['client_id']}" in log
    assert f"JWT_AUTH_CLIENT_SECRET={client['client_secret']}" in log
    assert "Ctrl-C" in log


def test_demo_passwords_are_random_and_meet_the_pool_policy() -> None:
    passwords = {demo_password() for _ in range(20)}
    assert len(passwords) == 20
    for password in passwords:
        assert len(password) >= 12
        assert re.search(r"[a-z]", password) and re.search(r"[A-Z]", password) and re.search(r"\d", password)
        assert re.search(r"[^A-Za-z0-9]", password)


def test_the_outputs_file_has_the_shape_cdk_deploy_writes_with_local_urls(
    stopped: tuple[testing.RunningStack, int, str],
) -> None:
    running, _, _ = stopped
    outputs = json.loads(running.outputs_file.read_text())
    assert set(outputs) >= {"jwt-auth-dev-identity", "jwt-auth-dev-api"}
    identity = outputs["jwt-auth-dev-identity"]
    assert identity["IssuerUrl"] == f"{running.issuer_base_url}/{identity['UserPoolId']}"
    assert identity["ManagedLoginUrl"] == running.issuer_base_url
    assert outputs["jwt-auth-dev-api"]["ApiUrl"].rstrip("/") == running.api_url
    assert "secret" not in json.dumps(outputs).lower()


def test_the_banner_shows_a_client_session_to_try() -> None:
    summary = {
        "env": "dev",
        "api_url": "http://127.0.0.1:1",
        "issuer_base_url": "http://127.0.0.1:2",
        "moto_url": "http://127.0.0.1:3",
        "outputs": {"s": {"IssuerUrl": "http://127.0.0.1:2/eu-west-1_p", "SpaClientId": "c"}},
        "users": [{"tenant": "acme", "role": "admin", "email": "admin.acme@example.com", "password": "pw"}],
        "machine_clients": [],
    }
    text = banner(summary, None)
    assert "python -m client login admin.acme@example.com" in text
    assert "python -m client call GET /items" in text


def test_it_listens_on_loopback_only() -> None:
    from local.__main__ import parse_args

    assert parse_args(["--host", "127.0.0.2"]).host == "127.0.0.2"
    with pytest.raises(SystemExit):
        parse_args(["--host", "0.0.0.0"])  # noqa: S104 - the address being refused
