"""A local HTTP API built from a template's `AWS::ApiGatewayV2::*` resources.

Routes, their authorization (NONE, JWT with scopes, CUSTOM Lambda authorizers), integrations,
CORS and the stage come from the synthesized template, so what the CDK code says is what is
enforced here: change a route's scopes in the stack and the local gateway enforces the new ones.
Requests go through the steps API Gateway takes: size limits, CORS preflight, route selection,
the authorizer, the Lambda integration (payload format 2.0), CORS response headers.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from local.events import (
    GatewayRequest,
    integration_event,
    jwt_authorizer_context,
    lambda_authorizer_event,
    request_context,
)
from local.httpserver import DEFAULT_BACKLOG, MAX_HEADER_BYTES, Handler, LocalServer, RequestTooLarge
from local.intrinsics import Resolver, StackValues, TemplateError
from local.jwt_authorizer import (
    JwksCache,
    JwtAuthorizer,
    TokenRejected,
    scopes_allowed,
    token_from_identity,
    token_scopes,
)
from local.lambdas import FunctionError, LambdaRuntime, LocalFunction, UnknownFunction
from local.tokens import Clock

logger = logging.getLogger(__name__)
access_log = logging.getLogger("local.access")

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API payload quota
UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}
NOT_FOUND = {"message": "Not Found"}
INTERNAL_ERROR = {"message": "Internal Server Error"}


@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> GatewayResponse:
        return cls(status, [("Content-Type", "application/json"), *headers], json.dumps(payload).encode())

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


# ---------------------------------------------------------------------- model


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    @classmethod
    def from_template(cls, config: Mapping[str, Any]) -> Cors:
        return cls(
            allow_origins=tuple(config.get("AllowOrigins") or ()),
            allow_methods=tuple(method.upper() for method in config.get("AllowMethods") or ()),
            allow_headers=tuple(header.lower() for header in config.get("AllowHeaders") or ()),
            expose_headers=tuple(config.get("ExposeHeaders") or ()),
            max_age=int(config["MaxAge"]) if config.get("MaxAge") is not None else None,
            allow_credentials=bool(config.get("AllowCredentials", False)),
        )

    def origin_allowed(self, origin: str) -> bool:
        origin = origin.lower()
        return any(allowed == "*" or fnmatch.fnmatchcase(origin, allowed.lower()) for allowed in self.allow_origins)

    def allow_origin_value(self, origin: str) -> str:
        return "*" if "*" in self.allow_origins and not self.allow_credentials else origin

    def response_headers(self, origin: str) -> list[tuple[str, str]]:
        headers = [("Access-Control-Allow-Origin", self.allow_origin_value(origin))]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ",".join(self.expose_headers)))
        return headers

    def preflight_headers(self, origin: str, requested_headers: str | None) -> list[tuple[str, str]]:
        headers = [("Access-Control-Allow-Origin", self.allow_origin_value(origin))]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.allow_methods:
            headers.append(("Access-Control-Allow-Methods", ",".join(self.allow_methods)))
        if "*" in self.allow_headers and requested_headers:
            headers.append(("Access-Control-Allow-Headers", requested_headers.lower()))
        elif self.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(self.allow_headers)))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return headers


@dataclass
class Integration:
    integration_id: str
    integration_type: str
    uri: str
    payload_format_version: str
    function: LocalFunction | None


@dataclass
class LambdaAuthorizer:
    authorizer_id: str
    name: str
    function: LocalFunction
    identity_sources: tuple[str, ...]
    ttl_seconds: int
    simple_responses: bool
    payload_format_version: str
    _cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = field(default_factory=dict)


_PARAM = re.compile(r"\{([A-Za-z0-9_.-]+)(\+?)\}")


@dataclass
class Route:
    route_key: str
    method: str  # "GET", ..., "ANY"; "$default" routes have "ANY"
    path: str | None  # None for $default
    authorization_type: str
    authorizer_id: str | None
    scopes: tuple[str, ...]
    integration: Integration | None
    pattern: re.Pattern | None = None
    rank: int = 0

    def __post_init__(self) -> None:
        if self.path is None:
            self.rank = 3
            return
        regex, rank = "", 0
        position = 0
        for match in _PARAM.finditer(self.path):
            regex += re.escape(self.path[position : match.start()])
            if match.group(2):
                regex += f"(?P<{_group(match.group(1))}>.+)"
                rank = 2
            else:
                regex += f"(?P<{_group(match.group(1))}>[^/]+)"
                rank = max(rank, 1)
            position = match.end()
        regex += re.escape(self.path[position:])
        self.pattern = re.compile(f"^{regex}$")
        self.rank = rank

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        if self.path is None or self.pattern is None:
            return {}
        found = self.pattern.match(path)
        if found is None:
            return None
        names = [m.group(1) for m in _PARAM.finditer(self.path)]
        return {name: urllib.parse.unquote(found.group(_group(name))) for name in names}


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


@dataclass
class HttpApi:
    logical_id: str
    api_id: str
    name: str
    routes: list[Route]
    jwt_authorizers: dict[str, JwtAuthorizer]
    lambda_authorizers: dict[str, LambdaAuthorizer]
    cors: Cors | None
    stage_name: str
    stage_variables: dict[str, str]
    disable_execute_api_endpoint: bool = False

    def select_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """API Gateway's order: full match, then path variables, then greedy; a method over ANY; $default last."""
        candidates = []
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                specificity = (route.rank, route.method == "ANY", -len(route.path or ""))
                candidates.append((specificity, route, params))
        if not candidates:
            return None
        _, route, params = min(candidates, key=lambda item: item[0])
        return route, params


