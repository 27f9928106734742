"""The web app's container starts the way Fargate runs it: the synthesized task definition's user,
read-only root filesystem and volumes, the Dockerfile's command, with no Docker daemon and no
network (tests/fargate_sandbox.py). A task that cannot start never becomes healthy, and the
deployment circuit breaker fails the whole deploy: this is the guard for that."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fargate_sandbox import ContainerSpec, Dockerfile, PreparedPath, run
from tests.synth import Synthesized

# Values of the environment variables that are CloudFormation expressions in the template
# (known only once deployed), in the shape the app checks at start-up.
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example01"
STAND_INS = {
    "ALB_ARN": "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/jwt-auth-test/0123456789abcdef",
    "EXPECTED_ISSUER": ISSUER,
    "EXPECTED_CLIENT_ID": "examplealbclient0123456789",
    "M2M_ISSUER": ISSUER,
    "M2M_JWKS_URL": f"{ISSUER}/.well-known/jwks.json",
    "M2M_CLIENT_IDS": "examplemachineclient012345",
    "API_URL": "https://example123.execute-api.eu-west-1.amazonaws.com/",
    "LOGOUT_URL": "https://jwt-auth-test.auth.eu-west-1.amazoncognito.com/logout?client_id=x&logout_uri=https%3A%2F%2Fapp",
}


def task_definition(synthesized: Synthesized) -> dict:
    (properties,) = [
        resource["Properties"]
        for resource in synthesized.templates["Web"]["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    ]
    return properties


@pytest.fixture(scope="module")
def spec(test_env: Synthesized) -> ContainerSpec:
    from stacks.lambda_packaging import SERVICE_DIR  # the stacks (and the CDK) load only where used: the
    from stacks.web_service import CONTAINER_NAME, HEALTH_PATH  # unit tests of this file never do

    return ContainerSpec.from_task_definition(
        task_definition(test_env),
        CONTAINER_NAME,
        Dockerfile.parse(SERVICE_DIR / "Dockerfile"),
        health_path=HEALTH_PATH,
        stand_ins=STAND_INS,
    )


def test_the_emulated_task_is_the_hardened_one_the_stack_defines(spec: ContainerSpec):
    # What makes the start hard: no root, nothing writable but the volumes.
    assert spec.uid != 0 and spec.gid != 0
    assert spec.readonly_root is True
    assert spec.volumes, "the task mounts at least one volume (its only writable path)"
    assert spec.argv[0] == "gunicorn"


def test_the_web_container_starts_as_fargate_runs_it_and_answers_its_health_check(spec: ContainerSpec, tmp_path: Path):
    outcome = run(spec, scratch=tmp_path)
    assert outcome.started, (
        f"the container did not become healthy (exit code {outcome.exit_code}, volumes {outcome.volumes}):\n"
        f"{outcome.log}"
    )
    assert outcome.health_status == 200
    # Every volume writable by the task's user, from what the image prepares (not root's 0755).
    for volume in outcome.volumes:
        assert volume["uid"] == spec.uid or volume["mode"] in ("0o1777", "0o777"), volume


# ---------------------------------------------------------------- the emulation itself


def test_a_volume_the_image_does_not_prepare_is_root_owned_0755(tmp_path: Path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM scratch\nUSER 10001:10001\nCMD ["app"]\n')
    parsed = Dockerfile.parse(dockerfile)
    task = {
        "Volumes": [{"Name": "tmp"}],
        "ContainerDefinitions": [
            {
                "Name": "Web",
                "User": "10001:10001",
                "MountPoints": [{"ContainerPath": "/tmp", "SourceVolume": "tmp", "ReadOnly": False}],
                "HealthCheck": {"Command": ["CMD", "true"]},
                "PortMappings": [{"ContainerPort": 8080}],
            }
        ],
    }
    (volume,) = ContainerSpec.from_task_definition(task, "Web", parsed, health_path="/", stand_ins={}).volumes
    assert (volume.uid, volume.gid, volume.mode, volume.prepared_by_image) == (0, 0, 0o755, False)


def test_a_prepared_path_counts_only_with_a_volume_instruction(tmp_path: Path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM scratch\nRUN mkdir -p /data && chown 10001:10001 /data && chmod 0700 /data\n"
        'USER 10001:10001\nCMD ["app"]\n'
    )
    parsed = Dockerfile.parse(dockerfile)
    assert parsed.prepared["/data"] == PreparedPath("10001", "10001", 0o700)
    task = {
        "Volumes": [{"Name": "data"}],
        "ContainerDefinitions": [
            {
                "Name": "Web",
                "MountPoints": [{"ContainerPath": "/data", "SourceVolume": "data", "ReadOnly": False}],
                "HealthCheck": {"Command": ["CMD", "true"]},
                "PortMappings": [{"ContainerPort": 8080}],
            }
        ],
    }
    (without,) = ContainerSpec.from_task_definition(task, "Web", parsed, health_path="/", stand_ins={}).volumes
    assert without.uid == 0 and without.mode == 0o755
    dockerfile.write_text(dockerfile.read_text() + 'VOLUME ["/data"]\n')
    (with_volume,) = ContainerSpec.from_task_definition(
        task, "Web", Dockerfile.parse(dockerfile), health_path="/", stand_ins={}
    ).volumes
    assert (with_volume.uid, with_volume.gid, with_volume.mode) == (10001, 10001, 0o700)
