"""The issuer's vocabulary: its two error shapes, what it remembers between requests, and its time limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from local.srp_server import ServerSession
from local.tokens import SDK_SCOPE

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
