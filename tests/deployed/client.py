"""The deployed stack as the end-to-end scenario sees a stack: `call`, `user`, `sign_in`,
`machine_token`, the tenants' and the platform's machine clients — the interface of
`local.testing.RunningStack`, over HTTPS and real Cognito."""

from __future__ import annotations

import base64
import json
import secrets
import string
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import auth_contract
from tests.deployed.deployment import Deployment

TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer to check, not to follow
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def request(method: str, url: str, *, headers: dict[str, str] | None = None, data: bytes | None = None) -> Response:
    """One HTTP(S) request, never following redirects; every status comes back as a Response."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"not an http(s) URL: {url}")
    prepared = urllib.request.Request(url, data=data, headers=headers or {}, method=method)  # noqa: S310 (checked)
    try:
        with _OPENER.open(prepared, timeout=TIMEOUT_SECONDS) as response:
            return Response(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def new_password() -> str:
    """A fresh password meeting the pool's policy (12+ characters of every class)."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return core + secrets.choice(string.ascii_uppercase) + secrets.choice(string.ascii_lowercase) + "7!"


@dataclass
class DeployedStack:
    deployment: Deployment
    cognito: Any  # boto3 cognito-idp client of the deployment's region
    machine_secret: str  # of the platform's own client (the MachineClientId output)
    users: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    tenant_clients: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ensure_tenants(self, tenants: tuple[str, ...], dynamodb: Any = None) -> None:
        """The scenario's tenants exist and are active in the tenants table (users of a tenant the
        table does not know get no tokens). Written directly, with the suite's AWS credentials, as
        an operator's `tenants create` would; an existing tenant is left as it is."""
        if not self.deployment.tenants_table:
            raise AssertionError("the identity stack has no TenantsTableName output: deploy the current stacks")
        import boto3
        from botocore.exceptions import ClientError

        client = dynamodb or boto3.client("dynamodb", region_name=self.deployment.region)
        for tenant in tenants:
            try:
                client.put_item(
                    TableName=self.deployment.tenants_table,
                    Item={
                        auth_contract.TABLE_PARTITION_KEY: {"S": f"{auth_contract.TENANT_KEY_PREFIX}{tenant}"},
                        auth_contract.TABLE_SORT_KEY: {"S": auth_contract.TENANT_PROFILE_SORT_KEY},
                        "display_name": {"S": tenant},
                        "status": {"S": auth_contract.TENANT_ACTIVE},
                    },
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": auth_contract.TABLE_PARTITION_KEY},
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

    def create_user(self, *, tenant: str, role: str, email: str) -> dict[str, str]:
        """A confirmed user with a verified e-mail, the tenant attribute (set by an admin: no
        client may write it) and one role group."""
        password = new_password()
        pool = self.deployment.user_pool_id
        self.cognito.admin_create_user(
            UserPoolId=pool,
            Username=email,
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": tenant},
            ],
        )
        user = {"tenant": tenant, "role": role, "email": email, "password": password}
        self.users[(tenant, role)] = user
        self.cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=password, Permanent=True)
        self.cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=role)
        return user

    def create_machine_client(self, tenant: str) -> dict[str, Any]:
        """A machine client of the tenant, made through the API by the tenant's admin (created first)."""
        admin = self.users[(tenant, auth_contract.ADMIN)]
        token = self.sign_in(admin["email"], admin["password"])["AccessToken"]
        response = self.call(
            "POST", f"/tenants/{tenant}/machine-clients", token=token, body={"name": f"deployed-suite-{tenant}"}
        )
        if response.status != 201:
            raise AssertionError(
                f"creating {tenant}'s machine client failed: {response.status} {response.raw!r} "
                "(the deployment needs the tenant to exist and be active)"
            )
        self.tenant_clients[tenant] = {**response.json(), "tenant": tenant}
        return self.tenant_clients[tenant]

    def delete_machine_clients(self) -> None:
        """Deletes the clients this run made (before the admins who made them are deleted)."""
        for tenant, client in list(self.tenant_clients.items()):
            admin = self.users[(tenant, auth_contract.ADMIN)]
            token = self.sign_in(admin["email"], admin["password"])["AccessToken"]
            self.call("DELETE", f"/tenants/{tenant}/machine-clients/{client['client_id']}", token=token)
            del self.tenant_clients[tenant]

    def delete_users(self) -> None:
        for user in self.users.values():
            self.cognito.admin_delete_user(UserPoolId=self.deployment.user_pool_id, Username=user["email"])
        self.users.clear()

    # -------------------------------------------------------------- the scenario's interface

    def user(self, tenant: str, role: str) -> dict[str, str]:
        return self.users[(tenant, role)]

    def sign_in(self, email: str, password: str) -> dict[str, Any]:
        """USER_PASSWORD_AUTH with the SPA client: AccessToken, IdToken, RefreshToken, ExpiresIn."""
        answer = self.cognito.initiate_auth(
            ClientId=self.deployment.spa_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        if "AuthenticationResult" not in answer:
            raise AssertionError(
                f"sign-in of {email} asked for {answer.get('ChallengeName')}: run the deployed suite against an "
                "environment with identity.allow_password_auth true and identity.mfa not REQUIRED (dev)"
            )
        return answer["AuthenticationResult"]

    @property
    def machine_client(self) -> dict[str, Any]:
        """The first tenant's machine client."""
        return next(iter(self.tenant_clients.values()))

    def machine_client_of(self, tenant: str) -> dict[str, Any]:
        return self.tenant_clients[tenant]

    @property
    def platform_client(self) -> dict[str, Any]:
        return {"client_id": self.deployment.machine_client_id, "client_secret": self.machine_secret, "tenant": ""}

    def client_credentials(self, client: dict[str, Any], scope: str | None = None) -> Response:
        credentials = f"{client['client_id']}:{client['client_secret']}".encode()
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        return request(
            "POST",
            f"{self.deployment.managed_login_url}/oauth2/token",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "Basic " + base64.b64encode(credentials).decode(),
            },
            data=urllib.parse.urlencode(form).encode(),
        )

    def machine_token(self, scope: str | None = None, client: dict[str, Any] | None = None) -> str:
        """A client-credentials token of `client` (default: the first tenant's machine client)."""
        response = self.client_credentials(client or self.machine_client, scope)
        if response.status != 200:
            raise AssertionError(f"client-credentials token request failed: {response.status} {response.raw!r}")
        return response.json()["access_token"]

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """One request to the deployed HTTP API."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        return request(method, self.deployment.api(path), headers=all_headers, data=data)
