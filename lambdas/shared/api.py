"""HTTP glue every API function shares: the errors logic raises, the JSON bodies they become,
and the caller's identity for the current request.

Error bodies are generic (`{"message": ...}`): they name a bad field, never echo a token, a
claim value or a stack trace. Unexpected failures are logged and answered with a plain 500.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

import auth_contract
from shared.claims import ClaimsError, Identity, parse_identity


class ApiError(Exception):
    """A request the API refuses, with the status and the message the caller gets."""

    status = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    status = HTTPStatus.BAD_REQUEST


class Unauthorized(ApiError):
    status = HTTPStatus.UNAUTHORIZED


class Forbidden(ApiError):
    status = HTTPStatus.FORBIDDEN


class NotFound(ApiError):
    status = HTTPStatus.NOT_FOUND


class Conflict(ApiError):
    status = HTTPStatus.CONFLICT


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


def empty_response(status: int) -> Response:
    return Response(status_code=int(status), body="")


def current_identity(app: APIGatewayHttpResolver) -> Identity:
    """The caller of the request being resolved (ClaimsError when the authorizer output is malformed)."""
    return parse_identity(app.current_event.raw_event)


def path_tenant(app: APIGatewayHttpResolver) -> str | None:
    """`{tenantId}` as API Gateway decoded it into `pathParameters`: the value the authorizer saw.

    Never the route match on the raw path, which keeps percent-encoding: `/tenants/ac%6De/...`
    is tenant `acme` to API Gateway and the authorizer, and must be `acme` here too. Callers
    validate it with `is_tenant_id`, as the authorizer does.
    """
    parameters = app.current_event.path_parameters or {}
    value = parameters.get(auth_contract.TENANT_PATH_PARAMETER)
    return value if isinstance(value, str) else None


def create_app(logger: Logger) -> APIGatewayHttpResolver:
    """A resolver whose errors all become generic JSON bodies."""
    app = APIGatewayHttpResolver()

    @app.exception_handler(ApiError)
    def _refused(error: ApiError) -> Response:
        logger.info("request refused", extra={"status": int(error.status), "reason": error.message})
        return json_response(error.status, {"message": error.message})

    @app.exception_handler(ClaimsError)
    def _bad_identity(error: ClaimsError) -> Response:
        # The authorizer let the request in, yet its output makes no sense: refuse, never guess.
        logger.warning("unusable authorizer output", extra={"reason": str(error)})
        return json_response(HTTPStatus.UNAUTHORIZED, {"message": "Unauthorized"})

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return json_response(HTTPStatus.NOT_FOUND, {"message": "Not found"})

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unexpected error")
        return json_response(HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "Internal server error"})

    return app
