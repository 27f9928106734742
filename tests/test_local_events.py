"""Payload 2.0 events and responses are shaped the way API Gateway shapes them."""

from __future__ import annotations

import base64
import json

import pytest

from local.events import (
    GatewayRequest,
    integration_event,
    jwt_authorizer_context,
    request_context,
    stringify_claim,
    stringify_claims,
)
from local.gateway import lambda_result_response


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme", "acme"),
        (1787996002, "1787996002"),
        (1787996002.0, "1787996002"),
        (True, "true"),
        (False, "false"),
        (["admin", "editor"], "[admin editor]"),
        (["viewer"], "[viewer]"),
        ([], "[]"),
        ({"a": 1, "b": ["x"]}, '{"a":1,"b":["x"]}'),
    ],
)
def test_claims_are_stringified_as_api_gateway_passes_them(value: object, expected: str) -> None:
    assert stringify_claim(value) == expected


def test_null_claims_are_left_out() -> None:
    assert stringify_claims({"sub": "u1", "nothing": None, "exp": 5}) == {"sub": "u1", "exp": "5"}


def test_jwt_scopes_are_null_when_there_are_none() -> None:
    assert jwt_authorizer_context({"sub": "u1"}, None) == {"jwt": {"claims": {"sub": "u1"}, "scopes": None}}
    assert jwt_authorizer_context({"sub": "u1"}, ["a", "b"])["jwt"]["scopes"] == ["a", "b"]


def request(**overrides: object) -> GatewayRequest:
    values = {
        "method": "POST",
        "raw_path": "/items/a%20b",
        "raw_query": "tag=x&tag=y&limit=5",
        "headers": [
            ("Host", "127.0.0.1:8787"),
            ("Content-Type", "application/json"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Cookie", "a=1; b=2"),
            ("User-Agent", "pytest"),
        ],
        "body": b'{"name":"x"}',
    }
    values.update(overrides)
    return GatewayRequest(**values)  # type: ignore[arg-type]


def test_integration_event_has_the_v2_shape() -> None:
    req = request()
    context = request_context(
        req, account="123456789012", api_id="abc", region="eu-west-1", route_key="POST /items/{id}", stage="$default"
    )
    event = integration_event(
        req,
        context=context,
        route_key="POST /items/{id}",
        path_parameters={"id": "a b"},
        stage_variables={},
        authorizer=jwt_authorizer_context({"sub": "u1"}, None),
    )
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/items/a%20b"
    assert event["requestContext"]["http"] == {
        "method": "POST",
        "path": "/items/a b",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest",
    }
    assert event["headers"]["x-multi"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["queryStringParameters"] == {"tag": "x,y", "limit": "5"}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["body"] == '{"name":"x"}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["authorizer"] == {"jwt": {"claims": {"sub": "u1"}, "scopes": None}}
    assert "stageVariables" not in event


def test_binary_bodies_are_base64_encoded() -> None:
    req = request(headers=[("Content-Type", "application/octet-stream")], body=b"\xff\x00")
    context = request_context(
        req, account="1", api_id="abc", region="eu-west-1", route_key="$default", stage="$default"
    )
    event = integration_event(
        req, context=context, route_key="$default", path_parameters={}, stage_variables=None, authorizer=None
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00"
    assert "authorizer" not in event["requestContext"]


def test_a_function_result_with_status_code_becomes_that_response() -> None:
    response = lambda_result_response(
        {"statusCode": 201, "headers": {"Location": "/items/1"}, "cookies": ["s=1"], "body": '{"id":"1"}'}
    )
    assert response.status == 201
    assert response.header("location") == "/items/1"
    assert response.header("set-cookie") == "s=1"
    assert response.header("content-type") == "application/json"
    assert json.loads(response.body) == {"id": "1"}


def test_a_result_without_status_code_is_a_json_body_with_status_200() -> None:
    response = lambda_result_response({"hello": "world"})
    assert (response.status, json.loads(response.body)) == (200, {"hello": "world"})


def test_base64_bodies_are_decoded_and_bad_status_codes_are_500() -> None:
    response = lambda_result_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x01").decode(), "isBase64Encoded": True}
    )
    assert response.body == b"\x01"
    assert lambda_result_response({"statusCode": "nope"}).status == 500
    assert json.loads(lambda_result_response({"statusCode": 9999}).body) == {"message": "Internal Server Error"}
