"""The issuer over HTTP: one handler routes Cognito's API, discovery, OAuth, the hosted UI and the test hooks."""

from __future__ import annotations

import json
import logging
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from local.directory import UserDirectory
from local.httpserver import Handler, LocalServer, RequestTooLarge
from local.issuer import hosted_ui
from local.issuer.cognito_api import CognitoApi
from local.issuer.model import CognitoError, OAuthError
from local.issuer.moto_proxy import forward_to_moto
from local.issuer.oauth import OAuthEndpoints
from local.tokens import Clock

logger = logging.getLogger(__name__)

API_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
AMZ_JSON = "application/x-amz-json-1.1"


class Issuer(CognitoApi, OAuthEndpoints):
    """Cognito's user-facing API and OAuth endpoints for every pool in the directory."""


class IssuerHandler(Handler):
    issuer: Issuer
    moto_url: str
    test_hooks: bool

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            self._route()
        except RequestTooLarge:
            self.send_json(413, {"message": "Request Entity Too Large"})
        except Exception:
            logger.exception("issuer failed on %s %s", self.command, self.path)
            self.send_json(500, {"__type": "InternalErrorException", "message": "Internal error"})

    def _route(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = dict(urllib.parse.parse_qsl(url.query))
        if self.command == "POST" and path == "/" and self.headers.get("X-Amz-Target"):
            return self._api()
        if self.command == "GET" and path.endswith("/.well-known/jwks.json"):
            return self._discovery(path.split("/")[1], "jwks")
        if self.command == "GET" and path.endswith("/.well-known/openid-configuration"):
            return self._discovery(path.split("/")[1], "openid")
        if self.command == "POST" and path == "/oauth2/token":
            return self._oauth(lambda form: self.issuer.oauth_token(form, self.headers.get("Authorization")))
        if self.command == "POST" and path == "/oauth2/revoke":
            return self._oauth(lambda form: self.issuer.oauth_revoke(form, self.headers.get("Authorization")))
        if self.command == "GET" and path == "/oauth2/userInfo":
            try:
                return self.send_json(200, self.issuer.userinfo(self.headers.get("Authorization")))
            except CognitoError:
                return self.send_json(
                    401, {"error": "invalid_token"}, [("WWW-Authenticate", 'Bearer error="invalid_token"')]
                )
        if self.command == "GET" and path in ("/oauth2/authorize", "/login"):
            return self.send(*hosted_ui.sign_in_page(self.issuer, query, error=None))
        if self.command == "POST" and path == "/login":
            form = dict(urllib.parse.parse_qsl(self.read_body().decode("utf-8", "replace")))
            return self.send(*hosted_ui.sign_in(self.issuer, query, form))
        if self.command == "GET" and path == "/logout":
            return self.send(*hosted_ui.sign_out(self.issuer, query))
        if path == "/_local/health":
            return self.send_json(200, {"status": "ok"})
        if self.test_hooks and path.startswith("/_local/") and self._test_hook(path, query):
            return None
        self.send_json(404, {"message": "Not Found"})

    def _test_hook(self, path: str, query: Mapping[str, str]) -> bool:
        """Answers a test hook (only served with `test_hooks` on); False when `path` is none of them."""
        if self.command == "GET" and path == "/_local/outbox":
            self.send_json(200, {"messages": self.issuer.outbox(query.get("to"))})
        elif self.command == "POST" and path == "/_local/federated-sign-in":
            payload = json.loads(self.read_body() or b"{}")
            try:
                result = self.issuer.federated_sign_in(
                    str(payload.get("client_id", "")),
                    str(payload.get("provider", "")),
                    str(payload.get("subject", "")),
                    str(payload.get("email", "")),
                )
            except CognitoError as error:
                self._api_error(error)
            else:
                self.send_json(200, result)
        elif self.command == "POST" and path == "/_local/clock":
            payload = json.loads(self.read_body() or b"{}")
            self.issuer.clock.offset = float(payload.get("offset", 0))
            self.send_json(200, {"offset": self.issuer.clock.offset})
        else:
            return False
        return True

    def _discovery(self, pool_id: str, kind: str) -> None:
        try:
            payload = self.issuer.jwks(pool_id) if kind == "jwks" else self.issuer.openid_configuration(pool_id)
        except CognitoError as error:
            return self.send_json(error.status, {"message": error.message})
        self.send_json(200, payload)

    def _api(self) -> None:
        target = self.headers.get("X-Amz-Target", "")
        body = self.read_body()
        operation = target.removeprefix(API_TARGET_PREFIX)
        try:
            params = json.loads(body or b"{}")
            if not isinstance(params, dict):
                raise ValueError("not an object")
        except ValueError:
            return self._api_error(CognitoError("SerializationException", "Malformed request"))
        try:
            answer = self.issuer.handle_api(operation, params) if target.startswith(API_TARGET_PREFIX) else None
        except CognitoError as error:
            return self._api_error(error)
        if answer is None:
            completed, invitation = self.issuer.completed_for_moto(operation, params)
            status = self._forward_to_moto(json.dumps(completed).encode() if invitation else body)
            if invitation is not None and status == 200:
                self.issuer.deliver(invitation)
            return None
        self.send(
            200, json.dumps(answer).encode(), [("Content-Type", AMZ_JSON), ("x-amzn-RequestId", str(uuid.uuid4()))]
        )

    def _api_error(self, error: CognitoError) -> None:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        self.send(error.status, body, [("Content-Type", AMZ_JSON), ("x-amzn-ErrorType", error.code)])

    def _forward_to_moto(self, body: bytes) -> int:
        status, payload, headers = forward_to_moto(self.moto_url, self.headers.items(), body)
        self.send(status, payload, headers)
        return status

    def _oauth(self, action: Callable[[dict[str, str]], Any]) -> None:
        headers = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        if not (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            body = self.read_body()
            return self.send_json(400, {"error": "invalid_request"}, headers)
        body = self.read_body()
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        try:
            answer = action(form)
        except OAuthError as error:
            return self.send_json(error.status, {"error": error.error}, headers)
        if answer is None:
            return self.send(200, b"", headers)
        self.send_json(200, answer, headers)


def issuer_server(
    host: str,
    port: int,
    *,
    directory: UserDirectory,
    invoke: Callable[[str, dict[str, Any]], Any],
    clock: Clock,
    region: str,
    moto_url: str,
    test_hooks: bool = False,
) -> tuple[LocalServer, Issuer]:
    """The issuer bound to host:port (0 = any free port), not yet serving."""
    handler = type("BoundIssuerHandler", (IssuerHandler,), {})
    server = LocalServer(host, port, handler)
    issuer = Issuer(directory=directory, invoke=invoke, clock=clock, region=region, base_url=server.url)
    handler.issuer = issuer
    handler.moto_url = moto_url
    handler.test_hooks = test_hooks
    return server, issuer
