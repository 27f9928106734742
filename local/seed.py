"""Demo data for the local stack: two tenants (in the tenants table, with their members), a user of
every tenant role in each, a platform operator, and a machine client per tenant (made the way the
machine-clients API makes them); fresh passwords and secrets every run."""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass
from typing import Any

import auth_contract

DEMO_TENANTS = ("acme", "globex")
EMAIL_DOMAIN = "example.com"
OPERATOR_EMAIL = f"operator@{EMAIL_DOMAIN}"


@dataclass(frozen=True)
class DemoUser:
    tenant: str
    role: str
    email: str
    password: str
    username: str
    sub: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class DemoClient:
    name: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    tenant: str = ""  # "" for the platform's own client (the identity stack's MachineClient)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "scopes": list(self.scopes)}


def demo_password(length: int = 20) -> str:
    """A random password that satisfies the pool's policy (upper, lower, digit, symbol, 12+ characters)."""
    symbols = "!@#%^&*-_+="
    alphabet = string.ascii_letters + string.digits + symbols
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
            and any(c in symbols for c in password)
        ):
            return password


def demo_email(tenant: str, role: str) -> str:
    return f"{role}.{tenant}@{EMAIL_DOMAIN}"


def seed_users(
    cognito: Any, pool_id: str, tenants_table: Any = None, tenants: tuple[str, ...] = DEMO_TENANTS
) -> list[DemoUser]:
    """A confirmed user of every tenant role in every tenant (email verified, tenant set, in the
    role's group, listed as a member in the tenants table), and one platform operator.

    The operator is put in its group directly, as every demo user is: `operators grant` (which
    insists on TOTP MFA) is for real pools; the local issuer does not run an MFA challenge.
    """
    users = []
    for tenant in tenants:
        if tenants_table is not None:
            tenants_table.create_tenant(tenant, tenant.title())
        for role in auth_contract.TENANT_ROLES:
            user = create_user(cognito, pool_id, tenant=tenant, roles=(role,), email=demo_email(tenant, role))
            if tenants_table is not None:
                tenants_table.add_member(tenant, sub=user.sub, username=user.username, email=user.email, role=role)
            users.append(user)
    users.append(
        create_user(cognito, pool_id, tenant=None, roles=(auth_contract.PLATFORM_OPERATOR,), email=OPERATOR_EMAIL)
    )
    return users


def create_user(
    cognito: Any, pool_id: str, *, tenant: str | None, roles: tuple[str, ...], email: str, password: str | None = None
) -> DemoUser:
    password = password or demo_password()
    attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    if tenant is not None:
        attributes.append({"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": tenant})
    created = cognito.admin_create_user(
        UserPoolId=pool_id, Username=email, UserAttributes=attributes, MessageAction="SUPPRESS"
    )["User"]
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    for role in roles:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=role)
    sub = next((a["Value"] for a in created.get("Attributes", []) if a["Name"] == "sub"), created["Username"])
    return DemoUser(
        tenant=tenant or "", role=",".join(roles), email=email, password=password, username=created["Username"], sub=sub
    )


def machine_clients(cognito: Any, pool_id: str) -> list[DemoClient]:
    """The pool's client-credentials clients from the templates (the platform's), with moto's secrets."""
    clients = []
    for summary in cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]:
        client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=summary["ClientId"])["UserPoolClient"]
        if "client_credentials" in (client.get("AllowedOAuthFlows") or []) and client.get("ClientSecret"):
            clients.append(
                DemoClient(
                    name=client["ClientName"],
                    client_id=client["ClientId"],
                    client_secret=client["ClientSecret"],
                    scopes=tuple(client.get("AllowedOAuthScopes") or ()),
                )
            )
    return clients


def tenant_machine_clients(
    cognito: Any,
    tenants_table: Any,
    *,
    pool_id: str,
    resource_server: str,
    access_token_minutes: int,
    tenants: tuple[str, ...] = DEMO_TENANTS,
) -> list[DemoClient]:
    """Each demo tenant (made active) with one machine client, created by the machine-clients API's own code."""
    from machine_clients.logic import MachineClients  # the Lambda code the local runtime put on sys.path

    from shared.claims import Identity
    from shared.machine_clients import STATUS, MachineClientRecords

    records = MachineClientRecords(tenants_table)
    operations = MachineClients(
        cognito=cognito,
        user_pool_id=pool_id,
        records=records,
        revocations=None,  # creating a client revokes nothing
        resource_server=resource_server,
        access_token_minutes=access_token_minutes,
    )
    clients = []
    for tenant in tenants:
        # The tenant itself is the lifecycle's to create; the demo only needs it to exist and be active.
        if records.tenant_status(tenant) is None:
            tenants_table.put_item(
                Item={
                    auth_contract.TABLE_PARTITION_KEY: f"{auth_contract.TENANT_KEY_PREFIX}{tenant}",
                    auth_contract.TABLE_SORT_KEY: auth_contract.TENANT_PROFILE_SORT_KEY,
                    "name": tenant,
                    STATUS: auth_contract.TENANT_ACTIVE,
                }
            )
        seeder = Identity("local-seed", "local-seed", None, frozenset(), frozenset(), None, "access")
        created = operations.create(seeder, tenant, {"name": f"{tenant}-events"})
        clients.append(
            DemoClient(
                name=created["name"],
                client_id=created["client_id"],
                client_secret=created["client_secret"],
                scopes=tuple(created["scopes"]),
                tenant=tenant,
            )
        )
    return clients
