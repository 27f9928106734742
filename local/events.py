"""Payload format 2.0 events as API Gateway builds them for Lambda integrations and authorizers.

The one subtle part is the JWT claims: API Gateway hands every claim to the function as a string
(*observed*, live captures): numbers as `"1787996002"`, booleans as `"true"`, arrays flattened
Go-style as `"[admin editor]"`, nested objects as JSON text, null claims left out.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)


def stringify_claim(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return "[" + " ".join(stringify_claim(item) for item in value if item is not None) + "]"
    return json.dumps(value, separators=(",", ":"))


def stringify_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    return {name: stringify_claim(value) for name, value in claims.items() if value is not None}


@dataclass
class GatewayRequest:
    """An HTTP request as the gateway received it."""

    method: str
    raw_path: str
    raw_query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    request_id: str = field(default_factory=lambda: base64.b64encode(secrets.token_bytes(10)).decode())
    time_epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ",".join(values) if values else None

    @property
    def path(self) -> str:
        return urllib.parse.unquote(self.raw_path)


def event_headers(request: GatewayRequest) -> tuple[dict[str, str], list[str]]:
    """Lower-case headers with repeated ones comma-joined, and the cookies apart, as in 2.0 events."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers, cookies


def query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def request_context(
    request: GatewayRequest, *, account: str, api_id: str, region: str, route_key: str, stage: str
) -> dict[str, Any]:
    host = request.header("host") or f"{api_id}.execute-api.{region}.amazonaws.com"
    return {
        "accountId": account,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.time_epoch_ms / 1000)),
        "timeEpoch": request.time_epoch_ms,
    }


def _body(request: GatewayRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = (request.header("content-type") or "").lower()
    if not content_type or content_type.startswith(TEXT_TYPES):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True


def _add_request_parts(
    event: dict[str, Any],
    cookies: list[str],
    raw_query: str,
    path_parameters: Mapping[str, str],
    stage_variables: Mapping[str, str] | None,
) -> None:
    """The fields both payload 2.0 events carry only when present: cookies, query, path, stage variables."""
    query = query_parameters(raw_query)
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)


def integration_event(
    request: GatewayRequest,
    *,
    context: dict[str, Any],
    route_key: str,
    path_parameters: Mapping[str, str],
    stage_variables: Mapping[str, str] | None,
    authorizer: dict[str, Any] | None,
) -> dict[str, Any]:
    headers, cookies = event_headers(request)
    body, encoded = _body(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": dict(context),
        "isBase64Encoded": encoded,
    }
    _add_request_parts(event, cookies, request.raw_query, path_parameters, stage_variables)
    if body is not None:
        event["body"] = body
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    return event


def jwt_authorizer_context(claims: Mapping[str, Any], scopes: Sequence[str] | None) -> dict[str, Any]:
    return {"jwt": {"claims": stringify_claims(claims), "scopes": list(scopes) if scopes else None}}


def lambda_authorizer_event(
    request: GatewayRequest,
    *,
    context: dict[str, Any],
    route_key: str,
    route_arn: str,
    identity_source: Sequence[str],
    path_parameters: Mapping[str, str],
    stage_variables: Mapping[str, str] | None,
) -> dict[str, Any]:
    headers, cookies = event_headers(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn,
        "identitySource": list(identity_source),
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": dict(context),
    }
    _add_request_parts(event, cookies, request.raw_query, path_parameters, stage_variables)
    return event
