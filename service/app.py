"""The Fargate web app behind the ALB: shows who you are, relays your token to the API, signs you out.

Every request except `/healthz` and `/logout` must carry a valid `x-amzn-oidc-data` token signed
by *this* ALB (see `alb_auth`); `/m2m/` requests instead carry a machine client's bearer token,
which the ALB validated and the app checks again (see `m2m_auth`). Any failure is a 401 with a
generic body: the reason goes to the log, never to the client.

Run in the container by gunicorn (`service.app:create_app()`), locally by `make web-local`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, g, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask.wrappers import Response
from werkzeug.exceptions import HTTPException

from service.alb_auth import AlbAuthError, AlbTokenVerifier
from service.api_client import ApiUnavailable, get_json
from service.m2m_auth import MachineAuthError, MachineTokenVerifier
from service.settings import Settings

OIDC_DATA_HEADER = "x-amzn-oidc-data"
ACCESS_TOKEN_HEADER = "x-amzn-oidc-accesstoken"  # noqa: S105 (a header name, not a secret)
MAX_ACCESS_TOKEN_BYTES = 16 * 1024
# The ALB shards a large session cookie into <name>-0 ... <name>-3.
SESSION_COOKIE_SHARDS = 4
PUBLIC_PATHS = frozenset({"/healthz", "/logout"})
XHR_PREFIX = "/app-api/"
MACHINE_PREFIX = "/m2m/"
ITEMS_PATH = "/items"
WAITING_FOR_INVITATION = (
    "Your account is waiting for an invitation: it does not belong to a tenant yet. "
    "Ask an administrator of your organisation to add you; then sign out and in again."
)

logger = logging.getLogger("service")

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def create_app(
    settings: Settings | None = None,
    *,
    alb_verifier: AlbTokenVerifier | None = None,
    machine_verifier: MachineTokenVerifier | None = None,
) -> Flask:
    """The WSGI app, configured from `settings` (default: the environment)."""
    settings = settings or Settings.from_environ(os.environ)
    alb_verifier = alb_verifier or AlbTokenVerifier(
        alb_arn=settings.alb_arn,
        issuer=settings.expected_issuer,
        client_id=settings.expected_client_id,
        region=settings.region,
        key_url_base=settings.key_url_base,
    )
    if machine_verifier is None and settings.machine is not None:
        machine_verifier = MachineTokenVerifier(
            issuer=settings.machine.issuer,
            jwks_url=settings.machine.jwks_url,
            client_ids=settings.machine.client_ids,
            required_scope=settings.machine.scope,
        )

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, JSON_SORT_KEYS=True)

    def unauthorized() -> ResponseReturnValue:
        if request.path.startswith((XHR_PREFIX, MACHINE_PREFIX)):
            return jsonify(message="Unauthorized"), 401
        return render_template("error.html", status=401, message="You are not signed in."), 401

    @app.before_request
    def authenticate() -> ResponseReturnValue | None:
        path = request.path
        if path in PUBLIC_PATHS:
            return None
        if path.startswith(MACHINE_PREFIX):
            if machine_verifier is None:
                logger.warning("machine request rejected: no machine clients configured")
                return unauthorized()
            try:
                g.machine = machine_verifier.verify(request.headers.get("Authorization"))
            except MachineAuthError as error:
                logger.warning("machine request rejected: %s", error)
                return unauthorized()
            return None
        try:
            g.claims = alb_verifier.verify(request.headers.get(OIDC_DATA_HEADER))
        except AlbAuthError as error:
            logger.warning("request rejected: %s (path %s)", error, path)
            return unauthorized()
        return None

    @app.after_request
    def secure_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return jsonify(status="ok")

    @app.get("/")
    def index() -> ResponseReturnValue:
        return render_template("index.html", claims=g.claims)

    @app.get("/app-api/me")
    def me() -> ResponseReturnValue:
        return jsonify(claims=g.claims)

    @app.get(ITEMS_PATH)
    def items() -> ResponseReturnValue:
        status, result = relay_items(settings.api_url)
        return render_template("items.html", status=status, result=result, api_url=settings.api_url), status

    @app.get("/app-api/items")
    def items_json() -> ResponseReturnValue:
        status, result = relay_items(settings.api_url)
        return jsonify(result), status

    @app.get("/m2m/whoami")
    def machine_whoami() -> ResponseReturnValue:
        return jsonify(client_id=g.machine.client_id, scopes=list(g.machine.scopes))

    @app.get("/logout")
    def logout() -> ResponseReturnValue:
        if settings.logout_url:
            response = redirect(settings.logout_url, code=302)
        else:
            response = app.make_response((render_template("signed_out.html"), 200))
        names = [settings.session_cookie_name] + [
            f"{settings.session_cookie_name}-{shard}" for shard in range(SESSION_COOKIE_SHARDS)
        ]
        for name in names:
            response.set_cookie(name, "", max_age=0, expires=0, path="/", secure=True, httponly=True)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        # Flask hands an HTTPException without a code back unhandled (Flask.handle_http_exception),
        # so `code` is always set here; the fallback only gives the type checker an int.
        code = error.code or 500
        if request.path.startswith((XHR_PREFIX, MACHINE_PREFIX)):
            return jsonify(message=error.name), code
        return render_template("error.html", status=code, message=error.name), code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> ResponseReturnValue:
        logger.exception("unexpected error on %s", request.path)
        if request.path.startswith((XHR_PREFIX, MACHINE_PREFIX)):
            return jsonify(message="Internal Server Error"), 500
        return render_template("error.html", status=500, message="Something went wrong."), 500

    return app


def relay_items(api_url: str | None) -> tuple[int, dict[str, Any]]:
    """(status, body) for the items page: the API's answer, or a generic error."""
    if not api_url:
        return 503, {"message": "The API is not configured for this app"}
    token = request.headers.get(ACCESS_TOKEN_HEADER, "")
    if not token or len(token) > MAX_ACCESS_TOKEN_BYTES or any(c.isspace() for c in token):
        logger.warning("items: no usable access token forwarded by the ALB")
        return 401, {"message": "Unauthorized"}
    try:
        response = get_json(api_url, ITEMS_PATH, token)
    except ApiUnavailable as error:
        logger.warning("items: %s", error)
        return 502, {"message": "The API did not answer"}
    if response.status == 401:
        return 401, {"message": "The API refused your token"}
    if response.status == 403:
        # The items route needs items.read, which every tenant role grants and this app's client
        # allows: a signed-in user refused it has no tenant yet (self sign-up, Google, Facebook).
        return 403, {"message": WAITING_FOR_INVITATION}
    if not 200 <= response.status < 300:
        logger.warning("items: API answered %s", response.status)
        return 502, {"message": "The API did not answer"}
    body = response.body if isinstance(response.body, dict) else {"items": response.body}
    return 200, body
