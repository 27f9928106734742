"""GET /health (no authorization) and GET /me: the caller exactly as the backends see them."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

import auth_contract
from shared.api import Forbidden, create_app, current_identity, json_response

logger = Logger()
app = create_app(logger)


@app.get("/health")
def health() -> Response[str]:
    return json_response(200, {"status": "ok"})


@app.get("/me")
def me() -> Response[str]:
    identity = current_identity(app)
    # The route needs any user API scope; repeated here so an ID token or a bare token never gets through.
    if not identity.is_access_token or not identity.has_scope(*auth_contract.USER_SCOPES):
        raise Forbidden("Forbidden")
    return json_response(200, identity.as_dict())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