def random_id(length: int = 10) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def http_apis_from_template(
    stack: StackValues,
    resolver: Resolver,
    runtime: LambdaRuntime,
    jwks: JwksCache,
    endpoint_for: Callable[[str], str] = lambda logical_id: "",
) -> list[HttpApi]:
    """Every HTTP API of the stack, registering the ids its routes and authorizers refer to.

    `endpoint_for(logical_id)` is the local URL the API is served on (its `ApiEndpoint`).
    """
    name = stack.stack_name
    apis: list[HttpApi] = []
    for api_logical_id, api in stack.resources_of_type("AWS::ApiGatewayV2::Api").items():
        props = api.get("Properties") or {}
        if props.get("ProtocolType", "HTTP") != "HTTP":
            continue
        api_id = random_id()
        resolver.register(name, api_logical_id, api_id, ApiId=api_id, ApiEndpoint=endpoint_for(api_logical_id))
        apis.append(
            HttpApi(
                logical_id=api_logical_id,
                api_id=api_id,
                name=str(resolver.resolve(name, props.get("Name", api_logical_id))),
                routes=[],
                jwt_authorizers={},
                lambda_authorizers={},
                cors=Cors.from_template(resolver.resolve(name, props["CorsConfiguration"]))
                if props.get("CorsConfiguration")
                else None,
                stage_name="$default",
                stage_variables={},
                disable_execute_api_endpoint=bool(props.get("DisableExecuteApiEndpoint", False)),
            )
        )
    by_id = {api.api_id: api for api in apis}

    def api_of(props: Mapping[str, Any]) -> HttpApi | None:
        return by_id.get(str(resolver.resolve(name, props.get("ApiId"))))

    integrations: dict[str, Integration] = {}
    for logical_id, resource in stack.resources_of_type("AWS::ApiGatewayV2::Integration").items():
        props = resolver.resolve(name, resource.get("Properties") or {})
        integration_id = random_id(7)
        resolver.register(name, logical_id, integration_id)
        uri = str(props.get("IntegrationUri", ""))
        function = None
        if props.get("IntegrationType") == "AWS_PROXY":
            try:
                function = runtime.find(uri)
            except UnknownFunction:
                logger.warning("%s: integration %s targets %s, which is not a local function", name, logical_id, uri)
        integrations[integration_id] = Integration(
            integration_id=integration_id,
            integration_type=str(props.get("IntegrationType", "")),
            uri=uri,
            payload_format_version=str(props.get("PayloadFormatVersion", "1.0")),
            function=function,
        )

    for logical_id, resource in stack.resources_of_type("AWS::ApiGatewayV2::Authorizer").items():
        raw = resource.get("Properties") or {}
        api = api_of(raw)
        props = resolver.resolve(name, raw)
        authorizer_id = random_id(6)
        resolver.register(name, logical_id, authorizer_id, AuthorizerId=authorizer_id)
        if api is None:
            continue
        kind = props.get("AuthorizerType")
        if kind == "JWT":
            config = props.get("JwtConfiguration") or {}
            api.jwt_authorizers[authorizer_id] = JwtAuthorizer(
                authorizer_id=authorizer_id,
                name=str(props.get("Name", logical_id)),
                issuer=str(config.get("Issuer", "")),
                audience=tuple(str(value) for value in config.get("Audience") or ()),
                identity_source=(props.get("IdentitySource") or ["$request.header.Authorization"])[0],
                jwks=jwks,
            )
        elif kind == "REQUEST":
            api.lambda_authorizers[authorizer_id] = LambdaAuthorizer(
                authorizer_id=authorizer_id,
                name=str(props.get("Name", logical_id)),
                function=runtime.find(str(props.get("AuthorizerUri", ""))),
                identity_sources=tuple(props.get("IdentitySource") or ()),
                ttl_seconds=int(props.get("AuthorizerResultTtlInSeconds", 0) or 0),
                simple_responses=bool(props.get("EnableSimpleResponses", False)),
                payload_format_version=str(props.get("AuthorizerPayloadFormatVersion", "2.0")),
            )
        else:
            raise TemplateError(f"{name}: authorizer {logical_id} has type {kind}, which is not supported locally")

    for logical_id, resource in stack.resources_of_type("AWS::ApiGatewayV2::Route").items():
        raw = resource.get("Properties") or {}
        api = api_of(raw)
        props = resolver.resolve(name, raw)
        resolver.register(name, logical_id, random_id(7))
        if api is None:
            continue
        route_key = str(props["RouteKey"])
        if route_key == "$default":
            method, path = "ANY", None
        else:
            method, _, path = route_key.partition(" ")
        target = str(props.get("Target", ""))
        integration = integrations.get(target.removeprefix("integrations/")) if target else None
        api.routes.append(
            Route(
                route_key=route_key,
                method=method.upper(),
                path=path,
                authorization_type=str(props.get("AuthorizationType", "NONE")),
                authorizer_id=props.get("AuthorizerId"),
                scopes=tuple(props.get("AuthorizationScopes") or ()),
                integration=integration,
            )
        )

    for logical_id, resource in stack.resources_of_type("AWS::ApiGatewayV2::Stage").items():
        raw = resource.get("Properties") or {}
        api = api_of(raw)
        props = resolver.resolve(name, raw)
        stage_name = str(props.get("StageName", "$default"))
        resolver.register(name, logical_id, stage_name)
        if api is not None:
            api.stage_name = stage_name
            api.stage_variables = {str(k): str(v) for k, v in (props.get("StageVariables") or {}).items()}
    return apis


