"""The one place that turns what an authorizer passes to a Lambda into a typed `Identity`.

Two shapes arrive (payload format 2.0):

- the native JWT authorizer: `requestContext.authorizer.jwt.claims` (every value a string:
  `"exp": "1787996002"`, lists flattened Go-style as `"[admin editor]"`) and
  `requestContext.authorizer.jwt.scopes` (a list, or `null`);
- the tenant-path Lambda authorizer: `requestContext.authorizer.lambda`, the context it returned
  (`tenant`, `roles`, `sub`, `client_id`, `scopes`, `username`, `token_use`, and for the revocation
  check `origin_jti`, `iat`, `exp`).

A list value may be a real list, the bracket form, JSON text or one value (values separated by
single spaces are split, as RFC 6749 separates scopes: a tab or any other whitespace splits
nothing, and an item holding one is refused). API scopes qualified by the resource server (`<identifier>/items.read`) become their
short names (`items.read`); a scope of any other resource server keeps its full name, and a bare
API scope name is dropped, so neither ever matches an API scope. Anything malformed raises `ClaimsError`, and nothing else: handlers never
read raw claims.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import auth_contract

RESOURCE_SERVER_ENV = "RESOURCE_SERVER_IDENTIFIER"
MAX_VALUE_LENGTH = 256
MAX_LIST_ITEMS = 64

# Values of the token_use claim (not secrets).
ACCESS_TOKEN = "access"  # noqa: S105
ID_TOKEN = "id"  # noqa: S105


class ClaimsError(ValueError):
    """The authorizer's output is missing or malformed. The message names the claim, never its value."""


@dataclass(frozen=True)
class Identity:
    """The caller as every handler sees it."""

    sub: str
    username: str | None
    tenant: str | None
    roles: frozenset[str]
    scopes: frozenset[str]
    client_id: str | None
    token_use: str | None
    # What the revocation check reads (shared/revocation.py): the sign-in session and when the
    # token was issued and expires (epoch seconds).
    origin_jti: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def has_scope(self, *scopes: str) -> bool:
        return any(scope in self.scopes for scope in scopes)

    @property
    def is_admin(self) -> bool:
        """A TENANT admin: administers `tenant` only."""
        return auth_contract.ADMIN in self.roles

    @property
    def is_operator(self) -> bool:
        """A platform operator: the role and its scope (both, so neither alone grants anything)."""
        return auth_contract.PLATFORM_OPERATOR in self.roles and auth_contract.PLATFORM_SCOPE in self.scopes

    def may_act_on_tenant(self, tenant: str) -> bool:
        """Whether this caller may act on `tenant` at all: its own tenant, or any for an operator.
        What it may do there is the route's and the handler's role check."""
        return self.is_operator or (self.tenant is not None and tenant == self.tenant)

    @property
    def is_access_token(self) -> bool:
        return self.token_use == ACCESS_TOKEN

    @property
    def is_machine(self) -> bool:
        """A client-credentials token: it speaks for the client itself, not for a user."""
        return (
            self.is_access_token and self.username is None and self.client_id is not None and self.sub == self.client_id
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "username": self.username,
            "tenant": self.tenant,
            "roles": [role for role in auth_contract.ROLES if role in self.roles],
            "scopes": sorted(self.scopes),
            "client_id": self.client_id,
            "token_use": self.token_use,
        }


# --------------------------------------------------------------------------- values


def _text(value: Any, name: str, max_length: int = MAX_VALUE_LENGTH) -> str:
    """One string value: non-empty, bounded, printable, without surrounding whitespace."""
    if not isinstance(value, str):
        raise ClaimsError(f"claim {name!r}: expected a string")
    if not value or len(value) > max_length or value != value.strip() or not value.isprintable():
        raise ClaimsError(f"claim {name!r}: expected 1 to {max_length} printable characters")
    return value


def is_tenant_id(value: Any) -> TypeGuard[str]:
    """Whether `value` is a tenant id: the contract's one grammar, for claims and `{tenantId}` alike."""
    return auth_contract.is_tenant_id(value)


def _optional_text(value: Any, name: str, max_length: int = MAX_VALUE_LENGTH) -> str | None:
    if value is None:
        return None
    return _text(value, name, max_length)


def parse_list(value: Any, name: str) -> tuple[str, ...]:
    """A list claim in any of the forms it arrives in: a real list, `"[a b]"`, `'["a","b"]'`, `"a b"`, `"a"`."""
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            inner = text[1:-1].strip()
            if inner.startswith('"'):
                try:
                    decoded = json.loads(text)
                except ValueError:
                    raise ClaimsError(f"claim {name!r}: malformed list") from None
                if not isinstance(decoded, list):
                    raise ClaimsError(f"claim {name!r}: malformed list")
                return parse_list(decoded, name)
            items: Iterable[Any] = _split_on_spaces(inner)
        else:
            items = _split_on_spaces(text)
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise ClaimsError(f"claim {name!r}: expected a list or a string")
    result = tuple(_text(item, name) for item in items)
    if len(result) > MAX_LIST_ITEMS:
        raise ClaimsError(f"claim {name!r}: more than {MAX_LIST_ITEMS} values")
    return result


