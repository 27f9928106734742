"""Demo data for the local stack: two tenants, a user of every role in each, fresh passwords every run."""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass
from typing import Any

import auth_contract

DEMO_TENANTS = ("acme", "globex")
EMAIL_DOMAIN = "example.com"


@dataclass(frozen=True)
class DemoUser:
    tenant: str
    role: str
    email: str
    password: str
    username: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class DemoClient:
    name: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]

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


def seed_users(cognito: Any, pool_id: str, tenants: tuple[str, ...] = DEMO_TENANTS) -> list[DemoUser]:
    """A confirmed user of every role in every tenant: email verified, tenant set, in the role's group."""
    users = []
    for tenant in tenants:
        for role in auth_contract.ROLES:
            users.append(create_user(cognito, pool_id, tenant=tenant, roles=(role,), email=demo_email(tenant, role)))
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
    return DemoUser(
        tenant=tenant or "", role=",".join(roles), email=email, password=password, username=created["Username"]
    )


def machine_clients(cognito: Any, pool_id: str) -> list[DemoClient]:
    """The pool's client-credentials clients, with the secrets moto generated for them."""
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