# ---------------------------------------------------------------------- request handling


class Gateway:
    """Serves one HttpApi: everything between the socket and the Lambda function."""

    def __init__(self, api: HttpApi, *, runtime: LambdaRuntime, clock: Clock, region: str, account: str) -> None:
        self.api = api
        self.runtime = runtime
        self.clock = clock
        self.region = region
        self.account = account
        self._lock = threading.Lock()

    def handle(self, request: GatewayRequest) -> GatewayResponse:
        origin = request.header("origin")
        cors = self.api.cors
        if (
            cors is not None
            and request.method == "OPTIONS"
            and origin
            and request.header("access-control-request-method")
        ):
            headers = cors.preflight_headers(origin, request.header("access-control-request-headers"))
            return GatewayResponse(204, headers if cors.origin_allowed(origin) else [])
        response = self._handle(request)
        access_log.info("%s %s -> %d", request.method, request.raw_path, response.status)
        response.headers.append(("apigw-requestid", request.request_id))
        if cors is not None:
            response.headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
            if origin and cors.origin_allowed(origin):
                response.headers.extend(cors.response_headers(origin))
        return response

    def _handle(self, request: GatewayRequest) -> GatewayResponse:
        path = request.raw_path  # routes match the path as sent; parameters are decoded after
        if self.api.stage_name != "$default":
            prefix = f"/{self.api.stage_name}"
            if path != prefix and not path.startswith(prefix + "/"):
                return GatewayResponse.json(404, NOT_FOUND)
            path = path[len(prefix) :] or "/"
        selected = self.api.select_route(request.method, path)
        if selected is None:
            return GatewayResponse.json(404, NOT_FOUND)
        route, params = selected
        context = request_context(
            request,
            account=self.account,
            api_id=self.api.api_id,
            region=self.region,
            route_key=route.route_key,
            stage=self.api.stage_name,
        )
        authorized = self._authorize(request, route, params, context, path)
        if isinstance(authorized, GatewayResponse):
            return authorized
        return self._integrate(request, route, params, context, authorized)

    # ------------------------------------------------------------------ authorization

    def _authorize(
        self, request: GatewayRequest, route: Route, params: dict[str, str], context: dict[str, Any], path: str
    ) -> dict[str, Any] | GatewayResponse | None:
        kind = route.authorization_type
        if kind == "NONE":
            return None
        if kind == "JWT":
            authorizer = self.api.jwt_authorizers.get(route.authorizer_id or "")
            if authorizer is None:
                return GatewayResponse.json(500, INTERNAL_ERROR)
            return self._jwt(request, route, authorizer)
        if kind == "CUSTOM":
            lambda_authorizer = self.api.lambda_authorizers.get(route.authorizer_id or "")
            if lambda_authorizer is None:
                return GatewayResponse.json(500, INTERNAL_ERROR)
            return self._lambda_authorizer(request, route, params, context, lambda_authorizer, path)
        logger.warning("route %s uses %s authorization, which the local gateway refuses", route.route_key, kind)
        return GatewayResponse.json(403, FORBIDDEN)

    def _jwt(
        self, request: GatewayRequest, route: Route, authorizer: JwtAuthorizer
    ) -> dict[str, Any] | GatewayResponse:
        try:
            token = token_from_identity(self._identity_value(request, authorizer.identity_source, {}, {}))
            claims = authorizer.verify(token)
        except TokenRejected as rejected:
            challenge = f'Bearer scope="" error="invalid_token" error_description="{rejected.description}"'
            return GatewayResponse.json(401, UNAUTHORIZED, [("www-authenticate", challenge)])
        if not scopes_allowed(route.scopes, claims):
            return GatewayResponse.json(403, FORBIDDEN)
        scopes = token_scopes(claims) if route.scopes else None
        return jwt_authorizer_context(claims, scopes)

    def _identity_value(
        self, request: GatewayRequest, source: str, context: Mapping[str, Any], stage_variables: Mapping[str, str]
    ) -> str | None:
        if source.startswith("$request.header."):
            return request.header(source.removeprefix("$request.header."))
        if source.startswith("$request.querystring."):
            values = urllib.parse.parse_qs(request.raw_query).get(source.removeprefix("$request.querystring."))
            return ",".join(values) if values else None
        if source.startswith("$context."):
            value: Any = context
            for part in source.removeprefix("$context.").split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            if value is None:
                flat = {
                    "httpMethod": context.get("http", {}).get("method"),
                    "path": context.get("http", {}).get("path"),
                }
                value = flat.get(source.removeprefix("$context."))
            return None if value is None else str(value)
        if source.startswith("$stageVariables."):
            return stage_variables.get(source.removeprefix("$stageVariables."))
        return None

    def _lambda_authorizer(
        self,
        request: GatewayRequest,
        route: Route,
        params: dict[str, str],
        context: dict[str, Any],
        authorizer: LambdaAuthorizer,
        path: str,
    ) -> dict[str, Any] | GatewayResponse:
        values = [
            self._identity_value(request, source, context, self.api.stage_variables)
            for source in authorizer.identity_sources
        ]
        if any(not value for value in values):
            return GatewayResponse.json(401, UNAUTHORIZED)
        route_arn = (
            f"arn:aws:execute-api:{self.region}:{self.account}:{self.api.api_id}/{self.api.stage_name}/"
            f"{request.method}{path}"
        )
        cache_key = tuple(str(value) for value in values)
        now = self.clock.time()
        result = None
        if authorizer.ttl_seconds > 0 and authorizer.identity_sources:
            with self._lock:
                cached = authorizer._cache.get(cache_key)
                if cached and cached[0] > now:
                    result = cached[1]
        if result is None:
            if authorizer.payload_format_version != "2.0":
                logger.error(
                    "authorizer %s: payload format %s is not supported locally",
                    authorizer.name,
                    authorizer.payload_format_version,
                )
                return GatewayResponse.json(500, INTERNAL_ERROR)
            event = lambda_authorizer_event(
                request,
                context=context,
                route_key=route.route_key,
                route_arn=route_arn,
                identity_source=[str(value) for value in values],
                path_parameters=params,
                stage_variables=self.api.stage_variables,
            )
            try:
                result = self.runtime.invoke(authorizer.function, event)
            except FunctionError:
                return GatewayResponse.json(500, INTERNAL_ERROR)
            if not isinstance(result, dict):
                return GatewayResponse.json(500, INTERNAL_ERROR)
            if authorizer.ttl_seconds > 0 and authorizer.identity_sources:
                with self._lock:
                    authorizer._cache[cache_key] = (now + authorizer.ttl_seconds, result)
        allowed = self._authorizer_allows(authorizer, result, route_arn)
        if allowed is None:
            return GatewayResponse.json(500, INTERNAL_ERROR)
        if not allowed:
            return GatewayResponse.json(403, FORBIDDEN)
        lambda_context = result.get("context") or {}
        return {"lambda": lambda_context if isinstance(lambda_context, dict) else {}}

    @staticmethod
    def _authorizer_allows(authorizer: LambdaAuthorizer, result: Mapping[str, Any], route_arn: str) -> bool | None:
        if authorizer.simple_responses:
            decision = result.get("isAuthorized")
            return decision if isinstance(decision, bool) else None
        document = result.get("policyDocument")
        if not isinstance(document, Mapping):
            return None
        statements = document.get("Statement") or []
        if isinstance(statements, Mapping):
            statements = [statements]
        allowed = False
        for statement in statements:
            resources = statement.get("Resource") or []
            resources = [resources] if isinstance(resources, str) else resources
            if not any(fnmatch.fnmatchcase(route_arn, pattern) for pattern in resources):
                continue
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow":
                allowed = True
        return allowed

    # ------------------------------------------------------------------ integration

    def _integrate(
        self,
        request: GatewayRequest,
        route: Route,
        params: dict[str, str],
        context: dict[str, Any],
        authorizer: dict[str, Any] | None,
    ) -> GatewayResponse:
        integration = route.integration
        if integration is None or integration.function is None or integration.payload_format_version != "2.0":
            logger.error("route %s has no local Lambda integration with payload format 2.0", route.route_key)
            return GatewayResponse.json(500, INTERNAL_ERROR)
        event = integration_event(
            request,
            context=context,
            route_key=route.route_key,
            path_parameters=params,
            stage_variables=self.api.stage_variables,
            authorizer=authorizer,
        )
        try:
            result = self.runtime.invoke(integration.function, event)
        except FunctionError:
            return GatewayResponse.json(500, INTERNAL_ERROR)
        return lambda_result_response(result)


