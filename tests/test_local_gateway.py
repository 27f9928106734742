"""The local gateway serves what the template's AWS::ApiGatewayV2 resources say, as API Gateway does.

Small templates built here exercise each rule; the synthesized Api template shows that the routes,
authorizers and scopes come from the CDK code alone. Functions are tiny echo/deny handlers written
to a temporary package, so no project handler is imported into the test process.
"""

from __future__ import annotations

import copy
import http.client
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import auth_contract
from local.events import GatewayRequest
from local.gateway import Gateway, GatewayResponse, gateway_server, http_apis_from_template
from local.intrinsics import Resolver
from local.jwt_authorizer import JwksCache
from local.lambdas import LambdaRuntime
from local.provision import add_python_functions, register_functions
from local.tokens import Clock, SigningKey
from tests.synth import Synthesized

ISSUER = "http://127.0.0.1:9/eu-west-1_pool"
CLIENT = "spa-client"
PACKAGE = "local_gateway_test_functions"

FUNCTIONS = {
    "echo.py": """
        import json
        def handler(event, context):
            return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://evil.example"},
                    "body": json.dumps(event)}
    """,
    "fail.py": """
        def handler(event, context):
            raise RuntimeError("secret detail")
    """,
    "auth.py": """
        CALLS = []
        def handler(event, context):
            CALLS.append(event)
            key = event["headers"].get("x-key")
            if key == "boom":
                raise RuntimeError("authorizer broke")
            return {"isAuthorized": key == "good", "context": {"tenant": "acme", "n": 1}}
    """,
}


@pytest.fixture(scope="module")
def code_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("functions")
    package = root / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in FUNCTIONS.items():
        (package / name).write_text(textwrap.dedent(source))
    return root


def function(handler: str) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Properties": {"Handler": f"{PACKAGE}.{handler}", "Runtime": "python3.14"}}


def integration(function_id: str) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": {"Ref": "Api"},
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": {"Fn::GetAtt": [function_id, "Arn"]},
            "PayloadFormatVersion": "2.0",
        },
    }


def route(key: str, *, target: str = "EchoIntegration", kind: str = "NONE", authorizer: str | None = None, scopes=()):
    props: dict[str, Any] = {
        "ApiId": {"Ref": "Api"},
        "RouteKey": key,
        "AuthorizationType": kind,
        "Target": {"Fn::Join": ["", ["integrations/", {"Ref": target}]]},
    }
    if authorizer:
        props["AuthorizerId"] = {"Ref": authorizer}
    if scopes:
        props["AuthorizationScopes"] = list(scopes)
    return {"Type": "AWS::ApiGatewayV2::Route", "Properties": props}


def small_template() -> dict[str, Any]:
    return {
        "Resources": {
            "Echo": function("echo.handler"),
            "Fail": function("fail.handler"),
            "Auth": function("auth.handler"),
            "Api": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {
                    "Name": "Api",
                    "ProtocolType": "HTTP",
                    "CorsConfiguration": {
                        "AllowOrigins": ["http://localhost:5173"],
                        "AllowMethods": ["GET", "POST"],
                        "AllowHeaders": ["authorization", "content-type"],
                        "ExposeHeaders": ["location"],
                        "MaxAge": 600,
                    },
                },
            },
            "Jwt": {
                "Type": "AWS::ApiGatewayV2::Authorizer",
                "Properties": {
                    "ApiId": {"Ref": "Api"},
                    "AuthorizerType": "JWT",
                    "IdentitySource": ["$request.header.Authorization"],
                    "JwtConfiguration": {"Issuer": ISSUER, "Audience": [CLIENT]},
                    "Name": "Jwt",
                },
            },
            "Tenant": {
                "Type": "AWS::ApiGatewayV2::Authorizer",
                "Properties": {
                    "ApiId": {"Ref": "Api"},
                    "AuthorizerType": "REQUEST",
                    "AuthorizerPayloadFormatVersion": "2.0",
                    "EnableSimpleResponses": True,
                    "AuthorizerResultTtlInSeconds": 300,
                    "IdentitySource": ["$request.header.X-Key", "$context.path"],
                    "AuthorizerUri": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/",
                                {"Fn::GetAtt": ["Auth", "Arn"]},
                                "/invocations",
                            ],
                        ]
                    },
                    "Name": "Tenant",
                },
            },
            "EchoIntegration": integration("Echo"),
            "FailIntegration": integration("Fail"),
            "Open": route("GET /open"),
            "Items": route(
                "GET /items", kind="JWT", authorizer="Jwt", scopes=["https://api/items.read", "https://api/admin"]
            ),
            "Item": route("GET /items/{id}", kind="JWT", authorizer="Jwt"),
            "Special": route("GET /items/special"),
            "Files": route("ANY /files/{proxy+}"),
            "FilesGet": route("GET /files/{proxy+}"),
            "TenantRoute": route("GET /tenants/{tenantId}/summary", kind="CUSTOM", authorizer="Tenant"),
            "Failing": route("GET /fail", target="FailIntegration"),
            "Default": route("$default"),
            "Stage": {
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "$default"},
            },
        }
    }


