"""Getting, refreshing and revoking tokens: Cognito's API through boto3, and its OAuth 2.0 endpoints.

User sign-in is SRP (`USER_SRP_AUTH`: the password never leaves this process), password
(`USER_PASSWORD_AUTH`, where the app client allows it), or the hosted UI with the authorization
code flow and PKCE through a loopback redirect. Machine clients use client credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from client.endpoints import Endpoints
from client.srp import ClientSession

HTTP_TIMEOUT_SECONDS = 10


class AuthError(Exception):
    """Sign-in, refresh or revocation failed; the message is for the person at the terminal."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    id_token: str | None = None
    refresh_token: str | None = None

    @classmethod
    def from_cognito(cls, result: dict[str, Any]) -> Tokens:
        return cls(
            access_token=result["AccessToken"],
            expires_in=int(result.get("ExpiresIn", 0)),
            id_token=result.get("IdToken"),
            refresh_token=result.get("RefreshToken"),
        )

    @classmethod
    def from_oauth(cls, result: dict[str, Any]) -> Tokens:
        return cls(
            access_token=result["access_token"],
            expires_in=int(result.get("expires_in", 0)),
            id_token=result.get("id_token"),
            refresh_token=result.get("refresh_token"),
        )


def secret_hash(client_id: str, client_secret: str, username: str) -> str:
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class CognitoAuth:
    """Sign-in through Cognito's user API (unsigned calls: no AWS credentials are needed or read)."""

    def __init__(
        self, endpoints: Endpoints, client_secret: str | None = None, mfa_code: Callable[[], str] | None = None
    ) -> None:
        """`mfa_code` asks for a one-time code when the pool wants one (SOFTWARE_TOKEN_MFA)."""
        self.endpoints = endpoints
        self.client_secret = client_secret
        self.mfa_code = mfa_code
        self.idp = boto3.client(
            "cognito-idp",
            region_name=endpoints.region,
            endpoint_url=endpoints.cognito_endpoint,
            config=Config(signature_version=UNSIGNED, retries={"max_attempts": 2}, connect_timeout=5, read_timeout=15),
        )

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self.idp, operation)(**params)
            return answer
        except ClientError as error:
            raise AuthError(
                f"{error.response['Error']['Code']}: {error.response['Error'].get('Message', '')}"
            ) from None
        except BotoCoreError as error:
            raise AuthError(f"cannot reach Cognito at {self.endpoints.cognito_endpoint}: {error}") from None

    def _with_secret(self, parameters: dict[str, str], username: str) -> dict[str, str]:
        if self.client_secret:
            parameters["SECRET_HASH"] = secret_hash(self.endpoints.spa_client_id, self.client_secret, username)
        return parameters

    def _result(self, answer: dict[str, Any], username: str = "") -> Tokens:
        if "AuthenticationResult" in answer:
            return Tokens.from_cognito(answer["AuthenticationResult"])
        challenge = answer.get("ChallengeName", "an unknown challenge")
        if challenge == "SOFTWARE_TOKEN_MFA" and self.mfa_code is not None:
            name = (answer.get("ChallengeParameters") or {}).get("USER_ID_FOR_SRP") or username
            responses = self._with_secret({"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": self.mfa_code()}, username)
            followed = self._call(
                "respond_to_auth_challenge",
                ClientId=self.endpoints.spa_client_id,
                ChallengeName=challenge,
                Session=answer.get("Session", ""),
                ChallengeResponses=responses,
            )
            return self._result(followed, username)
        if challenge == "NEW_PASSWORD_REQUIRED":
            raise AuthError("this user must set a new password first (sign in once through the hosted UI)")
        if challenge == "MFA_SETUP":
            raise AuthError("this user must set up an authenticator app first (sign in once through the hosted UI)")
        raise AuthError(f"sign-in needs {challenge}, which this client does not handle")

    def login_password(self, username: str, password: str) -> Tokens:
        answer = self._call(
            "initiate_auth",
            ClientId=self.endpoints.spa_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters=self._with_secret({"USERNAME": username, "PASSWORD": password}, username),
        )
        return self._result(answer, username)

    def login_srp(self, username: str, password: str) -> Tokens:
        srp = ClientSession(self.endpoints.user_pool_id)
        answer = self._call(
            "initiate_auth",
            ClientId=self.endpoints.spa_client_id,
            AuthFlow="USER_SRP_AUTH",
            AuthParameters=self._with_secret({"USERNAME": username, "SRP_A": srp.srp_a}, username),
        )
        if answer.get("ChallengeName") != "PASSWORD_VERIFIER":
            return self._result(answer, username)
        responses = self._with_secret(srp.respond(answer["ChallengeParameters"], password), username)
        params: dict[str, Any] = {
            "ClientId": self.endpoints.spa_client_id,
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeResponses": responses,
        }
        if answer.get("Session"):
            params["Session"] = answer["Session"]
        return self._result(self._call("respond_to_auth_challenge", **params), username)

    def refresh(self, refresh_token: str, username: str | None = None) -> Tokens:
        parameters = {"REFRESH_TOKEN": refresh_token}
        if username:
            parameters = self._with_secret(parameters, username)
        answer = self._call(
            "initiate_auth",
            ClientId=self.endpoints.spa_client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters=parameters,
        )
        tokens = self._result(answer)
        return Tokens(tokens.access_token, tokens.expires_in, tokens.id_token, tokens.refresh_token or refresh_token)

    def revoke(self, refresh_token: str) -> None:
        params = {"Token": refresh_token, "ClientId": self.endpoints.spa_client_id}
        if self.client_secret:
            params["ClientSecret"] = self.client_secret
        self._call("revoke_token", **params)


