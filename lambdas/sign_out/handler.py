"""POST /me/sign-out and POST /me/sign-out-everywhere: a user ends their own sessions, at once.

`/me/sign-out` records this token's sign-in session (`origin_jti`) in the revocation store: every
access and ID token of the session, refreshed or not, is refused from then on. The client still
revokes its refresh token with Cognito's RevokeToken, which needs the token only it holds.

`/me/sign-out-everywhere` ends every session of the user: Cognito's AdminUserGlobalSignOut revokes
all their refresh tokens (no new tokens), and a user not-before in the store refuses every token
already issued. The not-before is written before and again after the Cognito call, so a token
refreshed while Cognito signs the user out is refused too, and rounded up to the next second
(`iat` has whole seconds): a token minted in the same second as the sign-out is refused as well.
(https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminUserGlobalSignOut.html)
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

import auth_contract
from shared.api import Forbidden, ServiceUnavailable, create_app, current_identity, empty_response
from shared.claims import Identity
from shared.revocation import including_this_second, revocation_store

USER_POOL_ENV = "USER_POOL_ID"
SIGN_OUT_REASON = "sign-out"
GLOBAL_SIGN_OUT_REASON = "global sign-out"
COGNITO_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"})

logger = Logger()
app = create_app(logger)


@functools.cache
def cognito() -> Any:
    return boto3.client("cognito-idp", config=COGNITO_CONFIG)


def signed_in_user(identity: Identity) -> Identity:
    """Only a user's access token with an API scope and a session: never an ID or machine token."""
    if (
        not identity.is_access_token
        or identity.is_machine
        or not identity.username
        or not identity.origin_jti
        or not identity.has_scope(*auth_contract.USER_SCOPES)
    ):
        raise Forbidden("Forbidden")
    return identity


@app.post("/me/sign-out")
def sign_out() -> Response[str]:
    identity = signed_in_user(current_identity(app))
    session = identity.origin_jti
    if session is None:  # signed_in_user already refused it; this tells the type checker
        raise Forbidden("Forbidden")
    try:
        revocation_store().revoke_session(session, SIGN_OUT_REASON)
    except (BotoCoreError, ClientError) as error:
        logger.error("sign-out not recorded", extra={"reason": type(error).__name__})
        raise ServiceUnavailable("Service unavailable") from None
    logger.info("signed out: session revoked", extra={"sub": identity.sub})
    return empty_response(204)


@app.post("/me/sign-out-everywhere")
def sign_out_everywhere() -> Response[str]:
    identity = signed_in_user(current_identity(app))
    store = revocation_store()
    try:
        store.revoke_user(identity.sub, GLOBAL_SIGN_OUT_REASON, now=including_this_second())
        try:
            cognito().admin_user_global_sign_out(UserPoolId=os.environ[USER_POOL_ENV], Username=identity.username)
        except ClientError as error:
            # A user Cognito no longer knows has no refresh tokens left to revoke.
            if error.response.get("Error", {}).get("Code") != "UserNotFoundException":
                raise
        store.revoke_user(identity.sub, GLOBAL_SIGN_OUT_REASON, now=including_this_second())
    except (BotoCoreError, ClientError, KeyError) as error:
        logger.error("global sign-out not completed", extra={"reason": type(error).__name__})
        raise ServiceUnavailable("Service unavailable") from None
    logger.info("signed out everywhere: user not-before recorded, refresh tokens revoked", extra={"sub": identity.sub})
    return empty_response(204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
