"""Granting and revoking the platform operator role: an act for someone holding AWS credentials for
the account, never an API route, so no token (stolen or not) can make an operator.

`grant` refuses a user without TOTP MFA (an authenticator app) set up, and a user who belongs to
a tenant: operators are dedicated accounts. Production pools require MFA at every sign-in
(config validation); in pools where MFA is optional the check is made here, at grant time.
Cognito calls are signed with the caller's AWS credentials (the default chain: environment,
profile, SSO), against the pool the outputs file names.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

import auth_contract
from client.endpoints import Endpoints

TOTP = "SOFTWARE_TOKEN_MFA"


class OperatorError(Exception):
    """The grant or revocation was refused; the message says why and what to do."""


def admin_client(endpoints: Endpoints) -> Any:
    return boto3.client("cognito-idp", region_name=endpoints.region, endpoint_url=endpoints.cognito_endpoint)


def _call(cognito: Any, operation: str, **params: Any) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = getattr(cognito, operation)(**params)
        return answer
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "UserNotFoundException":
            raise OperatorError(f"no such user: {params.get('Username')}") from None
        raise OperatorError(f"{code}: {error.response['Error'].get('Message', '')}") from None
    except BotoCoreError as error:
        raise OperatorError(f"cannot call Cognito with your AWS credentials: {error}") from None


def grant(endpoints: Endpoints, email: str, cognito: Any = None) -> str:
    """Adds the user to the platform_operator group; returns their user name.

    AdminGetUser lists the MFA methods a user has set up in `UserMFASettingList`
    (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminGetUser.html).
    """
    cognito = cognito or admin_client(endpoints)
    user = _call(cognito, "admin_get_user", UserPoolId=endpoints.user_pool_id, Username=email)
    if TOTP not in (user.get("UserMFASettingList") or []):
        raise OperatorError(
            f"{email} has no authenticator app (TOTP MFA) set up: platform operators must use MFA. "
            "They set it up at sign-in (a pool with MFA required asks for it) or with "
            "associate-software-token, verify-software-token and set-user-mfa-preference; then grant again"
        )
    attributes = {item["Name"]: item["Value"] for item in user.get("UserAttributes") or []}
    if attributes.get(auth_contract.TENANT_ATTRIBUTE_CLAIM):
        raise OperatorError(f"{email} is a member of a tenant: a platform operator is a dedicated account")
    _call(
        cognito,
        "admin_add_user_to_group",
        UserPoolId=endpoints.user_pool_id,
        Username=user["Username"],
        GroupName=auth_contract.PLATFORM_OPERATOR,
    )
    username: str = user["Username"]
    return username


def revoke(endpoints: Endpoints, email: str, cognito: Any = None) -> str:
    """Removes the role and signs the user out everywhere (their refresh tokens stop working)."""
    cognito = cognito or admin_client(endpoints)
    user = _call(cognito, "admin_get_user", UserPoolId=endpoints.user_pool_id, Username=email)
    _call(
        cognito,
        "admin_remove_user_from_group",
        UserPoolId=endpoints.user_pool_id,
        Username=user["Username"],
        GroupName=auth_contract.PLATFORM_OPERATOR,
    )
    _call(cognito, "admin_user_global_sign_out", UserPoolId=endpoints.user_pool_id, Username=user["Username"])
    username: str = user["Username"]
    return username