def _split_on_spaces(text: str) -> list[str]:
    # Only U+0020: str.split() would also split on tabs, newlines, U+00A0, U+001C..., turning
    # "openid<TAB>rs/admin" into an extra scope. An item holding such a character fails _text.
    return [item for item in text.split(" ") if item]


def short_scope(scope: str, resource_server: str | None) -> str | None:
    """`<resource server>/items.read` → `items.read`; a bare API scope name → None; any other scope unchanged.

    Only this resource server issues API scopes, always qualified: a bare `items.read` (which a
    trigger or another issuer could put in a token) grants nothing, so it cannot pass for one.
    """
    if resource_server:
        prefix = auth_contract.qualified_scope(resource_server, "")
        if scope.startswith(prefix) and len(scope) > len(prefix):
            return scope[len(prefix) :]
    if scope in auth_contract.API_SCOPES:
        return None
    return scope


def _epoch(value: Any, name: str) -> int | None:
    """A NumericDate claim: a real number, or its decimal text as the JWT authorizer passes it on."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ClaimsError(f"claim {name!r}: expected a number of seconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and 0 < len(value) <= 12 and value.isascii() and value.isdigit():
        return int(value)
    raise ClaimsError(f"claim {name!r}: expected a number of seconds")


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ClaimsError(f"{name}: expected an object")
    return value


# --------------------------------------------------------------------------- identity


def parse_identity(event: Any, resource_server: str | None = None) -> Identity:
    """The caller of an HTTP API (payload 2.0) request, from whichever authorizer let it in.

    `resource_server` defaults to the `RESOURCE_SERVER_IDENTIFIER` environment variable.
    """
    if resource_server is None:
        resource_server = os.environ.get(RESOURCE_SERVER_ENV) or None
    request_context = _mapping(_mapping(event, "event").get("requestContext"), "requestContext")
    authorizer = _mapping(request_context.get("authorizer"), "requestContext.authorizer")
    if "jwt" in authorizer:
        jwt = _mapping(authorizer["jwt"], "requestContext.authorizer.jwt")
        return _from_jwt(
            _mapping(jwt.get("claims"), "requestContext.authorizer.jwt.claims"), jwt.get("scopes"), resource_server
        )
    if "lambda" in authorizer:
        return _from_lambda(_mapping(authorizer["lambda"], "requestContext.authorizer.lambda"), resource_server)
    raise ClaimsError("requestContext.authorizer: neither a JWT nor a Lambda authorizer result")


def _tenant(value: Any) -> str | None:
    if value is None:
        return None
    if not is_tenant_id(value):
        raise ClaimsError(f"claim {auth_contract.TENANT_CLAIM!r}: expected {auth_contract.TENANT_ID_RULE}")
    return value


def _scopes(values: Iterable[str], resource_server: str | None) -> frozenset[str]:
    return frozenset(short for scope in values if (short := short_scope(scope, resource_server)) is not None)


def _roles(value: Any) -> frozenset[str]:
    # Only the contract's roles grant anything; other groups (say, a federation group) are ignored.
    return frozenset(role for role in parse_list(value, auth_contract.ROLES_CLAIM) if role in auth_contract.ROLES)


def _from_jwt(claims: Mapping[str, Any], scopes: Any, resource_server: str | None) -> Identity:
    token_use = _optional_text(claims.get("token_use"), "token_use")
    if token_use == ID_TOKEN:
        # ID tokens carry the client in `aud` and the user name in `cognito:username`.
        client_id = _optional_text(claims.get("aud"), "aud")
        username = _optional_text(claims.get("cognito:username"), "cognito:username")
    else:
        client_id = _optional_text(claims.get("client_id"), "client_id")
        username = _optional_text(claims.get("username"), "username")
    granted = parse_list(scopes, "scopes") + parse_list(claims.get("scope"), "scope")
    return Identity(
        sub=_text(claims.get("sub"), "sub"),
        username=username,
        tenant=_tenant(claims.get(auth_contract.TENANT_CLAIM)),
        roles=_roles(claims.get(auth_contract.ROLES_CLAIM)),
        scopes=_scopes(granted, resource_server),
        client_id=client_id,
        token_use=token_use,
        origin_jti=_optional_text(claims.get("origin_jti"), "origin_jti"),
        issued_at=_epoch(claims.get("iat"), "iat"),
        expires_at=_epoch(claims.get("exp"), "exp"),
    )


def _from_lambda(context: Mapping[str, Any], resource_server: str | None) -> Identity:
    return Identity(
        sub=_text(context.get("sub"), "sub"),
        username=_optional_text(context.get("username") or None, "username"),
        tenant=_tenant(context.get("tenant") or None),
        roles=_roles(context.get("roles")),
        scopes=_scopes(parse_list(context.get("scopes"), "scopes"), resource_server),
        client_id=_optional_text(context.get("client_id") or None, "client_id"),
        token_use=_optional_text(context.get("token_use") or None, "token_use"),
        origin_jti=_optional_text(context.get("origin_jti") or None, "origin_jti"),
        issued_at=_epoch(context.get("iat"), "iat"),
        expires_at=_epoch(context.get("exp"), "exp"),
    )
