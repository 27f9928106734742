"""The deployed-stack suite (tests/deployed/) is opt-in: without JWT_AUTH_OUTPUTS it is not even
collected; with it, the outputs file must describe one complete deployment."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

import auth_contract
from local import testing
from local.stack import DUMMY_CREDENTIALS
from tests import test_e2e_api
from tests.deployed.client import DeployedStack
from tests.deployed.deployment import OUTPUTS_ENV_VAR, Deployment, OutputsError
from tests.synth import Synthesized

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
        "jwt-auth-dev-web": {
            "WebUrl": "https://app.jwt-auth.dev/",
            "WebClusterName": "web-cluster",
            "WebServiceName": "web-service",
        },
        "jwt-auth-dev-monitoring": {
            "DashboardName": "jwt-auth-dev",
            "AlarmTopicArn": "arn:aws:sns:eu-west-1:111111111111:alarms",
        },
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


def test_an_outputs_file_names_the_stacks_service_and_alarm_topic_the_aws_checks_read():
    deployment = Deployment.from_outputs(outputs())
    assert deployment.stack_name("api") == "jwt-auth-dev-api"
    assert (deployment.web_cluster, deployment.web_service) == ("web-cluster", "web-service")
    assert deployment.alarm_topic_arn == "arn:aws:sns:eu-west-1:111111111111:alarms"


def test_an_environment_without_a_web_stack_has_no_web_url():
    assert Deployment.from_outputs(outputs(**{"jwt-auth-dev-web": None})).web_url is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"jwt-auth-dev-api": None}, "no api stack"),
        ({"jwt-auth-prod-api": {"ApiUrl": "https://x/"}}, "one environment"),
        ({"jwt-auth-dev-identity": {"IssuerUrl": ISSUER}}, "no output 'UserPoolId'"),
        (
            {"jwt-auth-dev-identity": {**outputs()["jwt-auth-dev-identity"], "UserPoolId": "pool"}},
            "not a Cognito user pool id",
        ),
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
    # The end-to-end scenario of tests/test_e2e_api.py, and the ALB's own checks.
    scenario = [name for name in vars(test_e2e_api) if name.startswith("test_")]
    assert scenario
    aws_behaviour = [
        "test_the_identity_stacks_exports_are_locked_by_their_importers",
        "test_the_web_tasks_start_and_the_deployment_completes",
        "test_the_api_stage_access_log_destination_shows_no_drift",
        "test_an_alarm_notification_passes_the_topic_keys_conditions",
        "test_the_sign_in_redirects_pass_both_web_acls",
    ]
    for name in [*scenario, "test_a_browser_without_a_session_is_sent_to_the_user_pools_sign_in", *aws_behaviour]:
        assert f"::{name}" in collected, name


@pytest.fixture(scope="session")
def local_stack(dev_env: Synthesized) -> Iterator[testing.RunningStack]:
    with testing.shared_stack(dev_env.assembly()) as running:
        yield running


def test_the_suites_stack_drives_a_deployment_from_nothing_but_its_outputs_file(local_stack):
    """The adapter the deployed suite runs the scenario through, pointed at the local stack's
    outputs file (the same shape as `cdk deploy --outputs-file`) and its Cognito endpoint."""
    deployment = Deployment.from_file(local_stack.outputs_file)
    stack = DeployedStack(
        deployment=deployment,
        cognito=local_stack.cognito(),
        machine_secret=local_stack.platform_client["client_secret"],
    )
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=local_stack.summary["moto_url"], region_name=deployment.region, **DUMMY_CREDENTIALS
    )
    try:
        stack.ensure_tenants(("acme",), dynamodb)  # seeded already: left as it is
        admin = stack.create_user(
            tenant="acme", role=auth_contract.ADMIN, email=f"adapter-{uuid.uuid4().hex[:8]}@example.com"
        )
        assert stack.create_machine_client("acme")["tenant"] == "acme"
        user = stack.create_user(
            tenant="acme", role=auth_contract.EDITOR, email=f"adapter-{uuid.uuid4().hex[:8]}@example.com"
        )
        assert stack.user("acme", auth_contract.EDITOR) == user
        token = stack.sign_in(user["email"], user["password"])["AccessToken"]
        me = stack.call("GET", "/me", token=token)
        assert (me.status, me.json()["tenant"], me.json()["roles"]) == (200, "acme", [auth_contract.EDITOR])
        created = stack.call("POST", "/items", token=token, body={"name": "adapter"})
        assert created.status == 201 and created.headers["location"].startswith("/items/")
        assert stack.call("GET", "/items").status == 401
        events = stack.call("POST", "/tenants/acme/events", token=stack.machine_token(), body={"type": "ping"})
        assert events.status == 202
        assert stack.machine_token(client=stack.platform_client)  # the platform's client still gets tokens
        assert admin["tenant"] == "acme"
    finally:
        stack.delete_machine_clients()
        stack.delete_users()
    assert stack.users == {} and stack.tenant_clients == {}
