"""The hosted UI's pages: the sign-in form behind /oauth2/authorize and /login, and /logout's redirect."""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Mapping

from local.directory import DirectoryError
from local.issuer.model import CognitoError, OAuthError
from local.issuer.oauth import OAuthEndpoints

# An HTTP answer: status, body, headers.
Response = tuple[int, bytes, list[tuple[str, str]]]

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


def _error_page(error: str) -> Response:
    return 400, f"<p>error: {html.escape(error)}</p>".encode(), [("Content-Type", "text/html")]


def sign_in_page(issuer: OAuthEndpoints, query: Mapping[str, str], error: str | None, status: int = 200) -> Response:
    """The sign-in form for an /oauth2/authorize request, or an error page if Cognito would refuse the request."""
    try:
        client, _ = issuer.authorize_request(query)
    except OAuthError as failure:
        return _error_page(failure.error)
    page = LOGIN_PAGE.format(
        client_name=html.escape(client.raw.get("ClientName", client.client_id)),
        error=f'<p role="alert">{html.escape(error)}</p>' if error else "",
        query=html.escape(urllib.parse.urlencode(query)),
    )
    return status, page.encode(), [("Content-Type", "text/html; charset=utf-8")]


def sign_in(issuer: OAuthEndpoints, query: Mapping[str, str], form: Mapping[str, str]) -> Response:
    """The posted form's answer: the redirect with a code, or the form again with Cognito's message."""
    try:
        location = issuer.login(query, form.get("username", ""), form.get("password", ""))
    except OAuthError as failure:
        return _error_page(failure.error)
    except CognitoError as failure:
        return sign_in_page(issuer, query, error=failure.message, status=400)
    return 302, b"", [("Location", location)]


def sign_out(issuer: OAuthEndpoints, query: Mapping[str, str]) -> Response:
    """Redirects only to one of the client's sign-out URLs, as Cognito's /logout does."""
    try:
        client = issuer.directory.client(query.get("client_id") or "")
    except DirectoryError:
        return 400, b"<p>error: invalid_client</p>", [("Content-Type", "text/html")]
    target = query.get("logout_uri")
    if not target or target not in (client.raw.get("LogoutURLs") or []):
        return 400, b"<p>error: invalid logout_uri</p>", [("Content-Type", "text/html")]
    return 302, b"", [("Location", target)]
