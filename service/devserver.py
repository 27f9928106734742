"""`make web-local`: the real web app on 127.0.0.1, behind a stand-in for the ALB.

The stand-in does what the ALB does after a sign-in: it drops any `x-amzn-oidc-*` header the
browser sent and adds freshly signed ones (ES256, padded, with this run's generated key, whose
public half a loopback key server publishes). The app is unchanged: it fetches the key, checks
signature, signer, client, issuer and expiry on every request, exactly as on Fargate.

    python -m service.devserver [--port 8000] [--email viewer@example.com] [--tenant tenant-a]

Set API_URL to relay `/items` to a running API (for example the local end-to-end gateway) and
LOCAL_ACCESS_TOKEN to the access token to relay; without them `/items` explains what is missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import run_simple

from service.app import create_app
from service.devtools import TEST_ALB_ARN, AlbTokenSigner, KeyServer
from service.settings import Settings

LOCAL_ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_LocalPool"
LOCAL_CLIENT_ID = "local-alb-client"
SIGNED_OUT_PATH = "/_local/signed-out"
SIGNED_OUT_PAGE = b"""<!doctype html><meta charset="utf-8"><title>Signed out</title>
<p>The app expired the ALB session cookies and sent you to the IdP's logout endpoint (here: this page).</p>
<p><a href="/">Sign in again</a></p>"""


# A WSGI application (PEP 3333): environ and start_response in, the body's chunks out.
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FakeAlb:
    """WSGI middleware standing in for the ALB's authenticate action, for one local user."""

    def __init__(self, app: WsgiApp, signer: AlbTokenSigner, claims: dict[str, Any], access_token: str) -> None:
        self.app = app
        self.signer = signer
        self.claims = claims
        self.access_token = access_token

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == SIGNED_OUT_PATH:
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [SIGNED_OUT_PAGE]
        for name in [key for key in environ if key.startswith("HTTP_X_AMZN_OIDC_")]:
            del environ[name]
        if environ.get("PATH_INFO") != "/healthz":
            environ["HTTP_X_AMZN_OIDC_DATA"] = self.signer.sign(self.claims)
            environ["HTTP_X_AMZN_OIDC_IDENTITY"] = self.claims["sub"]
            environ["HTTP_X_AMZN_OIDC_ACCESSTOKEN"] = self.access_token
        return self.app(environ, start_response)


def build(port: int, email: str, tenant: str) -> tuple[FakeAlb, KeyServer]:
    """The wrapped app and its key server (call `stop()` on it when done)."""
    signer = AlbTokenSigner(alb_arn=TEST_ALB_ARN, issuer=LOCAL_ISSUER, client_id=LOCAL_CLIENT_ID)
    keys = KeyServer()
    keys.add(signer)
    settings = Settings(
        alb_arn=TEST_ALB_ARN,
        expected_issuer=LOCAL_ISSUER,
        expected_client_id=LOCAL_CLIENT_ID,
        region="eu-west-1",
        api_url=(os.environ.get("API_URL") or "").rstrip("/") or None,
        logout_url=f"http://127.0.0.1:{port}{SIGNED_OUT_PATH}",
        session_cookie_name="AWSELBAuthSessionCookie",
        key_url_base=keys.base_url,
        machine=None,
    )
    claims = {
        "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, email)),
        "email": email,
        "email_verified": "true",
        "username": email,
        "custom:tenant_id": tenant,
    }
    access_token = os.environ.get("LOCAL_ACCESS_TOKEN") or "local-access-token-not-valid-at-any-api"
    return FakeAlb(create_app(settings), signer, claims, access_token), keys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--email", default="viewer@example.com")
    parser.add_argument("--tenant", default="tenant-a")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app, keys = build(args.port, args.email, args.tenant)
    print(f"web app on http://127.0.0.1:{args.port}/ signed in as {args.email}; ALB keys at {keys.base_url}")
    try:
        run_simple("127.0.0.1", args.port, app, threaded=True)
    finally:
        keys.stop()


if __name__ == "__main__":
    main()
