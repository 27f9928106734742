"""The tenant lifecycle: what an operator and a tenant admin may do, and how it reaches Cognito,
the tenants table and the revocation store.

- Platform operator: create, list, suspend and reinstate tenants; everything a tenant admin may
  do, in any tenant.
- Tenant admin (`admin` role, `admin` scope) of tenant T: invite a user into T with a role, link
  an existing tenant-less user (social or self sign-up) into T, change a member's role, disable
  or enable a member's account, remove a member, list T's members. Never in another tenant;
  never the `platform_operator` role.

Cognito is reached with admin API calls (the function's IAM policy names exactly these actions on
this pool): the tenant attribute is written only here, by AdminCreateUser, never by an app client.
Member removal, role change, disabling and suspension write a "not before" to the revocation store, so
tokens issued before them are refused by the API (the check is in the authorizer and handlers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

import auth_contract
from shared.api import BadRequest, Conflict, Forbidden, NotFound
from shared.claims import Identity
from shared.revocation import including_this_second
from shared.tenants import (
    EMAIL,
    MAX_NAME_LENGTH,
    ROLE,
    TENANT_ID,
    USERNAME,
    AlreadyMember,
    MemberNotFound,
    TenantExists,
    TenantNotFound,
    TenantsTable,
    is_valid_tenant_id,
)
from shared.validation import Field, text, validate_fields

EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}")
# Cognito user names: native users' are UUIDs here (email is the sign-in alias), federated users'
# are `<provider>_<id>`.
USERNAME_PATTERN = re.compile(r"[\w.@+=,-]{1,128}")
SUB_PATTERN = re.compile(r"[0-9a-fA-F-]{36}")
ROLE_CHOICES = ", ".join(auth_contract.TENANT_ROLES)


class Revocations(Protocol):
    def revoke_user(self, sub: str, reason: str, now: float | None = None) -> Any: ...

    def revoke_tenant(self, tenant_id: str, reason: str, now: float | None = None) -> Any: ...


@dataclass(frozen=True)
class PoolUser:
    username: str
    sub: str
    email: str | None
    tenant: str | None  # the immutable custom:tenant_id attribute
    groups: tuple[str, ...]


class UserPool:
    """The admin API calls this function makes, on one pool (USER_POOL_ID)."""

    def __init__(self, cognito: Any, pool_id: str) -> None:
        self._cognito = cognito
        self._pool_id = pool_id

    def _user(self, raw: dict[str, Any], attributes_key: str) -> PoolUser:
        attributes = {item["Name"]: item["Value"] for item in raw.get(attributes_key) or []}
        username = raw["Username"]
        return PoolUser(
            username=username,
            sub=attributes.get("sub", username),
            email=attributes.get("email"),
            tenant=attributes.get(auth_contract.TENANT_ATTRIBUTE_CLAIM) or None,
            groups=self.groups(username),
        )

    def get(self, username: str) -> PoolUser | None:
        try:
            raw = self._cognito.admin_get_user(UserPoolId=self._pool_id, Username=username)
        except ClientError as error:
            if error.response["Error"]["Code"] == "UserNotFoundException":
                return None
            raise
        return self._user(raw, "UserAttributes")

    def groups(self, username: str) -> tuple[str, ...]:
        answer = self._cognito.admin_list_groups_for_user(UserPoolId=self._pool_id, Username=username, Limit=60)
        return tuple(group["GroupName"] for group in answer.get("Groups", []))

    def invite(self, email: str, tenant: str) -> PoolUser:
        """A new user with the tenant set; Cognito emails the invitation with a temporary password
        (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminCreateUser.html)."""
        raw = self._cognito.admin_create_user(
            UserPoolId=self._pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                # The invitation reaches this address, so it is verified by the sign-in with the
                # temporary password it carries.
                {"Name": "email_verified", "Value": "true"},
                {"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": tenant},
            ],
            DesiredDeliveryMediums=["EMAIL"],
        )["User"]
        return self._user(raw, "Attributes")

    def set_role(self, user: PoolUser, role: str) -> None:
        """The user's one tenant role is `role`: added first, then the others removed."""
        if role not in user.groups:
            self._cognito.admin_add_user_to_group(UserPoolId=self._pool_id, Username=user.username, GroupName=role)
        for group in user.groups:
            if group in auth_contract.TENANT_ROLES and group != role:
                self._cognito.admin_remove_user_from_group(
                    UserPoolId=self._pool_id, Username=user.username, GroupName=group
                )

    def set_enabled(self, user: PoolUser, enabled: bool) -> None:
        operation = self._cognito.admin_enable_user if enabled else self._cognito.admin_disable_user
        operation(UserPoolId=self._pool_id, Username=user.username)

    def strip_roles(self, user: PoolUser) -> None:
        for group in user.groups:
            if group in auth_contract.TENANT_ROLES:
                self._cognito.admin_remove_user_from_group(
                    UserPoolId=self._pool_id, Username=user.username, GroupName=group
                )

    def delete(self, user: PoolUser) -> None:
        try:
            self._cognito.admin_delete_user(UserPoolId=self._pool_id, Username=user.username)
        except ClientError as error:
            if error.response["Error"]["Code"] != "UserNotFoundException":
                raise


