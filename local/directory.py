"""The user directory: moto's Cognito user pools, reached through its API like any client would.

moto keeps pools, app clients, groups and users and checks passwords well; this module is the one
place the local issuer asks it things. The only thing moto's API cannot give is a password
verifier for SRP, so `password_of` reads the stored password from moto's in-process backend (moto
runs in this process; Cognito itself keeps only the verifier).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

DEFAULT_EXPLICIT_AUTH_FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_CUSTOM_AUTH")
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
DEFAULT_VALIDITY = {"AccessToken": (60, "minutes"), "IdToken": (60, "minutes"), "RefreshToken": (30, "days")}
VALIDITY_PROPERTY = {
    "AccessToken": "AccessTokenValidity",
    "IdToken": "IdTokenValidity",
    "RefreshToken": "RefreshTokenValidity",
}
# Cognito's defaults when TokenValidityUnits leaves a token out.
DEFAULT_UNITS = {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}


class DirectoryError(Exception):
    """moto refused: `code` is Cognito's error code (UserNotFoundException, NotAuthorizedException...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AppClient:
    """An app client's configuration, as DescribeUserPoolClient returns it."""

    pool_id: str
    raw: dict[str, Any]

    @property
    def client_id(self) -> str:
        return self.raw["ClientId"]

    @property
    def secret(self) -> str | None:
        return self.raw.get("ClientSecret")

    @property
    def explicit_auth_flows(self) -> tuple[str, ...]:
        return tuple(self.raw.get("ExplicitAuthFlows") or DEFAULT_EXPLICIT_AUTH_FLOWS)

    def allows(self, flow: str) -> bool:
        return f"ALLOW_{flow}" in self.explicit_auth_flows

    @property
    def oauth_flows(self) -> tuple[str, ...]:
        if not self.raw.get("AllowedOAuthFlowsUserPoolClient"):
            return ()
        return tuple(self.raw.get("AllowedOAuthFlows") or ())

    @property
    def oauth_scopes(self) -> tuple[str, ...]:
        return tuple(self.raw.get("AllowedOAuthScopes") or ())

    @property
    def read_attributes(self) -> tuple[str, ...]:
        return tuple(self.raw.get("ReadAttributes") or ())

    @property
    def write_attributes(self) -> tuple[str, ...]:
        return tuple(self.raw.get("WriteAttributes") or ())

    @property
    def callback_urls(self) -> tuple[str, ...]:
        return tuple(self.raw.get("CallbackURLs") or ())

    @property
    def revocation_enabled(self) -> bool:
        return bool(self.raw.get("EnableTokenRevocation", True))

    @property
    def prevents_user_existence_errors(self) -> bool:
        return self.raw.get("PreventUserExistenceErrors") == "ENABLED"

    def validity_seconds(self, token: str) -> int:
        """Lifetime of "AccessToken", "IdToken" or "RefreshToken" from the client's validity and units."""
        value = self.raw.get(VALIDITY_PROPERTY[token])
        if value is None:
            value, unit = DEFAULT_VALIDITY[token]
        else:
            unit = (self.raw.get("TokenValidityUnits") or {}).get(token, DEFAULT_UNITS[token])
        return int(value) * UNIT_SECONDS[unit]


@dataclass(frozen=True)
class User:
    pool_id: str
    username: str
    attributes: dict[str, str]
    enabled: bool
    status: str
    groups: tuple[str, ...] = field(default=())

    @property
    def sub(self) -> str:
        return self.attributes.get("sub", self.username)


