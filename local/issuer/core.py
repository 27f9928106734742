"""What every issuer endpoint shares: pool keys and discovery, app client checks, minting and verifying tokens."""

from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from local.client_secrets import ClientSecrets
from local.directory import AppClient, DirectoryError, User, UserDirectory
from local.issuer.model import CognitoError, IssuerState, RefreshRecord
from local.lambdas import FunctionError
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
    refresh_token,
)


class IssuerCore:
    """The issuer's state and keys, and the steps both its Cognito API and its OAuth endpoints take."""

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

    # ------------------------------------------------------------------ app clients and sign-in

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

    @staticmethod
    def _require_confirmed(user: User) -> None:
        # moto hands an unconfirmed user tokens; Cognito answers the right password with this.
        if user.status == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")

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

    # ------------------------------------------------------------------ revocation

    def _revoke(self, record: RefreshRecord) -> None:
        with self._lock:
            record.revoked = True
            self.state.revoked_origins.add(record.origin_jti)