def lambda_result_response(result: Any) -> GatewayResponse:
    """A payload 2.0 function result as the HTTP response API Gateway makes of it."""
    if isinstance(result, dict) and "statusCode" in result:
        try:
            status = int(result["statusCode"])
            if not 100 <= status <= 599:
                raise ValueError(status)
            headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers.extend((str(name), str(value)) for value in values)
            headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
            body = result.get("body")
            if body is None:
                payload = b""
            elif result.get("isBase64Encoded"):
                payload = base64.b64decode(body)
            else:
                payload = str(body).encode()
        except (TypeError, ValueError, AttributeError):
            return GatewayResponse.json(500, INTERNAL_ERROR)
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        return GatewayResponse(status, headers, payload)
    # Without a statusCode, API Gateway treats the whole result as a JSON body with status 200.
    try:
        body = json.dumps(result).encode()
    except (TypeError, ValueError):
        return GatewayResponse.json(500, INTERNAL_ERROR)
    return GatewayResponse(200, [("Content-Type", "application/json")], body)


# ---------------------------------------------------------------------- HTTP


class GatewayHandler(Handler):
    gateway: Gateway

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        try:
            if self.header_bytes() > MAX_HEADER_BYTES:
                self.close_connection = True
                return self.send_json(431, {"message": "Request Header Fields Too Large"})
            try:
                body = self.read_body(MAX_BODY_BYTES)
            except RequestTooLarge:
                return self.send_json(413, {"message": "Request Entity Too Large"})
            url = urllib.parse.urlsplit(self.path)
            request = GatewayRequest(
                method=self.command,
                raw_path=url.path or "/",
                raw_query=url.query,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                protocol=self.request_version,
            )
            response = self.gateway.handle(request)
        except Exception:
            logger.exception("gateway failed on %s %s", self.command, self.path)
            response = GatewayResponse.json(500, INTERNAL_ERROR)
        self.send(response.status, response.body, response.headers)


