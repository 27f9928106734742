"""A Cognito-compatible issuer on loopback: moto's user directory under a faithful token layer.

moto keeps the users, groups and passwords. This layer does what moto does not: Cognito's claim
sets, its own RS256 keys and JWKS per pool, the pool's pre-token-generation trigger on every user
token (and, for a V3_0 trigger, on every client-credentials token), per-client token lifetimes,
app client secrets with Cognito's 2025 rotation API (local/client_secrets.py), allowed auth flows
and SECRET_HASH, SRP, `/oauth2/token`
(client credentials, refresh, authorization code), revocation (`RevokeToken`, `/oauth2/revoke`,
global sign-out) and the hosted-UI authorization endpoint with PKCE.

It speaks Cognito's own protocols, so boto3 (`endpoint_url=<issuer origin>`), the AWS CLI and
OAuth clients work against it unchanged; API operations it does not implement itself (the admin
API: AdminCreateUser, CreateGroup, ...) pass straight through to moto. One is completed on the
way: an AdminCreateUser invitation gets the temporary password Cognito would generate and email;
the "email" lands in the issuer's outbox (logged, and readable at `/_local/outbox` with the test
hooks on).

With the test hooks on, `/_local/federated-sign-in` stands in for a social or OIDC provider's
round trip: it creates the user Cognito creates at a federated user's first sign-in
(`<provider>_<id>` in lower case, the `identities` attribute, no password) and signs them in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import http.client
import json
import logging
import secrets
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from local.client_secrets import ClientSecrets
from local.directory import AppClient, DirectoryError, User, UserDirectory
from local.httpserver import Handler, LocalServer, RequestTooLarge
from local.lambdas import FunctionError
from local.seed import demo_password
from local.srp_server import ServerSession, SrpError
from local.tokens import (
    SDK_SCOPE,
    Clock,
    PoolKeys,
    UserSession,
    access_token_claims,
    apply_claim_overrides,
    apply_scope_overrides,
    attribute_claims,
    id_token_claims,
    machine_access_token_claims,
    refresh_token,
)

logger = logging.getLogger(__name__)

API_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
AMZ_JSON = "application/x-amz-json-1.1"
OIDC_SCOPES = ("openid", "email", "phone", "profile", SDK_SCOPE)
SESSION_SECONDS = 180
CODE_SECONDS = 300
# Attribute verification codes stay valid for 24 hours (Cognito developer guide, "Verifying
# updates to email addresses and phone numbers").
VERIFICATION_CODE_SECONDS = 24 * 3600
VERIFIED_FLAGS = {"email": "email_verified", "phone_number": "phone_number_verified"}


class CognitoError(Exception):
    """An error in Cognito's API shape: `__type` code and message, HTTP 400 unless said otherwise."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class OAuthError(Exception):
    """An OAuth 2.0 error response (`{"error": ...}`)."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def secret_hash(client_id: str, client_secret: str, username: str) -> str:
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class RefreshRecord:
    pool_id: str
    client_id: str
    username: str
    origin_jti: str
    auth_time: int
    expires_at: int
    scopes: tuple[str, ...] | None  # OAuth sign-ins keep their scopes; SDK sign-ins get the SDK scope
    revoked: bool = False


@dataclass
class AuthSession:
    """A sign-in between its challenge and the answer."""

    pool_id: str
    client_id: str
    username: str
    challenge: str
    expires_at: float
    srp: ServerSession | None = None
    moto_session: str | None = None
    trigger_source: str = "TokenGeneration_Authentication"


@dataclass
class AuthorizationCode:
    pool_id: str
    client_id: str
    username: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    expires_at: float


@dataclass(frozen=True)
class Invitation:
    """The invitation email Cognito sends after AdminCreateUser: where to, and the temporary password."""

    pool_id: str
    to: str
    username: str
    temporary_password: str
    sent_at: int


@dataclass
class PendingAttribute:
    """A new email or phone number waiting for its verification code."""

    value: str
    code: str
    expires_at: float


@dataclass
class IssuerState:
    refresh_tokens: dict[str, RefreshRecord] = field(default_factory=dict)
    revoked_origins: set[str] = field(default_factory=set)
    sessions: dict[str, AuthSession] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    outbox: list[Invitation] = field(default_factory=list)
    # (pool id, username, attribute name) -> the value waiting for VerifyUserAttribute
    pending_attributes: dict[tuple[str, str, str], PendingAttribute] = field(default_factory=dict)


class Issuer:
    """Cognito's user-facing API and OAuth endpoints for every pool in the directory."""

    def __init__(
        self,
        *,
        directory: UserDirectory,
        invoke: Callable[[str, dict[str, Any]], Any],
        clock: Clock,
        region: str,
        base_url: str,
    ) -> None:
        self.directory = directory
        self.invoke = invoke
        self.clock = clock
        self.region = region
        self.base_url = base_url.rstrip("/")
        self.state = IssuerState()
        self.client_secrets = ClientSecrets(clock.time)
        self._keys: dict[str, PoolKeys] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ keys and discovery

    def issuer_url(self, pool_id: str) -> str:
        return f"{self.base_url}/{pool_id}"

    def keys(self, pool_id: str) -> PoolKeys:
        with self._lock:
            if pool_id not in self._keys:
                if not self.directory.pool_exists(pool_id):
                    raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.", 404)
                self._keys[pool_id] = PoolKeys.generate()
            return self._keys[pool_id]

    def jwks(self, pool_id: str) -> dict[str, Any]:
        return self.keys(pool_id).jwks()

    def openid_configuration(self, pool_id: str) -> dict[str, Any]:
        self.keys(pool_id)
        issuer = self.issuer_url(pool_id)
        return {
            "authorization_endpoint": f"{self.base_url}/oauth2/authorize",
            "end_session_endpoint": f"{self.base_url}/logout",
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": issuer,
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "response_types_supported": ["code"],
            "revocation_endpoint": f"{self.base_url}/oauth2/revoke",
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "subject_types_supported": ["public"],
            "token_endpoint": f"{self.base_url}/oauth2/token",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "userinfo_endpoint": f"{self.base_url}/oauth2/userInfo",
        }

    # ------------------------------------------------------------------ the Cognito API

    def handle_api(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The answer to one API call, or None when moto answers it unchanged."""
        handler = {
            "InitiateAuth": self.initiate_auth,
            "AdminInitiateAuth": self.admin_initiate_auth,
            "RespondToAuthChallenge": self.respond_to_auth_challenge,
            "AdminRespondToAuthChallenge": self.respond_to_auth_challenge,
            "RevokeToken": self.revoke_token,
            "GlobalSignOut": self.global_sign_out,
            "AdminUserGlobalSignOut": self.admin_user_global_sign_out,
            "GetUser": self.get_user,
            "UpdateUserAttributes": self.update_user_attributes,
            "VerifyUserAttribute": self.verify_user_attribute,
            "AdminUpdateUserAttributes": self.admin_update_user_attributes,
            "ChangePassword": self.change_password,
            "SignUp": self.check_sign_up,
            "AddUserPoolClientSecret": self.add_client_secret,
            "ListUserPoolClientSecrets": self.list_client_secrets,
            "DeleteUserPoolClientSecret": self.delete_client_secret,
            "DeleteUserPoolClient": self.forget_client_secrets,
        }.get(operation)
        if handler is None:
            return None
        try:
            return handler(params)
        except DirectoryError as error:
            raise CognitoError(error.code, error.message) from None

    def completed_for_moto(self, operation: str, params: dict[str, Any]) -> tuple[dict[str, Any], Invitation | None]:
        """The parameters to pass on to moto, and the invitation to send if moto accepts them.

        Cognito generates the temporary password of an invited user and emails it unless the
        caller gives one or suppresses the message
        (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminCreateUser.html);
        moto leaves such a user without any password.
        """
        if operation != "AdminCreateUser" or params.get("TemporaryPassword") or params.get("MessageAction"):
            return params, None
        attributes = {item.get("Name"): item.get("Value") for item in params.get("UserAttributes") or []}
        password = demo_password()
        invitation = Invitation(
            pool_id=str(params.get("UserPoolId") or ""),
            to=str(attributes.get("email") or params.get("Username") or ""),
            username=str(params.get("Username") or ""),
            temporary_password=password,
            sent_at=self.clock.seconds(),
        )
        return {**params, "TemporaryPassword": password}, invitation

    def deliver(self, invitation: Invitation) -> None:
        with self._lock:
            self.state.outbox.append(invitation)
        # What the invited person would read in their mailbox (local emulation only).
        logger.warning("invitation email to %s: temporary password %s", invitation.to, invitation.temporary_password)

    def outbox(self, to: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [vars(i) for i in self.state.outbox if to is None or i.to.lower() == to.lower()]

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

    def _client(self, params: Mapping[str, Any], pool_id: str | None = None) -> AppClient:
        client_id = params.get("ClientId") or ""
        try:
            client = self.directory.client(client_id, pool_id)
        except DirectoryError:
            raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.") from None
        return client

    def _secret_matches(self, client: AppClient, given: str | None) -> bool:
        """Whether `given` is one of the client's active secrets (a rotation may leave two)."""
        return any(hmac.compare_digest(given or "", secret) for secret in self.client_secrets.active(client))

    def _check_secret_hash(self, client: AppClient, username: str, given: str | None, *alternatives: str) -> None:
        if client.secret is None:
            return
        candidates = [
            secret_hash(client.client_id, secret, name)
            for secret in self.client_secrets.active(client)
            for name in (username, *alternatives)
            if name
        ]
        if not given or not any(hmac.compare_digest(given, candidate) for candidate in candidates):
            raise CognitoError("NotAuthorizedException", f"Unable to verify secret hash for client {client.client_id}")

    def _require_flow(self, client: AppClient, flow: str) -> None:
        if not client.allows(flow):
            raise CognitoError("InvalidParameterException", f"{flow} flow not enabled for this client")

    def _username(self, pool_id: str, username: str) -> str:
        config = self.directory.pool(pool_id).get("UsernameConfiguration") or {}
        return username if config.get("CaseSensitive", True) else username.lower()

    def _sign_in_failed(self, client: AppClient, error: DirectoryError) -> CognitoError:
        if error.code == "UserNotFoundException":
            if client.prevents_user_existence_errors:
                return CognitoError("NotAuthorizedException", "Incorrect username or password.")
            return CognitoError("UserNotFoundException", "User does not exist.")
        if error.code == "NotAuthorizedException" and "disabled" not in error.message:
            return CognitoError("NotAuthorizedException", "Incorrect username or password.")
        return CognitoError(error.code, error.message)

    def initiate_auth(self, params: dict[str, Any], pool_id: str | None = None) -> dict[str, Any]:
        flow = params.get("AuthFlow")
        if pool_id is None and flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            raise CognitoError("InvalidParameterException", "Initiate Auth method not supported")
        client = self._client(params, pool_id)
        auth = params.get("AuthParameters") or {}
        if flow in ("USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            allowed = "USER_PASSWORD_AUTH" if flow == "USER_PASSWORD_AUTH" else "ADMIN_USER_PASSWORD_AUTH"
            self._require_flow(client, allowed)
            return self._password_auth(client, auth)
        if flow == "USER_SRP_AUTH":
            self._require_flow(client, "USER_SRP_AUTH")
            return self._start_srp(client, auth)
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            self._require_flow(client, "REFRESH_TOKEN_AUTH")
            return self._refresh_auth(client, auth)
        raise CognitoError("InvalidParameterException", f"{flow} is not supported by the local issuer")

    def admin_initiate_auth(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("AuthFlow") == "USER_PASSWORD_AUTH":
            raise CognitoError("InvalidParameterException", "Initiate Auth method not supported")
        return self.initiate_auth(params, pool_id=params.get("UserPoolId"))

    def _password_auth(self, client: AppClient, auth: Mapping[str, str]) -> dict[str, Any]:
        username = self._username(client.pool_id, auth.get("USERNAME") or "")
        self._check_secret_hash(client, auth.get("USERNAME") or "", auth.get("SECRET_HASH"))
        try:
            answer = self.directory.check_password(
                client.pool_id, client.client_id, username, auth.get("PASSWORD") or ""
            )
        except DirectoryError as error:
            raise self._sign_in_failed(client, error) from None
        user = self.directory.user(client.pool_id, username)
        self._require_confirmed(user)
        if "AuthenticationResult" in answer:
            return self._signed_in(client, user, "TokenGeneration_Authentication")
        return self._challenge(client, user, answer["ChallengeName"], moto_session=answer.get("Session"))

    @staticmethod
    def _require_confirmed(user: User) -> None:
        # moto hands an unconfirmed user tokens; Cognito answers the right password with this.
        if user.status == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")

    def _start_srp(self, client: AppClient, auth: Mapping[str, str]) -> dict[str, Any]:
        given = auth.get("USERNAME") or ""
        self._check_secret_hash(client, given, auth.get("SECRET_HASH"))
        try:
            user = self.directory.user(client.pool_id, self._username(client.pool_id, given))
        except DirectoryError as error:
            raise self._sign_in_failed(client, error) from None
        if not user.enabled:
            raise CognitoError("NotAuthorizedException", "User is disabled.")
        self._require_confirmed(user)
        password = self.directory.password_of(client.pool_id, user.username)
        if password is None:
            raise CognitoError("InvalidParameterException", "SRP needs moto running in the issuer's process")
        try:
            srp = ServerSession(client.pool_id, user.username, password, auth.get("SRP_A") or "0")
        except (SrpError, ValueError):
            raise CognitoError("InvalidParameterException", "Invalid SRP_A") from None
        session = self._new_session(client, user, "PASSWORD_VERIFIER", srp=srp)
        return {
            "ChallengeName": "PASSWORD_VERIFIER",
            "Session": session,
            "ChallengeParameters": {**srp.challenge(), "USER_ID_FOR_SRP": user.username, "USERNAME": user.username},
        }

    def _new_session(self, client: AppClient, user: User, challenge: str, **kwargs: Any) -> str:
        token = secrets.token_urlsafe(96)
        now = self.clock.time()
        with self._lock:
            self.state.sessions = {k: v for k, v in self.state.sessions.items() if v.expires_at > now}
            self.state.sessions[token] = AuthSession(
                pool_id=client.pool_id,
                client_id=client.client_id,
                username=user.username,
                challenge=challenge,
                expires_at=self.clock.time() + SESSION_SECONDS,
                **kwargs,
            )
        return token

    def _challenge(self, client: AppClient, user: User, challenge: str, moto_session: str | None) -> dict[str, Any]:
        parameters: dict[str, Any] = {"USER_ID_FOR_SRP": user.username}
        if challenge == "NEW_PASSWORD_REQUIRED":
            attributes = {k: v for k, v in user.attributes.items() if k != "sub" and not k.startswith("cognito:")}
            parameters.update({"userAttributes": json.dumps(attributes), "requiredAttributes": "[]"})
        session = self._new_session(client, user, challenge, moto_session=moto_session)
        return {"ChallengeName": challenge, "Session": session, "ChallengeParameters": parameters}

    def respond_to_auth_challenge(self, params: dict[str, Any]) -> dict[str, Any]:
        client = self._client(params, params.get("UserPoolId"))
        responses = params.get("ChallengeResponses") or {}
        name = params.get("ChallengeName")
        with self._lock:
            session = self.state.sessions.get(params.get("Session") or "")
            if session is None and name == "PASSWORD_VERIFIER":
                # Clients that follow the original SRP flow send no Session, only the secret block.
                block = responses.get("PASSWORD_CLAIM_SECRET_BLOCK")
                session = next((s for s in self.state.sessions.values() if s.srp and s.srp.secret_block == block), None)
            if session is not None:
                self.state.sessions = {k: v for k, v in self.state.sessions.items() if v is not session}
        if (
            session is None
            or session.expires_at < self.clock.time()
            or session.client_id != client.client_id
            or session.challenge != name
        ):
            raise CognitoError("NotAuthorizedException", "Invalid session for the user, session is expired.")
        user = self.directory.user(session.pool_id, session.username)
        self._check_secret_hash(
            client,
            responses.get("USERNAME") or "",
            responses.get("SECRET_HASH"),
            user.username,
            user.attributes.get("email", ""),
        )
        if name == "PASSWORD_VERIFIER":
            if session.srp is None or not session.srp.verify(responses):
                raise CognitoError("NotAuthorizedException", "Incorrect username or password.")
            if user.status in ("FORCE_CHANGE_PASSWORD", "RESET_REQUIRED"):
                return self._challenge(client, user, "NEW_PASSWORD_REQUIRED", moto_session=None)
            return self._signed_in(client, user, "TokenGeneration_Authentication")
        if name == "NEW_PASSWORD_REQUIRED" and session.moto_session is None:
            new_password = responses.get("NEW_PASSWORD") or ""
            self.directory.set_password(session.pool_id, user.username, new_password, permanent=True)
            return self._signed_in(
                client, self.directory.user(session.pool_id, user.username), "TokenGeneration_NewPasswordChallenge"
            )
        answer = self.directory.respond_to_challenge(
            session.pool_id, client.client_id, name, session.moto_session or "", dict(responses)
        )
        user = self.directory.user(session.pool_id, user.username)
        if "AuthenticationResult" in answer:
            source = (
                "TokenGeneration_NewPasswordChallenge"
                if name == "NEW_PASSWORD_REQUIRED"
                else "TokenGeneration_Authentication"
            )
            return self._signed_in(client, user, source)
        return self._challenge(client, user, answer["ChallengeName"], moto_session=answer.get("Session"))

    def _refresh_auth(self, client: AppClient, auth: Mapping[str, str]) -> dict[str, Any]:
        record = self._live_refresh_token(auth.get("REFRESH_TOKEN") or "", client)
        if record is None:
            raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
        user = self.directory.user(record.pool_id, record.username)
        self._check_secret_hash(client, user.username, auth.get("SECRET_HASH"), user.attributes.get("email", ""))
        if not user.enabled:
            raise CognitoError("NotAuthorizedException", "User is disabled.")
        tokens = self._user_tokens(client, user, "TokenGeneration_RefreshTokens", record.scopes, record)
        return {"ChallengeParameters": {}, "AuthenticationResult": tokens}

    def _live_refresh_token(self, token: str, client: AppClient) -> RefreshRecord | None:
        record = self.state.refresh_tokens.get(token)
        if record is None or record.revoked or record.client_id != client.client_id:
            return None
        if record.expires_at <= self.clock.seconds():
            return None
        return record

    def _signed_in(
        self,
        client: AppClient,
        user: User,
        trigger_source: str,
        scopes: tuple[str, ...] | None = None,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        now = self.clock.seconds()
        record = RefreshRecord(
            pool_id=client.pool_id,
            client_id=client.client_id,
            username=user.username,
            origin_jti=str(uuid.uuid4()),
            auth_time=now,
            expires_at=now + client.validity_seconds("RefreshToken"),
            scopes=scopes,
        )
        tokens = self._user_tokens(client, user, trigger_source, scopes, record, nonce=nonce)
        token = refresh_token()
        with self._lock:
            self.state.refresh_tokens[token] = record
        tokens["RefreshToken"] = token
        return {"ChallengeParameters": {}, "AuthenticationResult": tokens}

    # ------------------------------------------------------------------ minting

    def _user_tokens(
        self,
        client: AppClient,
        user: User,
        trigger_source: str,
        scopes: tuple[str, ...] | None,
        record: RefreshRecord,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """An ID and an access token for `user`, customized by the pool's pre-token-generation trigger."""
        keys = self.keys(client.pool_id)
        now = self.clock.seconds()
        requested = list(scopes) if scopes is not None else [SDK_SCOPE]
        groups = list(user.groups)
        details = self._run_trigger(client, user, trigger_source, requested, groups)
        access_details = (details or {}).get("accessTokenGeneration")
        id_details = (details or {}).get("idTokenGeneration")
        override = (details or {}).get("groupOverrideDetails") or {}
        if override.get("groupsToOverride") is not None:
            groups = list(override["groupsToOverride"])

        session = UserSession(
            issuer=self.issuer_url(client.pool_id),
            client_id=client.client_id,
            sub=user.sub,
            username=user.username,
            origin_jti=record.origin_jti,
            auth_time=record.auth_time,
        )
        access_lifetime = client.validity_seconds("AccessToken")
        final_scopes = apply_scope_overrides(requested, access_details)
        access = access_token_claims(session, scopes=final_scopes, groups=groups, now=now, lifetime=access_lifetime)
        access = apply_claim_overrides(access, access_details)

        id_claims = id_token_claims(
            session,
            attributes=attribute_claims(user.attributes, client.read_attributes),
            groups=groups,
            now=now,
            lifetime=client.validity_seconds("IdToken"),
        )
        if nonce:
            id_claims["nonce"] = nonce
        id_claims = apply_claim_overrides(id_claims, id_details)
        result = {
            "AccessToken": keys.access_key.sign(access),
            "ExpiresIn": access_lifetime,
            "TokenType": "Bearer",
        }
        if scopes is None or "openid" in scopes:
            result["IdToken"] = keys.id_key.sign(id_claims)
        return result

    def _run_trigger(
        self, client: AppClient, user: User, trigger_source: str, scopes: list[str], groups: list[str]
    ) -> dict[str, Any] | None:
        config = self.directory.pool(client.pool_id).get("LambdaConfig") or {}
        v2 = config.get("PreTokenGenerationConfig") or {}
        arn = v2.get("LambdaArn") or config.get("PreTokenGeneration")
        if not arn:
            return None
        version = {"V1_0": "1", "V2_0": "2", "V3_0": "3"}.get(v2.get("LambdaVersion", "V1_0"), "1")
        request: dict[str, Any] = {
            "userAttributes": {**user.attributes, "cognito:user_status": user.status},
            "groupConfiguration": {"groupsToOverride": groups, "iamRolesToOverride": [], "preferredRole": None},
        }
        if version != "1":
            request["scopes"] = scopes
        event = {
            "version": version,
            "triggerSource": trigger_source,
            "region": self.region,
            "userPoolId": client.pool_id,
            "userName": user.username,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client.client_id},
            "request": request,
            "response": {"claimsOverrideDetails" if version == "1" else "claimsAndScopeOverrideDetails": None},
        }
        try:
            answer = self.invoke(arn, event)
        except FunctionError as error:
            raise CognitoError(
                "UserLambdaValidationException", f"PreTokenGeneration failed with error {error.error_message}."
            ) from None
        response = (answer or {}).get("response") or {}
        if version == "1":
            v1 = response.get("claimsOverrideDetails") or {}
            return {"idTokenGeneration": v1, "groupOverrideDetails": v1.get("groupOverrideDetails")}
        return response.get("claimsAndScopeOverrideDetails")

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

    # ------------------------------------------------------------------ access tokens presented to the issuer

    def verify_access_token(self, token: str, required_scope: str | None = SDK_SCOPE) -> dict[str, Any]:
        """The claims of an access token this issuer minted and has not revoked; else NotAuthorizedException."""
        invalid = CognitoError("NotAuthorizedException", "Invalid Access Token")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid from None
        pool_id = str(unverified.get("iss", "")).rsplit("/", 1)[-1]
        try:
            keys = self.keys(pool_id)
        except CognitoError:
            raise invalid from None
        if header.get("kid") != keys.access_key.kid or unverified.get("iss") != self.issuer_url(pool_id):
            raise invalid
        try:
            claims = jwt.decode(
                token, keys.access_key.private_key.public_key(), algorithms=["RS256"], options={"verify_exp": False}
            )
        except jwt.PyJWTError:
            raise invalid from None
        if claims.get("token_use") != "access":
            raise invalid
        if int(claims.get("exp", 0)) <= self.clock.seconds():
            raise CognitoError("NotAuthorizedException", "Access Token has expired")
        if claims.get("origin_jti") in self.state.revoked_origins:
            raise CognitoError("NotAuthorizedException", "Access Token has been revoked")
        if required_scope and required_scope not in str(claims.get("scope", "")).split():
            raise CognitoError("NotAuthorizedException", "Access Token does not have required scopes")
        return claims

    def get_user(self, params: dict[str, Any]) -> dict[str, Any]:
        claims = self.verify_access_token(params.get("AccessToken") or "")
        pool_id = claims["iss"].rsplit("/", 1)[-1]
        user = self.directory.user(pool_id, claims["username"])
        return {
            "Username": user.username,
            "UserAttributes": [{"Name": k, "Value": v} for k, v in user.attributes.items()],
            "MFAOptions": [],
            "UserMFASettingList": [],
        }

    def update_user_attributes(self, params: dict[str, Any]) -> dict[str, Any]:
        """A user's own update. A new email or phone number needs its code (VerifyUserAttribute): when the
        pool lists it in AttributesRequireVerificationBeforeUpdate the old value stays until then;
        otherwise the new value applies at once, marked unverified (Cognito developer guide,
        "Verifying updates to email addresses and phone numbers")."""
        claims = self.verify_access_token(params.get("AccessToken") or "")
        client = self.directory.client(claims["client_id"])
        attributes = params.get("UserAttributes") or []
        names = [item.get("Name", "") for item in attributes]
        self._check_writable(client, names)
        pool = self.directory.pool(client.pool_id)
        self._check_mutable(pool, names)
        held = set(
            (pool.get("UserAttributeUpdateSettings") or {}).get("AttributesRequireVerificationBeforeUpdate") or ()
        )
        user = self.directory.user(client.pool_id, claims["username"])
        now_applied: list[dict[str, str]] = []
        deliveries: list[dict[str, str]] = []
        for item in attributes:
            name, value = item.get("Name", ""), item.get("Value", "")
            if name not in VERIFIED_FLAGS or value == user.attributes.get(name):
                now_applied.append(item)
                continue
            deliveries.append(self._send_verification_code(client.pool_id, user.username, name, value))
            if name not in held:
                now_applied += [item, {"Name": VERIFIED_FLAGS[name], "Value": "false"}]
        if now_applied:
            self.directory.update_attributes(client.pool_id, user.username, now_applied)
        return {"CodeDeliveryDetailsList": deliveries}

    def _send_verification_code(self, pool_id: str, username: str, name: str, value: str) -> dict[str, str]:
        """Keeps a code for the new value; `make local` sends no mail, so the code goes to the log."""
        code = f"{secrets.randbelow(1_000_000):06d}"
        with self._lock:
            self.state.pending_attributes[(pool_id, username, name)] = PendingAttribute(
                value=value, code=code, expires_at=self.clock.time() + VERIFICATION_CODE_SECONDS
            )
        logger.warning("verification code for %s of user %s in %s: %s", name, username, pool_id, code)
        local_part, _, domain = value.partition("@")
        destination = f"{local_part[:1]}***@{domain}" if domain else f"+******{value[-4:]}"
        medium = "EMAIL" if name == "email" else "SMS"
        return {"Destination": destination, "DeliveryMedium": medium, "AttributeName": name}

    def verify_user_attribute(self, params: dict[str, Any]) -> dict[str, Any]:
        claims = self.verify_access_token(params.get("AccessToken") or "")
        pool_id = claims["iss"].rsplit("/", 1)[-1]
        name = params.get("AttributeName") or ""
        key = (pool_id, claims["username"], name)
        with self._lock:
            pending = self.state.pending_attributes.get(key)
            if pending is None or not hmac.compare_digest(str(params.get("Code") or ""), pending.code):
                raise CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.")
            if pending.expires_at < self.clock.time():
                raise CognitoError("ExpiredCodeException", "Invalid code provided, please request a code again.")
            del self.state.pending_attributes[key]
        self.directory.update_attributes(
            pool_id,
            claims["username"],
            [{"Name": name, "Value": pending.value}, {"Name": VERIFIED_FLAGS[name], "Value": "true"}],
        )
        return {}

    def admin_update_user_attributes(self, params: dict[str, Any]) -> None:
        """moto rewrites an immutable attribute; Cognito refuses. The rest passes through to moto."""
        pool = self.directory.pool(params.get("UserPoolId") or "")
        self._check_mutable(pool, [item.get("Name", "") for item in params.get("UserAttributes") or []])
        return None

    @staticmethod
    def _check_mutable(pool: Mapping[str, Any], names: list[str]) -> None:
        # "Working with user attributes": an immutable attribute is set when the user is created
        # and can never be changed afterwards, by the user or by an administrator.
        immutable = {item.get("Name") for item in pool.get("SchemaAttributes") or [] if item.get("Mutable") is False}
        refused = [name for name in names if name in immutable]
        if refused:
            raise CognitoError(
                "InvalidParameterException", "\n".join(f"user.{name}: Attribute cannot be updated." for name in refused)
            )

    def change_password(self, params: dict[str, Any]) -> dict[str, Any]:
        claims = self.verify_access_token(params.get("AccessToken") or "")
        pool_id = claims["iss"].rsplit("/", 1)[-1]
        try:
            self.directory.check_password(
                pool_id, claims["client_id"], claims["username"], params.get("PreviousPassword") or ""
            )
        except DirectoryError:
            raise CognitoError("NotAuthorizedException", "Incorrect username or password.") from None
        self.directory.set_password(pool_id, claims["username"], params.get("ProposedPassword") or "", permanent=True)
        return {}

    def check_sign_up(self, params: dict[str, Any]) -> None:
        """Cognito refuses a sign-up that writes an attribute the client may not write; moto does the rest."""
        client = self._client(params)
        self._check_secret_hash(client, params.get("Username") or "", params.get("SecretHash"))
        names = [item.get("Name", "") for item in params.get("UserAttributes") or []]
        self._check_writable(client, names)
        return None

    # ------------------------------------------------------------------ client secrets (moto has one fixed secret)

    def add_client_secret(self, params: dict[str, Any]) -> dict[str, Any]:
        client = self._client(params, params.get("UserPoolId"))
        return {"ClientSecretDescriptor": self.client_secrets.add(client, params.get("ClientSecret"))}

    def list_client_secrets(self, params: dict[str, Any]) -> dict[str, Any]:
        client = self._client(params, params.get("UserPoolId"))
        return {"ClientSecrets": self.client_secrets.list(client)}

    def delete_client_secret(self, params: dict[str, Any]) -> dict[str, Any]:
        client = self._client(params, params.get("UserPoolId"))
        self.client_secrets.delete(client, params.get("ClientSecretId") or "")
        return {}

    def forget_client_secrets(self, params: dict[str, Any]) -> None:
        """DeleteUserPoolClient: moto deletes the client; its secrets go with it."""
        self.client_secrets.forget(params.get("ClientId") or "")
        return None

    @staticmethod
    def _check_writable(client: AppClient, names: list[str]) -> None:
        writable = client.write_attributes
        if any(writable and name not in writable for name in names):
            # Cognito's own message: it does not say which attribute.
            raise CognitoError("NotAuthorizedException", "A client attempted to write unauthorized attribute")

    # ------------------------------------------------------------------ revocation

    def revoke_token(self, params: dict[str, Any]) -> dict[str, Any]:
        client = self._client(params)
        if client.secret is not None and not self._secret_matches(client, params.get("ClientSecret")):
            raise CognitoError("NotAuthorizedException", "Client secret is invalid")
        if not client.revocation_enabled:
            raise CognitoError("UnsupportedOperationException", "Token revocation is not enabled for this client")
        record = self.state.refresh_tokens.get(params.get("Token") or "")
        if record is None:
            raise CognitoError("UnsupportedTokenTypeException", "Unsupported token type")
        if record.client_id != client.client_id:
            raise CognitoError("UnauthorizedException", "Token does not belong to this client")
        self._revoke(record)
        return {}

    def _revoke(self, record: RefreshRecord) -> None:
        with self._lock:
            record.revoked = True
            self.state.revoked_origins.add(record.origin_jti)

    def global_sign_out(self, params: dict[str, Any]) -> dict[str, Any]:
        claims = self.verify_access_token(params.get("AccessToken") or "")
        self._sign_out(claims["iss"].rsplit("/", 1)[-1], claims["username"])
        return {}

    def admin_user_global_sign_out(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.directory.user(params.get("UserPoolId") or "", params.get("Username") or "")
        self._sign_out(user.pool_id, user.username)
        return {}

    def _sign_out(self, pool_id: str, username: str) -> None:
        for record in list(self.state.refresh_tokens.values()):
            if record.pool_id == pool_id and record.username == username:
                self._revoke(record)

    # ------------------------------------------------------------------ OAuth 2.0 endpoints

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


# ---------------------------------------------------------------------- HTTP


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in (local)</title></head>
<body style="font-family: sans-serif; max-width: 22rem; margin: 4rem auto">
<h1>Sign in</h1>
<p>Local Cognito-compatible issuer: {client_name}</p>
{error}
<form method="post" action="/login?{query}">
<label>Email<br><input name="username" autocomplete="username" required autofocus></label><br><br>
<label>Password<br><input name="password" type="password" autocomplete="current-password" required></label><br><br>
<button type="submit">Sign in</button>
</form></body></html>
"""


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
            return self._login_page(query, error=None)
        if self.command == "POST" and path == "/login":
            return self._login(query)
        if self.command == "GET" and path == "/logout":
            return self._logout(query)
        if path == "/_local/health":
            return self.send_json(200, {"status": "ok"})
        if self.test_hooks and self.command == "GET" and path == "/_local/outbox":
            return self.send_json(200, {"messages": self.issuer.outbox(query.get("to"))})
        if self.test_hooks and self.command == "POST" and path == "/_local/federated-sign-in":
            payload = json.loads(self.read_body() or b"{}")
            try:
                result = self.issuer.federated_sign_in(
                    str(payload.get("client_id", "")),
                    str(payload.get("provider", "")),
                    str(payload.get("subject", "")),
                    str(payload.get("email", "")),
                )
            except CognitoError as error:
                return self._api_error(error)
            return self.send_json(200, result)
        if self.test_hooks and self.command == "POST" and path == "/_local/clock":
            payload = json.loads(self.read_body() or b"{}")
            self.issuer.clock.offset = float(payload.get("offset", 0))
            return self.send_json(200, {"offset": self.issuer.clock.offset})
        self.send_json(404, {"message": "Not Found"})

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
        target = urllib.parse.urlsplit(self.moto_url)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        forwarded = {
            name: value
            for name, value in self.headers.items()
            if name.lower() in ("content-type", "x-amz-target", "authorization", "x-amz-date", "x-amz-security-token")
        }
        try:
            connection.request("POST", "/", body=body, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            headers = [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() in ("content-type", "x-amzn-requestid", "x-amzn-errortype")
            ]
            self.send(response.status, payload, headers)
            return response.status
        finally:
            connection.close()

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

    def _logout(self, query: Mapping[str, str]) -> None:
        """Redirects only to one of the client's sign-out URLs, as Cognito's /logout does."""
        try:
            client = self.issuer.directory.client(query.get("client_id") or "")
        except DirectoryError:
            return self.send(400, b"<p>error: invalid_client</p>", [("Content-Type", "text/html")])
        target = query.get("logout_uri")
        if not target or target not in (client.raw.get("LogoutURLs") or []):
            return self.send(400, b"<p>error: invalid logout_uri</p>", [("Content-Type", "text/html")])
        self.send(302, b"", [("Location", target)])

    def _login_page(self, query: Mapping[str, str], error: str | None, status: int = 200) -> None:
        try:
            client, _ = self.issuer.authorize_request(query)
        except OAuthError as failure:
            return self.send(
                400, f"<p>error: {html.escape(failure.error)}</p>".encode(), [("Content-Type", "text/html")]
            )
        page = LOGIN_PAGE.format(
            client_name=html.escape(client.raw.get("ClientName", client.client_id)),
            error=f'<p role="alert">{html.escape(error)}</p>' if error else "",
            query=html.escape(urllib.parse.urlencode(query)),
        )
        self.send(status, page.encode(), [("Content-Type", "text/html; charset=utf-8")])

    def _login(self, query: Mapping[str, str]) -> None:
        form = dict(urllib.parse.parse_qsl(self.read_body().decode("utf-8", "replace")))
        try:
            location = self.issuer.login(query, form.get("username", ""), form.get("password", ""))
        except OAuthError as failure:
            return self.send(
                400, f"<p>error: {html.escape(failure.error)}</p>".encode(), [("Content-Type", "text/html")]
            )
        except CognitoError as failure:
            return self._login_page(query, error=failure.message, status=400)
        self.send(302, b"", [("Location", location)])


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