# ---------------------------------------------------------------------- OAuth 2.0


def post_form(url: str, form: dict[str, str], basic: tuple[str, str] | None = None) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise AuthError(f"not an http(s) URL: {url}")
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if basic:
        credentials = f"{urllib.parse.quote(basic[0])}:{urllib.parse.quote(basic[1])}"
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked
            body = response.read()
    except urllib.error.HTTPError as error:
        try:
            reason = json.loads(error.read()).get("error", error.reason)
        except ValueError:
            reason = error.reason
        raise AuthError(f"{url} refused: {reason} (HTTP {error.code})") from None
    except OSError as error:
        raise AuthError(f"cannot reach {url}: {error}") from None
    return json.loads(body) if body else {}


def client_credentials(endpoints: Endpoints, client_id: str, client_secret: str, scopes: Sequence[str] = ()) -> Tokens:
    form = {"grant_type": "client_credentials"}
    if scopes:
        form["scope"] = " ".join(scopes)
    return Tokens.from_oauth(post_form(endpoints.token_endpoint, form, basic=(client_id, client_secret)))


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def create(cls) -> Pkce:
        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        return cls(verifier=verifier, challenge=challenge)


class _CallbackHandler(BaseHTTPRequestHandler):
    result: dict[str, str]
    done: threading.Event
    path_expected: str

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path != self.path_expected:
            self.send_response(404)
            self.end_headers()
            return
        self.result.update(dict(urllib.parse.parse_qsl(url.query)))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"Signed in. You can close this window and return to the terminal.\n")
        self.done.set()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def login_hosted_ui(
    endpoints: Endpoints,
    *,
    redirect_uri: str,
    scopes: Sequence[str],
    open_browser: Callable[[str], Any] | None = None,
    timeout: float = 300,
) -> Tokens:
    """Authorization code + PKCE: opens the hosted UI, waits for the redirect on loopback, redeems the code."""
    target = urllib.parse.urlsplit(redirect_uri)
    if target.scheme != "http" or target.hostname not in ("localhost", "127.0.0.1") or not target.port:
        raise AuthError("the redirect URI must be http://localhost:<port>/... (one of the client's callback URLs)")
    pkce = Pkce.create()
    state = secrets.token_urlsafe(24)
    done = threading.Event()
    result: dict[str, str] = {}
    handler = type(
        "CallbackHandler", (_CallbackHandler,), {"result": result, "done": done, "path_expected": target.path or "/"}
    )
    server = HTTPServer(("127.0.0.1", target.port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        query = {
            "response_type": "code",
            "client_id": endpoints.spa_client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        (open_browser or webbrowser.open)(f"{endpoints.authorize_endpoint}?{urllib.parse.urlencode(query)}")
        if not done.wait(timeout):
            raise AuthError(f"no sign-in within {int(timeout)} seconds")
    finally:
        server.shutdown()
        server.server_close()
    if result.get("error"):
        raise AuthError(f"sign-in failed: {result['error']}")
    if not hmac.compare_digest(result.get("state", ""), state):
        raise AuthError("the redirect's state does not match this sign-in")
    form = {
        "grant_type": "authorization_code",
        "client_id": endpoints.spa_client_id,
        "code": result.get("code", ""),
        "redirect_uri": redirect_uri,
        "code_verifier": pkce.verifier,
    }
    return Tokens.from_oauth(post_form(endpoints.token_endpoint, form))


def revoke_oauth(endpoints: Endpoints, refresh_token: str) -> None:
    url = endpoints.token_endpoint.rsplit("/", 1)[0] + "/revoke"
    post_form(url, {"token": refresh_token, "client_id": endpoints.spa_client_id})