class UserDirectory:
    """Pools, clients, users and groups kept by moto."""

    def __init__(
        self,
        cognito: Any,
        password_reader: Callable[[str, str], str | None] | None = None,
        federated_user_writer: Callable[[str, str, dict[str, str]], None] | None = None,
    ) -> None:
        self.cognito = cognito
        self._password_reader = password_reader
        self._federated_user_writer = federated_user_writer
        self._client_pools: dict[str, str] = {}

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return getattr(self.cognito, operation)(**params)
        except ClientError as error:
            raise DirectoryError(error.response["Error"]["Code"], error.response["Error"].get("Message", "")) from None

    # ------------------------------------------------------------------ pools and clients

    def pool(self, pool_id: str) -> dict[str, Any]:
        return self._call("describe_user_pool", UserPoolId=pool_id)["UserPool"]

    def pool_exists(self, pool_id: str) -> bool:
        try:
            self.pool(pool_id)
        except DirectoryError:
            return False
        return True

    def _pages(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a list call (clients made at run time can outgrow one page)."""
        items: list[dict[str, Any]] = []
        while True:
            answer = self._call(operation, **params)
            items += answer.get(key, [])
            token = answer.get("NextToken")
            if not token:
                return items
            params["NextToken"] = token

    def pool_of_client(self, client_id: str) -> str:
        """The pool of a client, looked up again whenever the id is new (clients are made at run time)."""
        if client_id not in self._client_pools:
            for pool in self._pages("list_user_pools", "UserPools", MaxResults=60):
                for client in self._pages(
                    "list_user_pool_clients", "UserPoolClients", UserPoolId=pool["Id"], MaxResults=60
                ):
                    self._client_pools[client["ClientId"]] = pool["Id"]
        if client_id not in self._client_pools:
            raise DirectoryError("ResourceNotFoundException", "User pool client does not exist.")
        return self._client_pools[client_id]

    def client(self, client_id: str, pool_id: str | None = None) -> AppClient:
        pool_id = pool_id or self.pool_of_client(client_id)
        raw = self._call("describe_user_pool_client", UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
        return AppClient(pool_id=pool_id, raw=raw)

    def resource_server_scopes(self, pool_id: str) -> set[str]:
        servers = self._call("list_resource_servers", UserPoolId=pool_id, MaxResults=50)["ResourceServers"]
        return {
            f"{server['Identifier']}/{scope['ScopeName']}" for server in servers for scope in server.get("Scopes", [])
        }

    # ------------------------------------------------------------------ users

    def user(self, pool_id: str, username: str) -> User:
        raw = self._call("admin_get_user", UserPoolId=pool_id, Username=username)
        attributes = {item["Name"]: item["Value"] for item in raw.get("UserAttributes", [])}
        groups = self._call("admin_list_groups_for_user", UserPoolId=pool_id, Username=raw["Username"])["Groups"]
        ordered = sorted(groups, key=lambda group: (group.get("Precedence") is None, group.get("Precedence") or 0))
        return User(
            pool_id=pool_id,
            username=raw["Username"],
            attributes=attributes,
            enabled=bool(raw.get("Enabled", True)),
            status=raw.get("UserStatus", "CONFIRMED"),
            groups=tuple(group["GroupName"] for group in ordered),
        )

    def check_password(self, pool_id: str, client_id: str, username: str, password: str) -> dict[str, Any]:
        """moto's answer to the password: an AuthenticationResult (its tokens are discarded) or a challenge."""
        return self._call(
            "admin_initiate_auth",
            UserPoolId=pool_id,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )

    def respond_to_challenge(
        self, pool_id: str, client_id: str, challenge: str, session: str, responses: dict[str, str]
    ) -> dict[str, Any]:
        return self._call(
            "admin_respond_to_auth_challenge",
            UserPoolId=pool_id,
            ClientId=client_id,
            ChallengeName=challenge,
            Session=session,
            ChallengeResponses=responses,
        )

    def set_password(self, pool_id: str, username: str, password: str, *, permanent: bool) -> None:
        self._call(
            "admin_set_user_password", UserPoolId=pool_id, Username=username, Password=password, Permanent=permanent
        )

    def update_attributes(self, pool_id: str, username: str, attributes: list[dict[str, str]]) -> None:
        self._call("admin_update_user_attributes", UserPoolId=pool_id, Username=username, UserAttributes=attributes)

    def password_of(self, pool_id: str, username: str) -> str | None:
        return self._password_reader(pool_id, username) if self._password_reader else None

    def ensure_federated_user(self, pool_id: str, username: str, attributes: dict[str, str]) -> User:
        """The user Cognito creates at a federated user's first sign-in (`<provider>_<id>`, no
        password, the `identities` attribute), or the existing one."""
        try:
            return self.user(pool_id, username)
        except DirectoryError as error:
            if error.code != "UserNotFoundException" or self._federated_user_writer is None:
                raise
        self._federated_user_writer(pool_id, username, attributes)
        return self.user(pool_id, username)


def moto_password_reader(account_id: str, region: str) -> Callable[[str, str], str | None]:
    """Reads a user's password from moto's in-process backend (for the SRP verifier)."""

    def read(pool_id: str, username: str) -> str | None:
        from moto.cognitoidp.models import cognitoidp_backends

        pool = cognitoidp_backends[account_id][region].user_pools.get(pool_id)
        user = pool._get_user(username) if pool else None
        return getattr(user, "password", None)

    return read


def moto_federated_user_writer(account_id: str, region: str) -> Callable[[str, str, dict[str, str]], None]:
    """Adds a federated user to moto's in-process backend. Its API cannot: AdminCreateUser in a pool
    whose users sign in with their email insists on an email as the user name, and refuses the
    service-managed `identities` attribute."""

    def write(pool_id: str, username: str, attributes: dict[str, str]) -> None:
        from moto.cognitoidp.models import CognitoIdpUser, UserStatus, cognitoidp_backends

        pool = cognitoidp_backends[account_id][region].user_pools[pool_id]
        listed = [{"Name": name, "Value": value} for name, value in attributes.items()]
        pool.users[username] = CognitoIdpUser(pool_id, username, None, UserStatus.CONFIRMED, listed)

    return write