def _is_code(error: ClientError, *codes: str) -> bool:
    return error.response.get("Error", {}).get("Code") in codes


# --------------------------------------------------------------------------- who may act


def require_operator(identity: Identity) -> None:
    if not identity.is_access_token or identity.is_machine or not identity.is_operator:
        raise Forbidden("Forbidden")


def require_tenant_admin(identity: Identity, tenant: str) -> None:
    """A tenant admin of exactly `tenant`, or a platform operator."""
    if not identity.is_access_token or identity.is_machine:
        raise Forbidden("Forbidden")
    if identity.is_operator:
        return
    if identity.is_admin and identity.has_scope(auth_contract.ADMIN_SCOPE) and identity.may_act_on_tenant(tenant):
        return
    raise Forbidden("Forbidden")


def require_tenant_id(tenant: str) -> str:
    if not is_valid_tenant_id(tenant):
        raise NotFound("Not found")
    return tenant


# --------------------------------------------------------------------------- bodies


def _role(body: dict[str, Any]) -> str:
    role = body.get("role")
    if role not in auth_contract.TENANT_ROLES:
        raise BadRequest(f"role: must be one of {ROLE_CHOICES}")
    return str(role)


# --------------------------------------------------------------------------- tenants (operator)


def create_tenant(identity: Identity, tenants: TenantsTable, body: dict[str, Any]) -> dict[str, Any]:
    require_operator(identity)
    fields = validate_fields(
        body,
        (
            Field("tenant", text(64, pattern=TENANT_ID), required=True),
            Field("name", text(MAX_NAME_LENGTH)),
        ),
    )
    try:
        return tenants.create_tenant(fields["tenant"], fields.get("name") or fields["tenant"])
    except TenantExists:
        raise Conflict("tenant: exists already") from None


def list_tenants(identity: Identity, tenants: TenantsTable, *, limit: int, after: str | None) -> dict[str, Any]:
    require_operator(identity)
    if after is not None and not is_valid_tenant_id(after):
        raise BadRequest("after: must be a tenant id")
    found, next_after = tenants.list_tenants(limit, after)
    return {"tenants": found, "next": next_after}


def set_tenant_status(
    identity: Identity, tenants: TenantsTable, revocations: Revocations, tenant: str, status: str
) -> dict[str, Any]:
    require_operator(identity)
    require_tenant_id(tenant)
    try:
        profile = tenants.set_status(tenant, status)
    except TenantNotFound:
        raise NotFound("Not found") from None
    if status == auth_contract.TENANT_SUSPENDED:
        # The trigger now refuses new tokens; this refuses the ones already out.
        revocations.revoke_tenant(tenant, "tenant suspended", now=including_this_second())
    return profile


# --------------------------------------------------------------------------- members (tenant admin)


def _existing_tenant(tenants: TenantsTable, tenant: str) -> dict[str, Any]:
    profile = tenants.tenant(require_tenant_id(tenant))
    if profile is None:
        raise NotFound("Not found")
    return profile


def list_members(identity: Identity, tenants: TenantsTable, tenant: str) -> dict[str, Any]:
    require_tenant_admin(identity, tenant)
    _existing_tenant(tenants, tenant)
    return {"tenant": tenant, "members": sorted(tenants.members(tenant), key=lambda m: m.get(EMAIL) or m[USERNAME])}


