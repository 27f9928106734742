"""The names every part agrees on: API scopes, roles, claims, and the scopes each role grants.

Pure data with no dependencies, imported by the stacks, the Lambda functions, the web
service and the tests, and copied into every Lambda asset. Change a name here and
every enforcement point follows.
"""

import re
from collections.abc import Iterable
from types import MappingProxyType
from typing import TypeGuard

# API scopes, defined on the user pool's resource server. In tokens they appear
# qualified by the resource server identifier: "<identifier>/items.read".
ITEMS_READ = "items.read"
ITEMS_WRITE = "items.write"
ADMIN_SCOPE = "admin"
EVENTS_WRITE = "events.write"
PLATFORM_SCOPE = "platform.admin"
PLATFORM_MACHINE_SCOPE = "platform.machine"

API_SCOPES = MappingProxyType(
    {
        ITEMS_READ: "Read the items of your tenant",
        ITEMS_WRITE: "Create, change and delete the items of your tenant",
        ADMIN_SCOPE: "Administer your tenant",
        EVENTS_WRITE: "Machine clients: post events for a tenant",
        PLATFORM_SCOPE: "Platform operators: create, list and suspend tenants, act on any tenant",
        PLATFORM_MACHINE_SCOPE: "The platform's own machine client: no tenant's data",
    }
)
USER_SCOPES = (ITEMS_READ, ITEMS_WRITE, ADMIN_SCOPE, PLATFORM_SCOPE)
# A tenant's machine clients get these; their tokens carry the tenant (pre-token trigger, V3_0).
MACHINE_SCOPES = (EVENTS_WRITE,)
# The platform's own client (the identity stack's MachineClient, used by the web app's /m2m/
# paths) gets only this: its tokens carry no tenant and no tenant route accepts them.
PLATFORM_MACHINE_SCOPES = (PLATFORM_MACHINE_SCOPE,)

# Roles are Cognito groups. A user's roles decide the API scopes the
# pre-token-generation trigger adds to their access token.
#
# `viewer`, `editor` and `admin` act inside the caller's own tenant only: `admin` is a TENANT
# admin (invites members, changes their roles, removes them). `platform_operator` is the only
# cross-tenant power: it has no tenant of its own, its tokens carry `platform.admin` and nothing
# that reads or writes a tenant's items, and no API route ever grants it (operators are made with
# `python -m client operators grant`, run with AWS credentials, which refuses users without TOTP MFA).
ADMIN = "admin"
EDITOR = "editor"
VIEWER = "viewer"
PLATFORM_OPERATOR = "platform_operator"
ROLE_SCOPES = MappingProxyType(
    {
        VIEWER: (ITEMS_READ,),
        EDITOR: (ITEMS_READ, ITEMS_WRITE),
        ADMIN: (ITEMS_READ, ITEMS_WRITE, ADMIN_SCOPE),
        PLATFORM_OPERATOR: (PLATFORM_SCOPE,),
    }
)
ROLES = tuple(ROLE_SCOPES)
# The roles a tenant admin may give a member (invite, role change): never the operator's.
TENANT_ROLES = (VIEWER, EDITOR, ADMIN)

# The tenant lives in an immutable custom attribute (set by the tenant-admin function's
# AdminCreateUser when a member is invited), or, for users who existed before they were
# linked to a tenant (social and self sign-up), in the tenants table (`USER#<sub>` / `TENANT`).
# The trigger copies it and the roles into both tokens under these claim names. A federated
# user's tenant never comes from an attribute: Cognito requires every attribute an IdP maps to be
# mutable and writable by the client, so a user could change it.
TENANT_ATTRIBUTE = "tenant_id"
TENANT_ATTRIBUTE_CLAIM = f"custom:{TENANT_ATTRIBUTE}"
TENANT_CLAIM = "tenant_id"
ROLES_CLAIM = "roles"
GROUPS_CLAIM = "cognito:groups"

# What a tenant id is, wherever one appears: the config's federated tenants, the tenant attribute
# (its max_len), the tenant claim, `{tenantId}` in paths and the table's partition keys. ASCII
# letters, digits, '_' and '-' only: nothing that percent-encoding, case folding, Unicode
# normalization or a path separator could turn into another tenant's id.
TENANT_ID_MAX_LENGTH = 64
TENANT_ID_PATTERN = rf"[A-Za-z0-9_-]{{1,{TENANT_ID_MAX_LENGTH}}}"
TENANT_ID_RULE = f"1 to {TENANT_ID_MAX_LENGTH} ASCII letters, digits, '_' or '-'"
TENANT_PATH_PARAMETER = "tenantId"  # the routes' `/tenants/{tenantId}/...`

# User attributes an app client may write. Anything that grants rights (the tenant,
# and groups, which are not attributes at all) is deliberately absent. `email` must be
# writable: Cognito requires every client to be able to write the pool's required attributes
# and the attributes its identity providers map; changing it needs a verification code.
WRITABLE_ATTRIBUTES = ("email", "name", "given_name", "family_name", "locale", "zoneinfo")
READABLE_ATTRIBUTES = (*WRITABLE_ATTRIBUTES, "email_verified", TENANT_ATTRIBUTE_CLAIM)


def is_tenant_id(value: object) -> TypeGuard[str]:
    """Whether `value` is a tenant id (TENANT_ID_RULE)."""
    return isinstance(value, str) and re.fullmatch(TENANT_ID_PATTERN, value) is not None


def qualified_scope(resource_server: str, scope: str) -> str:
    """The scope as it appears in an access token and in a route's authorization scopes."""
    return f"{resource_server}/{scope}"


def scopes_for_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The API scopes granted by a set of roles, in a stable order, unknown roles ignored."""
    granted = {scope for role in roles for scope in ROLE_SCOPES.get(role, ())}
    return tuple(scope for scope in API_SCOPES if scope in granted)


# The tenancy tables (stacks/tenancy_tables.py has the key layout). Both use these key names.
TABLE_PARTITION_KEY = "pk"
TABLE_SORT_KEY = "sk"
REVOCATION_TTL_ATTRIBUTE = "expires_at"
TENANT_KEY_PREFIX = "TENANT#"
MEMBER_KEY_PREFIX = "MEMBER#"
CLIENT_KEY_PREFIX = "CLIENT#"
USER_KEY_PREFIX = "USER#"
JTI_KEY_PREFIX = "JTI#"
TENANT_PROFILE_SORT_KEY = "PROFILE"
CLIENT_TENANT_SORT_KEY = "TENANT"
USER_TENANT_SORT_KEY = "TENANT"  # `USER#<sub>` / `TENANT`: the tenant a user is a member of
TENANT_ACTIVE = "active"
TENANT_SUSPENDED = "suspended"
