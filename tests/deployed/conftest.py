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

import pytest

import auth_contract
from tests.deployed.client import client_credentials_token, create_user, sign_in
from tests.deployed.deployment import OUTPUTS_ENV_VAR, Deployment

if not os.environ.get(OUTPUTS_ENV_VAR):
    collect_ignore_glob = ["test_*.py"]

TENANTS = ("tenant-a", "tenant-b")


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    return Deployment.from_file(os.environ[OUTPUTS_ENV_VAR])


@pytest.fixture(scope="session")
def cognito(deployment):
    import boto3

    return boto3.client("cognito-idp", region_name=deployment.region)


@pytest.fixture(scope="session")
def run_id() -> str:
    """Tenants and e-mail addresses are unique per run, so runs never see each other's data."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def users(deployment, cognito, run_id):
    """A user of every role in each of two tenants; deleted again at the end of the session."""
    created = {}
    try:
        for tenant in TENANTS:
            for role in auth_contract.ROLES:
                email = f"deployed-{run_id}-{role}-{tenant}@example.com"
                created[(tenant, role)] = create_user(
                    cognito, deployment.user_pool_id, tenant=f"{tenant}-{run_id}", role=role, email=email
                )
        yield created
    finally:
        for user in created.values():
            cognito.admin_delete_user(UserPoolId=deployment.user_pool_id, Username=user.email)


@pytest.fixture(scope="session")
def tokens(deployment, cognito, users):
    """(tenant, role) -> {"access": ..., "id": ...}."""
    return {key: sign_in(cognito, deployment.spa_client_id, user) for key, user in users.items()}


@pytest.fixture(scope="session")
def machine_token(deployment, cognito) -> str:
    client = cognito.describe_user_pool_client(
        UserPoolId=deployment.user_pool_id, ClientId=deployment.machine_client_id
    )["UserPoolClient"]
    return client_credentials_token(
        f"{deployment.managed_login_url}/oauth2/token",
        deployment.machine_client_id,
        client["ClientSecret"],
        deployment.scope(auth_contract.EVENTS_WRITE),
    )
