"""The OAuth 2.0 endpoints: token (client credentials, refresh, authorization code + PKCE), revoke, userInfo, authorize."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

from local.directory import AppClient, DirectoryError
from local.issuer.core import IssuerCore
from local.issuer.model import CODE_SECONDS, AuthorizationCode, CognitoError, OAuthError
from local.lambdas import FunctionError
from local.tokens import apply_claim_overrides, apply_scope_overrides, attribute_claims, machine_access_token_claims


class OAuthEndpoints(IssuerCore):
    """Cognito's OAuth 2.0 and hosted-UI endpoints, and the federated sign-in they complete."""

    def _oauth_client(self, form: Mapping[str, str], authorization: str | None) -> AppClient:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
            except ValueError:
                raise OAuthError("invalid_client", 401) from None
            basic_id, _, basic_secret = decoded.partition(":")
            client_id, client_secret = urllib.parse.unquote(basic_id), urllib.parse.unquote(basic_secret)
        if not client_id:
            raise OAuthError("invalid_client", 401)
        try:
            client = self.directory.client(client_id)
        except DirectoryError:
            raise OAuthError("invalid_client", 401) from None
        if client.secret is not None and not self._secret_matches(client, client_secret):
            raise OAuthError("invalid_client", 401)
        return client

    def oauth_token(self, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request")
        client = self._oauth_client(form, authorization)
        try:
            if grant == "client_credentials":
                return self._client_credentials(client, form)
            if grant == "refresh_token":
                return self._oauth_refresh(client, form)
            if grant == "authorization_code":
                return self._authorization_code(client, form)
        except DirectoryError:
            raise OAuthError("invalid_grant") from None
        raise OAuthError("unsupported_grant_type")

    def _client_credentials(self, client: AppClient, form: Mapping[str, str]) -> dict[str, Any]:
        if client.secret is None or "client_credentials" not in client.oauth_flows:
            raise OAuthError("unauthorized_client")
        allowed = [scope for scope in client.oauth_scopes if "/" in scope]
        requested = (form.get("scope") or "").split()
        if any(scope not in allowed for scope in requested):
            raise OAuthError("invalid_scope")
        scopes = requested or allowed
        if not scopes:
            raise OAuthError("invalid_scope")
        details = self._run_machine_trigger(client, scopes)
        scopes = apply_scope_overrides(scopes, details)
        lifetime = client.validity_seconds("AccessToken")
        claims = machine_access_token_claims(
            issuer=self.issuer_url(client.pool_id),
            client_id=client.client_id,
            scopes=scopes,
            now=self.clock.seconds(),
            lifetime=lifetime,
        )
        claims = apply_claim_overrides(claims, details)
        token = self.keys(client.pool_id).access_key.sign(claims)
        return {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}

    def _oauth_refresh(self, client: AppClient, form: Mapping[str, str]) -> dict[str, Any]:
        record = self._live_refresh_token(form.get("refresh_token") or "", client)
        if record is None:
            raise OAuthError("invalid_grant")
        user = self.directory.user(record.pool_id, record.username)
        if not user.enabled:
            raise OAuthError("invalid_grant")
        try:
            tokens = self._user_tokens(client, user, "TokenGeneration_RefreshTokens", record.scopes, record)
        except CognitoError:
            raise OAuthError("invalid_grant") from None
        return self._oauth_answer(tokens)

    def _run_machine_trigger(self, client: AppClient, scopes: list[str]) -> dict[str, Any] | None:
        """A V3_0 pre-token trigger's `accessTokenGeneration` for a client-credentials token (None without one).

        Only V3_0 runs for machine tokens ("Pre token generation Lambda trigger", Cognito developer
        guide); the event has no user, the client in `callerContext`, the scopes in `request.scopes`.
        A trigger that raises means no token.
        """
        config = self.directory.pool(client.pool_id).get("LambdaConfig") or {}
        trigger = config.get("PreTokenGenerationConfig") or {}
        if not trigger.get("LambdaArn") or trigger.get("LambdaVersion") != "V3_0":
            return None
        event = {
            "version": "3",
            "triggerSource": "TokenGeneration_ClientCredentials",
            "region": self.region,
            "userPoolId": client.pool_id,
            "userName": None,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client.client_id},
            "request": {
                "userAttributes": {},
                "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": None},
                "scopes": list(scopes),
            },
            "response": {"claimsAndScopeOverrideDetails": None},
        }
        try:
            answer = self.invoke(trigger["LambdaArn"], event)
        except FunctionError:
            # What Cognito's token endpoint answers here is not documented; no token either way.
            raise OAuthError("invalid_grant") from None
        details = ((answer or {}).get("response") or {}).get("claimsAndScopeOverrideDetails") or {}
        return details.get("accessTokenGeneration")

    @staticmethod
    def _oauth_answer(tokens: Mapping[str, Any]) -> dict[str, Any]:
        answer = {"access_token": tokens["AccessToken"], "expires_in": tokens["ExpiresIn"], "token_type": "Bearer"}
        if "IdToken" in tokens:
            answer["id_token"] = tokens["IdToken"]
        if "RefreshToken" in tokens:
            answer["refresh_token"] = tokens["RefreshToken"]
        return answer

    def oauth_revoke(self, form: Mapping[str, str], authorization: str | None) -> None:
        client = self._oauth_client(form, authorization)
        if not client.revocation_enabled:
            raise OAuthError("unsupported_token_type")
        token = form.get("token")
        if not token:
            raise OAuthError("invalid_request")
        record = self.state.refresh_tokens.get(token)
        if record is None:
            return None  # RFC 7009: an unknown token is not an error
        if record.client_id != client.client_id:
            raise OAuthError("unauthorized_client")
        self._revoke(record)
        return None

    def userinfo(self, authorization: str | None) -> dict[str, Any]:
        token = (authorization or "").removeprefix("Bearer ").strip()
        claims = self.verify_access_token(token, required_scope="openid")
        pool_id = claims["iss"].rsplit("/", 1)[-1]
        user = self.directory.user(pool_id, claims["username"])
        client = self.directory.client(claims["client_id"], pool_id)
        info: dict[str, Any] = {"sub": user.sub, "username": user.username}
        info.update(attribute_claims(user.attributes, client.read_attributes))
        return info

    # ------------------------------------------------------------------ hosted UI (authorization code + PKCE)

    def authorize_request(self, query: Mapping[str, str]) -> tuple[AppClient, tuple[str, ...]]:
        """The client and scopes of an /oauth2/authorize request, after Cognito's checks."""
        if query.get("response_type") != "code":
            raise OAuthError("unsupported_response_type")
        try:
            client = self.directory.client(query.get("client_id") or "")
        except DirectoryError:
            raise OAuthError("invalid_client") from None
        if "code" not in client.oauth_flows:
            raise OAuthError("unauthorized_client")
        if query.get("redirect_uri") not in client.callback_urls:
            raise OAuthError("redirect_mismatch")
        requested = tuple((query.get("scope") or "").split()) or client.oauth_scopes
        if any(scope not in client.oauth_scopes for scope in requested):
            raise OAuthError("invalid_scope")
        if query.get("code_challenge") and query.get("code_challenge_method", "plain") not in ("S256", "plain"):
            raise OAuthError("invalid_request")
        return client, requested

    def login(self, query: Mapping[str, str], username: str, password: str) -> str:
        """Checks the password the hosted UI form posts; returns the redirect with a fresh code."""
        client, scopes = self.authorize_request(query)
        pool_username = self._username(client.pool_id, username)
        try:
            answer = self.directory.check_password(client.pool_id, client.client_id, pool_username, password)
        except DirectoryError as error:
            raise self._sign_in_failed(client, error) from None
        if "AuthenticationResult" not in answer:
            raise CognitoError(
                "NotAuthorizedException", f"{answer.get('ChallengeName')} is not supported by the local hosted UI"
            )
        user = self.directory.user(client.pool_id, pool_username)
        self._require_confirmed(user)
        code = str(uuid.uuid4())
        with self._lock:
            self.state.codes[code] = AuthorizationCode(
                pool_id=client.pool_id,
                client_id=client.client_id,
                username=user.username,
                redirect_uri=query["redirect_uri"],
                scopes=scopes,
                code_challenge=query.get("code_challenge"),
                code_challenge_method=query.get("code_challenge_method"),
                nonce=query.get("nonce"),
                expires_at=self.clock.time() + CODE_SECONDS,
            )
        redirect = {"code": code}
        if query.get("state"):
            redirect["state"] = query["state"]
        return f"{query['redirect_uri']}?{urllib.parse.urlencode(redirect)}"

    def _authorization_code(self, client: AppClient, form: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            code = self.state.codes.pop(form.get("code") or "", None)
        if code is None or code.client_id != client.client_id or code.expires_at < self.clock.time():
            raise OAuthError("invalid_grant")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant")
        if code.code_challenge:
            verifier = form.get("code_verifier") or ""
            if code.code_challenge_method == "S256":
                computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            else:
                computed = verifier
            if not verifier or not hmac.compare_digest(computed, code.code_challenge):
                raise OAuthError("invalid_grant")
        elif client.secret is None:
            raise OAuthError("invalid_request")  # a public client must use PKCE here
        user = self.directory.user(code.pool_id, code.username)
        try:
            result = self._signed_in(client, user, "TokenGeneration_HostedAuth", scopes=code.scopes, nonce=code.nonce)
        except CognitoError:
            raise OAuthError("invalid_grant") from None
        return self._oauth_answer(result["AuthenticationResult"])

    # ------------------------------------------------------------------ federated sign-in (a test hook stands in for the provider)

    def federated_sign_in(self, client_id: str, provider: str, subject: str, email: str) -> dict[str, Any]:
        """A federated user's sign-in through the hosted UI, as Cognito completes it: the user
        (created at the first sign-in, named `<provider>_<id>` in lower case) and their tokens."""
        client = self._client({"ClientId": client_id})
        provider_type = provider if provider in ("Google", "Facebook", "LoginWithAmazon", "SignInWithApple") else "OIDC"
        identities = [
            {
                "userId": subject,
                "providerName": provider,
                "providerType": provider_type,
                "issuer": None,
                "primary": "true",
                "dateCreated": str(self.clock.seconds() * 1000),
            }
        ]
        user = self.directory.ensure_federated_user(
            client.pool_id,
            f"{provider}_{subject}".lower(),
            {"email": email, "email_verified": "false", "identities": json.dumps(identities)},
        )
        return self._signed_in(client, user, "TokenGeneration_HostedAuth", scopes=client.oauth_scopes)
