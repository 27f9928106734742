"""The web app's settings, read once from the environment the stack sets, and checked.

A missing or malformed value stops the app at start-up with the variable's name, so a bad
deployment fails its health check and the deployment circuit breaker rolls it back, instead
of serving requests half-configured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_SESSION_COOKIE = "AWSELBAuthSessionCookie"
COOKIE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LOOPBACK_HTTP = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?(/.*)?$")
_HTTPS = re.compile(r"^https://[^\s/?#]+[^\s]*$")


# Every variable the app reads; the stack sets them (tests/test_web_stack.py checks both sides).
REQUIRED_VARIABLES = ("ALB_ARN", "EXPECTED_ISSUER", "EXPECTED_CLIENT_ID", "AWS_REGION")
OPTIONAL_VARIABLES = (
    "API_URL",
    "LOGOUT_URL",
    "SESSION_COOKIE_NAME",
    "ALB_KEY_URL_BASE",
    "M2M_ISSUER",
    "M2M_JWKS_URL",
    "M2M_CLIENT_IDS",
    "M2M_SCOPE",
)


class SettingsError(ValueError):
    """An environment variable is missing or not allowed. The message names it."""


@dataclass(frozen=True)
class MachineSettings:
    issuer: str
    jwks_url: str
    client_ids: tuple[str, ...]
    scope: str


@dataclass(frozen=True)
class Settings:
    alb_arn: str
    expected_issuer: str
    expected_client_id: str
    region: str
    api_url: str | None
    logout_url: str | None
    session_cookie_name: str
    key_url_base: str | None
    machine: MachineSettings | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = (environ.get(name) or "").strip()
            if not value:
                raise SettingsError(f"{name}: required, but not set")
            return value

        def optional_url(name: str) -> str | None:
            value = (environ.get(name) or "").strip()
            if not value:
                return None
            if not (_HTTPS.fullmatch(value) or _LOOPBACK_HTTP.fullmatch(value)):
                raise SettingsError(f"{name}={value!r} is not allowed: an https:// URL (or http:// on loopback)")
            return value

        cookie = (environ.get("SESSION_COOKIE_NAME") or DEFAULT_SESSION_COOKIE).strip()
        if not COOKIE_NAME_PATTERN.fullmatch(cookie):
            raise SettingsError(f"SESSION_COOKIE_NAME={cookie!r} is not allowed: letters, digits, '_' or '-'")

        machine_names = ("M2M_ISSUER", "M2M_JWKS_URL", "M2M_CLIENT_IDS", "M2M_SCOPE")
        machine_values = {name: (environ.get(name) or "").strip() for name in machine_names}
        machine = None
        if any(machine_values.values()):
            missing = [name for name, value in machine_values.items() if not value]
            if missing:
                raise SettingsError(f"{missing[0]}: required when any of {', '.join(machine_names)} is set")
            machine = MachineSettings(
                issuer=machine_values["M2M_ISSUER"],
                jwks_url=optional_url("M2M_JWKS_URL") or "",
                client_ids=tuple(c.strip() for c in machine_values["M2M_CLIENT_IDS"].split(",") if c.strip()),
                scope=machine_values["M2M_SCOPE"],
            )

        return cls(
            alb_arn=required("ALB_ARN"),
            expected_issuer=required("EXPECTED_ISSUER"),
            expected_client_id=required("EXPECTED_CLIENT_ID"),
            region=required("AWS_REGION"),
            api_url=(optional_url("API_URL") or "").rstrip("/") or None,
            logout_url=optional_url("LOGOUT_URL"),
            session_cookie_name=cookie,
            key_url_base=optional_url("ALB_KEY_URL_BASE"),
            machine=machine,
        )
