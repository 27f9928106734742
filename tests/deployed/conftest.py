"""The deployed-stack suite: opt-in, against a real deployment, never part of a plain `make test`.

It runs only when JWT_AUTH_OUTPUTS names a stack outputs file (`make deploy ENV=dev` writes
outputs-dev.json) and AWS credentials that may administer that environment's user pool are in
the environment: `JWT_AUTH_OUTPUTS=outputs-dev.json make test-deployed`. Without the variable
nothing in this folder is collected, so the suite is neither run nor reported. See
docs/operations.md.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

import auth_contract
from tests.deployed.client import DeployedStack
from tests.deployed.deployment import OUTPUTS_ENV_VAR, Deployment

if not os.environ.get(OUTPUTS_ENV_VAR):
    collect_ignore_glob = ["test_*.py"]

# The end-to-end scenario's tenants (tests/test_e2e_api.py): its paths name them.
TENANTS = ("acme", "globex")


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    return Deployment.from_file(os.environ[OUTPUTS_ENV_VAR])


@pytest.fixture(scope="session")
def stack(deployment: Deployment) -> Iterator[DeployedStack]:
    """The deployment, with a user of every role in both tenants (e-mail addresses unique to
    this run), deleted again at the end of the session."""
    import boto3

    cognito = boto3.client("cognito-idp", region_name=deployment.region)
    machine = cognito.describe_user_pool_client(
        UserPoolId=deployment.user_pool_id, ClientId=deployment.machine_client_id
    )["UserPoolClient"]
    deployed = DeployedStack(deployment=deployment, cognito=cognito, machine_secret=machine["ClientSecret"])
    run = uuid.uuid4().hex[:10]
    try:
        deployed.ensure_tenants(TENANTS)
        for tenant in TENANTS:
            for role in auth_contract.TENANT_ROLES:
                deployed.create_user(tenant=tenant, role=role, email=f"deployed-{run}-{role}.{tenant}@example.com")
        for tenant in TENANTS:
            deployed.create_machine_client(tenant)
        yield deployed
    finally:
        deployed.delete_machine_clients()
        deployed.delete_users()
