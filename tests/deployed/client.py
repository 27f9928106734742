"""Small HTTP and Cognito helpers for the deployed-stack suite (standard library + boto3)."""

from __future__ import annotations

import base64
import json
import secrets
import string
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import auth_contract

TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer to check, not to follow
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def call(
    method: str, url: str, *, token: str | None = None, body: Any = None, form: dict | None = None, auth=None
) -> Reply:
    """One request, never following redirects; any status comes back as a Reply."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    headers = {"accept": "application/json"}
    data = None
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if body is not None:
        headers["content-type"] = "application/json"
        data = json.dumps(body).encode()
    if form is not None:
        headers["content-type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form).encode()
    if auth is not None:
        user, password = auth
        headers["authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (checked above)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return _reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return _reply(error.code, error.headers, error.read())


def _reply(status: int, headers, raw: bytes) -> Reply:
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    return Reply(status=status, headers={k.lower(): v for k, v in headers.items()}, body=body)


def new_password() -> str:
    """A fresh password meeting the pool's policy (12+ characters of every class)."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return core + secrets.choice(string.ascii_uppercase) + secrets.choice(string.ascii_lowercase) + "7!"


@dataclass(frozen=True)
class DeployedUser:
    tenant: str
    role: str
    email: str
    password: str


def create_user(cognito: Any, pool_id: str, *, tenant: str, role: str, email: str) -> DeployedUser:
    """A confirmed user with a verified email, the tenant attribute (admin-set: clients cannot
    write it) and one role group."""
    password = new_password()
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=email,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": tenant},
        ],
    )
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=role)
    return DeployedUser(tenant=tenant, role=role, email=email, password=password)


def sign_in(cognito: Any, client_id: str, user: DeployedUser) -> dict[str, str]:
    """ID and access tokens for `user` through USER_PASSWORD_AUTH on the public client."""
    result = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.email, "PASSWORD": user.password},
    )
    if "AuthenticationResult" not in result:
        raise AssertionError(
            f"sign-in of {user.email} asked for {result.get('ChallengeName')}: run the deployed suite against an "
            "environment with identity.allow_password_auth true and identity.mfa not REQUIRED (dev)"
        )
    tokens = result["AuthenticationResult"]
    return {"access": tokens["AccessToken"], "id": tokens["IdToken"]}


def client_credentials_token(token_url: str, client_id: str, client_secret: str, scope: str) -> str:
    reply = call(
        "POST",
        token_url,
        form={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, client_secret),
    )
    if reply.status != 200:
        raise AssertionError(f"client-credentials token request failed: {reply.status} {reply.body}")
    return reply.body["access_token"]