class Harness:
    def __init__(self, template: dict[str, Any], code_root: Path, extra_stacks: dict[str, dict] | None = None) -> None:
        self.key = SigningKey.generate()
        self.clock = Clock()
        self.resolver = Resolver(region="eu-west-1", account="123456789012")
        self.runtime = LambdaRuntime(region="eu-west-1", code_root=code_root)
        for name, extra in (extra_stacks or {}).items():
            self.resolver.add_stack(name, extra)
        self.values = self.resolver.add_stack("api", template)
        register_functions(self.resolver, self.values)
        add_python_functions(self.runtime, self.resolver, self.values)
        jwks = JwksCache(self.clock, fetch=self.fetch)
        [api] = http_apis_from_template(self.values, self.resolver, self.runtime, jwks)
        self.api = api
        self.gateway = Gateway(api, runtime=self.runtime, clock=self.clock, region="eu-west-1", account="123456789012")

    def fetch(self, url: str, timeout: float) -> Any:
        if url.endswith("openid-configuration"):
            return {"jwks_uri": f"{ISSUER}/.well-known/jwks.json"}
        return {"keys": [self.key.jwk()]}

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        base = {"sub": "u1", "iss": ISSUER, "client_id": CLIENT, "token_use": "access", "exp": now + 300, "iat": now}
        return self.key.sign({**base, **claims})

    def call(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> GatewayResponse:
        raw_path, _, query = path.partition("?")
        return self.gateway.handle(
            GatewayRequest(
                method=method, raw_path=raw_path, raw_query=query, headers=list((headers or {}).items()), body=body
            )
        )


def event_of(response: GatewayResponse) -> dict[str, Any]:
    assert response.status == 200, response.body
    return json.loads(response.body)


@pytest.fixture(scope="module")
def harness(code_root: Path) -> Harness:
    return Harness(small_template(), code_root)


def auth_calls() -> list[dict[str, Any]]:
    return sys.modules[f"{PACKAGE}.auth"].CALLS


# ---------------------------------------------------------------------- routing


def test_exact_routes_win_over_path_variables(harness: Harness) -> None:
    assert event_of(harness.call("GET", "/items/special"))["routeKey"] == "GET /items/special"


def test_path_variables_are_decoded_into_path_parameters(harness: Harness) -> None:
    token = harness.token()
    event = event_of(harness.call("GET", "/items/a%2Fb", {"Authorization": f"Bearer {token}"}))
    assert (event["routeKey"], event["pathParameters"]) == ("GET /items/{id}", {"id": "a/b"})


def test_a_method_route_wins_over_any_and_greedy_variables_take_the_rest_of_the_path(harness: Harness) -> None:
    assert event_of(harness.call("GET", "/files/a/b/c"))["routeKey"] == "GET /files/{proxy+}"
    event = event_of(harness.call("DELETE", "/files/a/b/c"))
    assert (event["routeKey"], event["pathParameters"]) == ("ANY /files/{proxy+}", {"proxy": "a/b/c"})


def test_requests_no_route_matches_go_to_the_default_route(harness: Harness) -> None:
    assert event_of(harness.call("PATCH", "/nothing/here"))["routeKey"] == "$default"


def test_without_a_default_route_an_unknown_path_is_404(code_root: Path) -> None:
    template = small_template()
    del template["Resources"]["Default"]
    response = Harness(template, code_root).call("GET", "/nothing")
    assert (response.status, json.loads(response.body)) == (404, {"message": "Not Found"})


# ---------------------------------------------------------------------- JWT authorizer


def test_a_missing_token_is_401_with_a_bearer_challenge(harness: Harness) -> None:
    response = harness.call("GET", "/items")
    assert (response.status, json.loads(response.body)) == (401, {"message": "Unauthorized"})
    assert response.header("www-authenticate").startswith("Bearer")


def test_a_bad_token_is_401_invalid_token(harness: Harness) -> None:
    response = harness.call("GET", "/items", {"Authorization": "Bearer " + harness.token(exp=1)})
    assert response.status == 401
    assert 'error="invalid_token"' in response.header("www-authenticate")


def test_a_valid_token_without_any_route_scope_is_403(harness: Harness) -> None:
    response = harness.call(
        "GET", "/items", {"Authorization": "Bearer " + harness.token(scope="https://api/items.write")}
    )
    assert (response.status, json.loads(response.body)) == (403, {"message": "Forbidden"})


def test_one_of_the_route_scopes_is_enough_and_claims_reach_the_function_as_strings(harness: Harness) -> None:
    token = harness.token(scope="openid https://api/admin", roles=["admin", "editor"], email_verified=True)
    event = event_of(harness.call("GET", "/items", {"Authorization": token}))
    jwt_context = event["requestContext"]["authorizer"]["jwt"]
    assert jwt_context["scopes"] == ["openid", "https://api/admin"]
    assert jwt_context["claims"]["roles"] == "[admin editor]"
    assert jwt_context["claims"]["email_verified"] == "true"
    assert jwt_context["claims"]["exp"].isdigit()
    assert event["headers"]["authorization"] == token


def test_scopes_are_null_on_routes_without_scopes(harness: Harness) -> None:
    event = event_of(harness.call("GET", "/items/1", {"Authorization": "Bearer " + harness.token(scope="a b")}))
    assert event["requestContext"]["authorizer"]["jwt"]["scopes"] is None


def test_routes_without_authorization_get_no_authorizer_context(harness: Harness) -> None:
    assert "authorizer" not in event_of(harness.call("GET", "/open"))["requestContext"]


# ---------------------------------------------------------------------- Lambda authorizer


def test_the_lambda_authorizer_allows_and_its_context_reaches_the_function(harness: Harness) -> None:
    event = event_of(harness.call("GET", "/tenants/acme/summary", {"X-Key": "good"}))
    assert event["requestContext"]["authorizer"] == {"lambda": {"tenant": "acme", "n": 1}}
    request = auth_calls()[-1]
    assert request["type"] == "REQUEST"
    assert request["identitySource"] == ["good", "/tenants/acme/summary"]
    assert request["routeArn"].endswith("/$default/GET/tenants/acme/summary")
    assert request["pathParameters"] == {"tenantId": "acme"}


def test_a_denial_is_403_and_a_missing_identity_source_is_401_without_a_call(harness: Harness) -> None:
    assert harness.call("GET", "/tenants/acme/summary", {"X-Key": "bad"}).status == 403
    calls = len(auth_calls())
    response = harness.call("GET", "/tenants/acme/summary")
    assert (response.status, json.loads(response.body)) == (401, {"message": "Unauthorized"})
    assert len(auth_calls()) == calls


def test_answers_are_cached_per_identity_source_values_for_the_ttl(harness: Harness) -> None:
    calls = len(auth_calls())
    for _ in range(3):
        harness.call("GET", "/tenants/cached/summary", {"X-Key": "good"})
    assert len(auth_calls()) == calls + 1
    harness.call("GET", "/tenants/other/summary", {"X-Key": "good"})
    assert len(auth_calls()) == calls + 2
    harness.clock.offset = 301
    try:
        harness.call("GET", "/tenants/cached/summary", {"X-Key": "good"})
    finally:
        harness.clock.offset = 0
    assert len(auth_calls()) == calls + 3


def test_an_authorizer_that_fails_is_a_generic_500(harness: Harness) -> None:
    response = harness.call("GET", "/tenants/acme/summary", {"X-Key": "boom"})
    assert (response.status, json.loads(response.body)) == (500, {"message": "Internal Server Error"})


# ---------------------------------------------------------------------- integration and CORS


def test_a_function_that_raises_is_a_generic_500_without_its_message(harness: Harness) -> None:
    response = harness.call("GET", "/fail")
    assert (response.status, json.loads(response.body)) == (500, {"message": "Internal Server Error"})
    assert b"secret detail" not in response.body


def test_preflight_is_answered_from_the_cors_configuration_without_a_token(harness: Harness) -> None:
    response = harness.call(
        "OPTIONS",
        "/items",
        {
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status == 204
    assert response.header("access-control-allow-origin") == "http://localhost:5173"
    assert response.header("access-control-allow-methods") == "GET,POST"
    assert response.header("access-control-allow-headers") == "authorization,content-type"
    assert response.header("access-control-max-age") == "600"


def test_preflight_from_an_unknown_origin_gets_no_cors_headers(harness: Harness) -> None:
    response = harness.call(
        "OPTIONS", "/items", {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert response.status == 204
    assert response.header("access-control-allow-origin") is None


def test_responses_carry_the_configured_cors_headers_and_not_the_functions(harness: Harness) -> None:
    allowed = harness.call("GET", "/open", {"Origin": "http://localhost:5173"})
    assert allowed.header("access-control-allow-origin") == "http://localhost:5173"
    assert allowed.header("access-control-expose-headers") == "location"
    denied = harness.call("GET", "/open", {"Origin": "https://evil.example"})
    assert denied.header("access-control-allow-origin") is None
    unauthorized = harness.call("GET", "/items", {"Origin": "http://localhost:5173"})
    assert unauthorized.status == 401
    assert unauthorized.header("access-control-allow-origin") == "http://localhost:5173"


def test_every_response_carries_a_request_id(harness: Harness) -> None:
    assert harness.call("GET", "/open").header("apigw-requestid")


# ---------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def served(harness: Harness):
    server = gateway_server("127.0.0.1", 0, harness.gateway)
    server.start("test-gateway")
    yield server
    server.stop()


def http_call(server: Any, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_server_passes_requests_through_to_the_function(served: Any) -> None:
    status, body = http_call(served, "POST", "/anything?x=1", {"Content-Type": "application/json"}, b'{"a":1}')
    event = json.loads(body)
    assert (status, event["body"], event["rawQueryString"]) == (200, '{"a":1}', "x=1")


def test_headers_over_the_limit_are_refused(served: Any) -> None:
    status, body = http_call(served, "GET", "/open", {"X-Big": "x" * 11_000})
    assert status == 431
    assert json.loads(body) == {"message": "Request Header Fields Too Large"}


def test_bodies_over_ten_megabytes_are_refused(served: Any) -> None:
    status, body = http_call(served, "POST", "/open", {"Content-Length": str(10 * 1024 * 1024 + 1)})
    assert (status, json.loads(body)) == (413, {"message": "Request Entity Too Large"})


# ---------------------------------------------------------------------- the synthesized Api template


def identity_values(identity: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Registers the identity stack's pool and clients with local values; their ids by logical id."""
    ids = {}
    for logical_id, resource in identity["Resources"].items():
        if resource["Type"] == "AWS::Cognito::UserPool":
            ids[logical_id] = "eu-west-1_pool"
        elif resource["Type"] == "AWS::Cognito::UserPoolClient":
            ids[logical_id] = CLIENT if "Spa" in logical_id else f"client-{logical_id}"
    return "eu-west-1_pool", ids


def real_api_harness(dev_env: Synthesized, code_root: Path, api_template: dict[str, Any]) -> Harness:
    identity = dev_env.templates["Identity"]
    stack_names = {stack.node.id: stack.stack_name for stack in dev_env.stage.stacks}

    class RealHarness(Harness):
        def __init__(self) -> None:
            self.key = SigningKey.generate()
            self.clock = Clock()
            self.resolver = Resolver(region="eu-west-1", account="123456789012")
            self.runtime = LambdaRuntime(region="eu-west-1", code_root=code_root)
            identity_stack = stack_names["Identity"]
            self.resolver.add_stack(identity_stack, identity)
            _, ids = identity_values(identity)
            for logical_id, value in ids.items():
                self.resolver.register(identity_stack, logical_id, value, ProviderURL=ISSUER)
            self.values = self.resolver.add_stack(stack_names["Api"], api_template)
            register_functions(self.resolver, self.values)
            add_python_functions(self.runtime, self.resolver, self.values)
            for fn in self.runtime.functions:  # every backend replaced by the echo function
                fn.handler = f"{PACKAGE}.echo.handler"
            jwks = JwksCache(self.clock, fetch=self.fetch)
            [self.api] = http_apis_from_template(self.values, self.resolver, self.runtime, jwks)
            self.gateway = Gateway(self.api, runtime=self.runtime, clock=self.clock, region="eu-west-1", account="1")

    return RealHarness()


def scope(name: str) -> str:
    return auth_contract.qualified_scope("https://api.jwt-auth.dev", name)


def test_every_route_of_the_synthesized_api_is_served_with_its_template_authorization(
    dev_env: Synthesized, code_root: Path
) -> None:
    template = dev_env.templates["Api"]
    harness = real_api_harness(dev_env, code_root, template)
    declared = {
        resource["Properties"]["RouteKey"]: resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ApiGatewayV2::Route"
    }
    served = {route.route_key: route for route in harness.api.routes}
    assert set(served) == set(declared)
    for key, props in declared.items():
        assert served[key].authorization_type == props.get("AuthorizationType", "NONE")
        assert served[key].scopes == tuple(props.get("AuthorizationScopes", ()))
        assert served[key].integration is not None and served[key].integration.function is not None
    [jwt_authorizer] = harness.api.jwt_authorizers.values()
    assert jwt_authorizer.issuer == ISSUER
    assert CLIENT in jwt_authorizer.audience


def test_changing_a_routes_scopes_in_the_template_changes_what_the_gateway_enforces(
    dev_env: Synthesized, code_root: Path
) -> None:
    template = copy.deepcopy(dev_env.templates["Api"])
    harness = real_api_harness(dev_env, code_root, template)
    reader = {"Authorization": "Bearer " + harness.token(scope=scope(auth_contract.ITEMS_READ))}
    assert harness.call("GET", "/items", reader).status == 200

    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGatewayV2::Route" and resource["Properties"]["RouteKey"] == "GET /items":
            resource["Properties"]["AuthorizationScopes"] = [scope(auth_contract.ADMIN_SCOPE)]
    harness = real_api_harness(dev_env, code_root, template)
    reader = {"Authorization": "Bearer " + harness.token(scope=scope(auth_contract.ITEMS_READ))}
    admin = {"Authorization": "Bearer " + harness.token(scope=scope(auth_contract.ADMIN_SCOPE))}
    assert harness.call("GET", "/items", reader).status == 403
    assert harness.call("GET", "/items", admin).status == 200
