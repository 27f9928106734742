"""Cognito's JSON API as the issuer answers it: sign-in flows, user self-service, client secrets, revocation."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from local.directory import AppClient, DirectoryError, User
from local.issuer.core import IssuerCore
from local.issuer.model import (
    SESSION_SECONDS,
    VERIFICATION_CODE_SECONDS,
    VERIFIED_FLAGS,
    AuthSession,
    CognitoError,
    Invitation,
    PendingAttribute,
    secret_hash,
)
from local.seed import demo_password
from local.srp_server import ServerSession, SrpError

logger = logging.getLogger(__name__)


class CognitoApi(IssuerCore):
    """The Cognito API operations the issuer answers itself; moto answers the rest."""

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

    # ------------------------------------------------------------------ AdminCreateUser's invitation (moto sends none)

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

    # ------------------------------------------------------------------ sign-in

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

    # ------------------------------------------------------------------ a user's own account

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
