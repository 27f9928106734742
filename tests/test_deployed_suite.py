"""The deployed-stack suite (tests/deployed/) is opt-in: without JWT_AUTH_OUTPUTS it is not even
collected; with it, the outputs file must describe one complete deployment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deployed.deployment import OUTPUTS_ENV_VAR, Deployment, OutputsError

ROOT = Path(__file__).resolve().parent.parent
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI"


def outputs(**changes) -> dict:
    """The shape `cdk deploy --outputs-file` writes for the dev environment with a web stack."""
    values = {
        "jwt-auth-dev-identity": {
            "UserPoolId": "eu-west-1_AbCdEfGhI",
            "IssuerUrl": ISSUER,
            "JwksUrl": f"{ISSUER}/.well-known/jwks.json",
            "SpaClientId": "spa-client",
            "AlbClientId": "alb-client",
            "MachineClientId": "machine-client",
            "ManagedLoginUrl": "https://jwt-auth-dev-111111111111.auth.eu-west-1.amazoncognito.com",
            "ResourceServerIdentifier": "https://api.jwt-auth.dev",
        },
        "jwt-auth-dev-api": {"ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/", "ItemsTableName": "t"},
        "jwt-auth-dev-web": {"WebUrl": "https://app.jwt-auth.dev/"},
        "jwt-auth-dev-monitoring": {"DashboardName": "jwt-auth-dev"},
    }
    values.update(changes)
    return {name: stack for name, stack in values.items() if stack is not None}


def test_an_outputs_file_gives_every_endpoint_and_client_of_the_deployment():
    deployment = Deployment.from_outputs(outputs())
    assert deployment.stage == "jwt-auth-dev"
    assert deployment.region == "eu-west-1"
    assert deployment.api("/items") == "https://abc123.execute-api.eu-west-1.amazonaws.com/items"
    assert deployment.scope("items.read") == "https://api.jwt-auth.dev/items.read"
    assert deployment.web_url == "https://app.jwt-auth.dev"
    assert (deployment.spa_client_id, deployment.machine_client_id, deployment.alb_client_id) == (
        "spa-client",
        "machine-client",
        "alb-client",
    )


def test_an_environment_without_a_web_stack_has_no_web_url():
    assert Deployment.from_outputs(outputs(**{"jwt-auth-dev-web": None})).web_url is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"jwt-auth-dev-api": None}, "no api stack"),
        ({"jwt-auth-prod-api": {"ApiUrl": "https://x/"}}, "one environment"),
        ({"jwt-auth-dev-identity": {"IssuerUrl": ISSUER}}, "no output 'UserPoolId'"),
    ],
)
def test_an_incomplete_or_mixed_outputs_file_is_refused_with_the_reason(changes, message):
    with pytest.raises(OutputsError, match=message):
        Deployment.from_outputs(outputs(**changes))


def test_a_missing_outputs_file_names_the_variable(tmp_path):
    with pytest.raises(OutputsError, match=rf"{OUTPUTS_ENV_VAR}=.*no such file"):
        Deployment.from_file(tmp_path / "outputs-dev.json")


def collect_deployed_suite(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        # confcutdir: only the suite's own conftest, not the synth fixtures above it.
        [sys.executable, "-m", "pytest", "tests/deployed", "--collect-only", "-q", "--confcutdir=tests/deployed"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_without_an_outputs_file_the_suite_is_not_collected_at_all():
    env = {key: value for key, value in os.environ.items() if key != OUTPUTS_ENV_VAR}
    result = collect_deployed_suite(env)
    assert result.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, result.stdout + result.stderr
    assert "skipped" not in result.stdout


def test_with_an_outputs_file_the_whole_scenario_is_collected(tmp_path):
    file = tmp_path / "outputs-dev.json"
    file.write_text("{}")
    result = collect_deployed_suite({**os.environ, OUTPUTS_ENV_VAR: str(file)})
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    collected = result.stdout
    for name in (
        "test_every_protected_route_refuses_a_request_without_a_token",
        "test_another_tenant_never_sees_the_item",
        "test_a_user_reads_the_summary_of_its_own_tenant_only",
        "test_a_browser_without_a_session_is_sent_to_the_user_pools_sign_in",
    ):
        assert name in collected
