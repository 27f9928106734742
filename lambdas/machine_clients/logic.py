"""A tenant's machine clients: who may manage them, and creating, listing, rotating and deleting them.

Each client is a Cognito app client (client credentials only, the machine scopes, a generated
secret) plus its CLIENT# items in the tenants table (lambdas/shared/machine_clients.py), which is
what makes the pre-token trigger put the tenant in its tokens. A secret is returned once, in the
answer to create or rotate, and never stored or logged here.

Cognito calls (Amazon Cognito API Reference):
- CreateUserPoolClient / DeleteUserPoolClient: the app client itself.
- ListUserPoolClientSecrets, AddUserPoolClientSecret, DeleteUserPoolClientSecret: rotation keeps
  the client id and replaces its secret. An app client holds at most two secrets and its last one
  cannot be deleted ("AddUserPoolClientSecret", "DeleteUserPoolClientSecret"), so rotation adds
  the new secret first, then deletes every older one.
A deleted or rotated client's earlier tokens are refused through the revocation store
(`revoke_client`: every token of the client issued before now).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from botocore.exceptions import ClientError

import auth_contract
from shared.api import ApiError, Forbidden, NotFound
from shared.claims import Identity, is_tenant_id
from shared.machine_clients import MachineClientRecords
from shared.revocation import RevocationStore, including_this_second
from shared.validation import Field, text, validate_fields

CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CLIENT_ID = re.compile(r"[\w+]{1,128}")
CREATE_FIELDS = (Field("name", text(64, pattern=CLIENT_NAME), required=True),)
# Each client costs a monthly fee (docs/cost.md): a tenant may hold only a few.
MAX_CLIENTS_PER_TENANT = 5


class Conflict(ApiError):
    status = HTTPStatus.CONFLICT


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def require_manager(identity: Identity, tenant: str) -> None:
    """A user's access token of the tenant's own admin, or of a platform operator (any tenant).

    Operators are recognised once the role→scope map knows `platform_operator` (the tenant
    lifecycle work); until then only tenant admins pass.
    """
    if not identity.is_access_token or identity.is_machine or identity.username is None:
        raise Forbidden("Forbidden")
    if identity.has_role(auth_contract.PLATFORM_OPERATOR) and identity.has_scope(auth_contract.PLATFORM_SCOPE):
        return
    if identity.is_admin and identity.has_scope(auth_contract.ADMIN_SCOPE) and identity.tenant == tenant:
        return
    raise Forbidden("Forbidden")


def require_tenant(tenant: Any) -> str:
    if not is_tenant_id(tenant):
        raise NotFound("Not found")
    return tenant


def require_client_id(client_id: Any) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise NotFound("Not found")
    return client_id


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class MachineClients:
    """The operations, with their collaborators passed in (tests give them moto's)."""

    def __init__(
        self,
        *,
        cognito: Any,
        user_pool_id: str,
        records: MachineClientRecords,
        revocations: RevocationStore,
        resource_server: str,
        access_token_minutes: int,
    ) -> None:
        self.cognito = cognito
        self.user_pool_id = user_pool_id
        self.records = records
        self.revocations = revocations
        self.scopes = [auth_contract.qualified_scope(resource_server, scope) for scope in auth_contract.MACHINE_SCOPES]
        self.access_token_minutes = access_token_minutes

    def _owned(self, tenant: str, client_id: str) -> dict[str, Any]:
        record = self.records.get(tenant, client_id)
        if record is None:
            raise NotFound("Not found")  # another tenant's client looks exactly like no client
        return record

    def list(self, tenant: str) -> list[dict[str, Any]]:
        return [{**record, "tenant": tenant} for record in self.records.list(tenant)]

    def create(self, identity: Identity, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
        name = validate_fields(body, CREATE_FIELDS)["name"]
        if self.records.tenant_status(tenant) != auth_contract.TENANT_ACTIVE:
            raise NotFound("Not found")  # no such tenant, or suspended: no new credentials
        if len(self.records.list(tenant)) >= MAX_CLIENTS_PER_TENANT:
            raise Conflict(f"a tenant may have at most {MAX_CLIENTS_PER_TENANT} machine clients")
        created = self.cognito.create_user_pool_client(
            UserPoolId=self.user_pool_id,
            ClientName=name,
            GenerateSecret=True,
            # No user sign-in flow at all (Cognito needs refresh allowed whenever the list is set).
            ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=self.scopes,
            SupportedIdentityProviders=["COGNITO"],
            ReadAttributes=[],
            WriteAttributes=["email"],
            AccessTokenValidity=self.access_token_minutes,
            TokenValidityUnits={"AccessToken": "minutes"},
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
        )["UserPoolClient"]
        client_id = created["ClientId"]
        try:
            record = self.records.add(
                tenant, client_id, name=name, created_by=identity.username or identity.sub, created_at=now_text()
            )
        except Exception:
            # Without its items the client could never get a token; do not leave it behind.
            self.cognito.delete_user_pool_client(UserPoolId=self.user_pool_id, ClientId=client_id)
            raise
        return {**record, "tenant": tenant, "scopes": self.scopes, "client_secret": created["ClientSecret"]}

    def rotate(self, tenant: str, client_id: str) -> dict[str, Any]:
        self._owned(tenant, client_id)
        key = {"UserPoolId": self.user_pool_id, "ClientId": client_id}
        existing = sorted(
            self.cognito.list_user_pool_client_secrets(**key).get("ClientSecrets", []),
            key=lambda secret: secret.get("ClientSecretCreateDate") or 0,
        )
        # A rotation cut short can leave two secrets: make room for the new one (at most two).
        while len(existing) >= 2:
            oldest = existing.pop(0)
            self.cognito.delete_user_pool_client_secret(**key, ClientSecretId=oldest["ClientSecretId"])
        added = self.cognito.add_user_pool_client_secret(**key)["ClientSecretDescriptor"]
        for secret in existing:
            self.cognito.delete_user_pool_client_secret(**key, ClientSecretId=secret["ClientSecretId"])
        self.revocations.revoke_client(client_id, "machine client secret rotated")
        rotated_at = now_text()
        self.records.mark_rotated(tenant, client_id, rotated_at)
        return {
            "client_id": client_id,
            "tenant": tenant,
            "rotated_at": rotated_at,
            "client_secret": added["ClientSecretValue"],
        }

    def delete(self, tenant: str, client_id: str) -> None:
        self._owned(tenant, client_id)
        try:
            self.cognito.delete_user_pool_client(UserPoolId=self.user_pool_id, ClientId=client_id)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":  # a retry after a partial delete
                raise
        # Items last: until they are gone a retry finds the client again and finishes the job.
        self.revocations.revoke_client(client_id, "machine client deleted", now=including_this_second())
        self.records.remove(tenant, client_id)