def gateway_server(
    host: str, port: int, gateway: Gateway | None = None, *, backlog: int = DEFAULT_BACKLOG
) -> LocalServer:
    """A server for one API, bound now; `serve(server, gateway)` gives it the API when that is built.

    `backlog`: at least the API stage's burst limit (`stage_burst_limit`), so that a burst API
    Gateway would take is not reset by the listen queue.
    """
    handler = type("BoundGatewayHandler", (GatewayHandler,), {"gateway": gateway})
    return LocalServer(host, port, handler, backlog=backlog)


def stage_burst_limit(stack: StackValues, api_logical_id: str) -> int:
    """The largest ThrottlingBurstLimit among the API's stages (0 when none is set)."""
    limits = [0]
    for resource in stack.resources_of_type("AWS::ApiGatewayV2::Stage").values():
        props = resource.get("Properties") or {}
        if props.get("ApiId") != {"Ref": api_logical_id}:
            continue
        routes = [props.get("DefaultRouteSettings") or {}, *(props.get("RouteSettings") or {}).values()]
        limits += [int(r["ThrottlingBurstLimit"]) for r in routes if isinstance(r.get("ThrottlingBurstLimit"), int)]
    return max(limits)


def serve(server: LocalServer, gateway: Gateway) -> None:
    server.RequestHandlerClass.gateway = gateway  # type: ignore[attr-defined]
