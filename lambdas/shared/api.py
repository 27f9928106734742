"""HTTP glue every API function shares: the errors logic raises, the JSON bodies they become,
the caller's identity for the current request, and the revocation check every request with a
caller passes before any route runs.

The check is a middleware of every resolver `create_app` makes, so no route can forget it: a
revoked token is 401, and when the revocation store cannot answer the request is refused with
503 (fail closed) and a log line the monitoring stack counts (`"revocation": "store-unavailable"`).
Both authorizers' callers are checked: behind the tenant-path Lambda authorizer too, because API
Gateway caches its allow for up to `authorizer_cache_seconds`.

Error bodies are generic (`{"message": ...}`): they name a bad field, never echo a token, a
claim value or a stack trace. Unexpected failures are logged and answered with a plain 500.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

import auth_contract
from shared import revocation
from shared.claims import ClaimsError, Identity, parse_identity

IDENTITY_CONTEXT_KEY = "identity"


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


class ServiceUnavailable(ApiError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


def empty_response(status: int) -> Response[str]:
    return Response(status_code=int(status), body="")


def current_identity(app: APIGatewayHttpResolver) -> Identity:
    """The caller of the request being resolved, already checked against the revocation store
    (ClaimsError when the authorizer output is malformed)."""
    identity = app.context.get(IDENTITY_CONTEXT_KEY)
    if identity is None:
        identity = parse_identity(app.current_event.raw_event)
        revocation.check_identity(identity)
    return identity


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

    def revocation_check(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[str]:
        # Every request an authorizer let in: the route runs only for a caller whose token stands.
        request_context = app.current_event.raw_event.get("requestContext") or {}
        if isinstance(request_context, dict) and request_context.get("authorizer") is not None:
            identity = parse_identity(app.current_event.raw_event)
            revocation.check_identity(identity)
            # What Powertools' (unannotated) append_context does: the route reads it from app.context.
            app.context.update({IDENTITY_CONTEXT_KEY: identity})
        return next_middleware(app)

    app.use(middlewares=[revocation_check])

    def _revoked(error: revocation.Revoked) -> Response[str]:
        logger.info("request refused: token revoked", extra={"status": 401, "reason": str(error)})
        return json_response(HTTPStatus.UNAUTHORIZED, {"message": "Unauthorized"})

    def _store_unavailable(error: revocation.StoreUnavailable) -> Response[str]:
        # Fail closed: without an answer from the store no token can be trusted to be unrevoked.
        logger.error(
            "request refused: the revocation store did not answer",
            extra={revocation.UNAVAILABLE_LOG_FIELD: revocation.UNAVAILABLE_LOG_VALUE, "reason": str(error)},
        )
        return json_response(HTTPStatus.SERVICE_UNAVAILABLE, {"message": "Service unavailable"})

    def _refused(error: ApiError) -> Response[str]:
        logger.info("request refused", extra={"status": int(error.status), "reason": error.message})
        return json_response(error.status, {"message": error.message})

    def _bad_identity(error: ClaimsError) -> Response[str]:
        # The authorizer let the request in, yet its output makes no sense: refuse, never guess.
        logger.warning("unusable authorizer output", extra={"reason": str(error)})
        return json_response(HTTPStatus.UNAUTHORIZED, {"message": "Unauthorized"})

    def _not_found(_: Exception) -> Response[str]:
        return json_response(HTTPStatus.NOT_FOUND, {"message": "Not found"})

    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return json_response(HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "Internal server error"})

    # Registered by call rather than as decorators: Powertools' exception_handler and not_found
    # carry no return annotation, so as decorators they would erase these handlers' types.
    app.exception_handler(revocation.Revoked)(_revoked)
    app.exception_handler(revocation.StoreUnavailable)(_store_unavailable)
    app.exception_handler(ApiError)(_refused)
    app.exception_handler(ClaimsError)(_bad_identity)
    app.not_found(_not_found)
    app.exception_handler(Exception)(_unexpected)
    return app
