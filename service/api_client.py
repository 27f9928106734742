"""Token relay: calls the HTTP API as the signed-in user, with the access token the ALB forwarded.

The app never mints or stores tokens: the ALB obtained the access token from the IdP (with the
API read scope the listener asks for) and passes it in `x-amzn-oidc-accesstoken`; the API's JWT
authorizer checks it like any other bearer token.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO, Any

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 1024 * 1024


class ApiUnavailable(Exception):
    """The API did not answer usefully (network, timeout, not JSON). The message is for logs only."""


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect with the user's token attached."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def get_json(base_url: str, path: str, access_token: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> ApiResponse:
    """GET `base_url + path` with `Authorization: Bearer <access_token>`."""
    request = urllib.request.Request(  # noqa: S310 (the URL comes from the stack's settings: https, or loopback http)
        base_url.rstrip("/") + path,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read(MAX_RESPONSE_BYTES + 1)
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise ApiUnavailable(f"API unreachable: {type(error).__name__}") from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise ApiUnavailable("API response too large")
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        raise ApiUnavailable(f"API answered {status} without JSON") from None
    return ApiResponse(status=status, body=body)