def add_member(
    identity: Identity, tenants: TenantsTable, pool: UserPool, tenant: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Invite (`email`: a new user, Cognito emails them) or link (`username`: an existing
    tenant-less user, e.g. `google_1234` or a self-signed-up user), with a tenant role."""
    require_tenant_admin(identity, tenant)
    fields = validate_fields(
        body,
        (
            Field("email", text(254, pattern=EMAIL_PATTERN)),
            Field("username", text(128, pattern=USERNAME_PATTERN)),
            Field("role", text(32), required=True),
        ),
    )
    role = _role(fields)
    if ("email" in fields) == ("username" in fields):
        raise BadRequest("email or username: give exactly one (email invites a new user, username links one)")
    _existing_tenant(tenants, tenant)
    if "email" in fields:
        user = _invited(pool, tenant, fields["email"].lower())
    else:
        user = _linkable(tenants, pool, tenant, fields["username"])
    try:
        member = tenants.add_member(tenant, sub=user.sub, username=user.username, email=user.email, role=role)
        status = 201
    except AlreadyMember:
        existing = tenants.member(tenant, user.sub)
        if existing is None:
            raise Conflict("user: is a member of another tenant") from None
        member, status = existing, 200
    pool.set_role(user, member[ROLE])
    return status, member


def _invited(pool: UserPool, tenant: str, email: str) -> PoolUser:
    try:
        return pool.invite(email, tenant)
    except ClientError as error:
        if not _is_code(error, "UsernameExistsException", "AliasExistsException"):
            raise
    existing = pool.get(email)
    if existing is not None and existing.tenant == tenant:
        return existing  # invited before: the retry completes the membership
    raise Conflict("email: a user with this email exists; link them by their user name instead") from None


def _linkable(tenants: TenantsTable, pool: UserPool, tenant: str, username: str) -> PoolUser:
    user = pool.get(username)
    if user is None:
        raise NotFound("user: not found")
    if auth_contract.PLATFORM_OPERATOR in user.groups:
        raise Conflict("user: a platform operator has no tenant")
    if user.tenant is not None and user.tenant != tenant:
        raise Conflict("user: is a member of another tenant")
    linked = tenants.tenant_of_user(user.sub)
    if linked is not None and linked != tenant:
        raise Conflict("user: is a member of another tenant")
    return user


def _member(tenants: TenantsTable, tenant: str, sub: str) -> dict[str, Any]:
    if not SUB_PATTERN.fullmatch(sub):
        raise NotFound("Not found")
    member = tenants.member(tenant, sub)
    if member is None:
        raise NotFound("Not found")
    return member


def _not_yourself(identity: Identity, sub: str) -> None:
    # A tenant admin who demoted or removed themselves could lock the tenant out of its own
    # administration; another admin or an operator can.
    if sub == identity.sub and not identity.is_operator:
        raise Conflict("user: you cannot change or remove your own membership")


def change_member(
    identity: Identity,
    tenants: TenantsTable,
    pool: UserPool,
    revocations: Revocations,
    tenant: str,
    sub: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """A new role (`role`), and/or the account disabled or enabled again (`enabled`)."""
    require_tenant_admin(identity, tenant)
    fields = validate_fields(body, (Field("role", text(32)), Field("enabled", _boolean)))
    if not fields:
        raise BadRequest("role or enabled: give at least one")
    role = _role(fields) if "role" in fields else None
    enabled = fields.get("enabled")
    require_tenant_id(tenant)
    member = _member(tenants, tenant, sub)
    _not_yourself(identity, sub)
    user = pool.get(member[USERNAME])
    if user is None:
        raise NotFound("Not found")
    if role is not None:
        pool.set_role(user, role)
    if enabled is not None:
        pool.set_enabled(user, enabled)
    updated = tenants.update_member(tenant, sub, role=role, enabled=enabled)
    if role is not None or enabled is False:
        # Tokens issued before now carry the old role, or belong to a disabled account: refuse
        # them. The next token has the new role; a disabled account gets none
        # (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminDisableUser.html).
        if enabled is False:
            revocations.revoke_user(sub, "disabled", now=including_this_second())
        else:
            revocations.revoke_user(sub, "role changed")
    return updated


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"{name}: must be true or false")
    return value


def remove_member(
    identity: Identity, tenants: TenantsTable, pool: UserPool, revocations: Revocations, tenant: str, sub: str
) -> None:
    """An invited user (tenant attribute = this tenant) is deleted: the immutable attribute cannot
    be stripped, and the account exists only for this tenant. A linked user (social, self
    sign-up) keeps their account and goes back to waiting for an invitation."""
    require_tenant_admin(identity, tenant)
    require_tenant_id(tenant)
    member = _member(tenants, tenant, sub)
    _not_yourself(identity, sub)
    user = pool.get(member[USERNAME])
    if user is not None:
        if user.tenant == tenant:
            pool.delete(user)
        else:
            pool.strip_roles(user)
    try:
        tenants.remove_member(tenant, sub)
    except MemberNotFound:
        raise NotFound("Not found") from None
    revocations.revoke_user(sub, "removed from tenant", now=including_this_second())
