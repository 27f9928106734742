"""The HTTP API: JWT authorizer, tenant-path Lambda authorizer, routes, CORS, throttling, access logs.

Routes are data (`RouteSpec`): the one table of who may call what. The native JWT authorizer
checks signature, `iss`, `aud`/`client_id`, `exp` and the route's scopes (any of them); the
Lambda authorizer guards the `/tenants/{tenantId}/...` routes whose rule the JWT authorizer
cannot express. No route uses `ANY` or `OPTIONS`, so API Gateway answers every CORS preflight
itself, before any authorizer runs.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config import ApiConfig
from stacks.nag import acknowledge

# The identity sources of the tenant-path authorizer are its cache key: the token and the
# concrete request path (which holds {tenantId}). `$context.routeKey` would not do: it is the
# route template, the same for every tenant.
TENANT_AUTHORIZER_IDENTITY_SOURCE = ("$request.header.Authorization", "$context.path")

# One JSON object per request. `sub` comes from the JWT authorizer's claims, `tenant` from the
# Lambda authorizer's context; both are "-" where the route has no such authorizer.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationError": "$context.integrationErrorMessage",
    "sub": "$context.authorizer.claims.sub",
    "clientId": "$context.authorizer.claims.client_id",
    "tenant": "$context.authorizer.tenant",
    "authorizerError": "$context.authorizer.error",
    "error": "$context.error.message",
}

CORS_METHODS = (
    apigw.CorsHttpMethod.GET,
    apigw.CorsHttpMethod.POST,
    apigw.CorsHttpMethod.PUT,
    apigw.CorsHttpMethod.DELETE,
)
CORS_HEADERS = ("authorization", "content-type")
CORS_EXPOSED_HEADERS = ("location",)
CORS_MAX_AGE = Duration.hours(1)


class Auth(enum.Enum):
    NONE = "none"
    JWT = "jwt"  # the native JWT authorizer, with the route's scopes
    TENANT_PATH = "tenant-path"  # the Lambda authorizer
    MACHINE_TENANT = "machine-tenant"  # the machine clients' Lambda authorizer (clients made at run time)


@dataclass(frozen=True)
class RouteSpec:
    method: apigw.HttpMethod
    path: str
    function: lambda_.Function
    auth: Auth
    scopes: tuple[str, ...] = ()  # qualified scope names, any of which the token must carry


class TenantHttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ApiConfig,
        issuer: str,
        audience: Sequence[str],
        tenant_authorizer: lambda_.IFunction,
        machine_authorizer: lambda_.IFunction,
        routes: Sequence[RouteSpec],
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        self.api = apigw.HttpApi(
            self,
            "Api",
            description="Items API: Cognito access tokens checked by a JWT authorizer and a tenant-path Lambda authorizer",
            create_default_stage=False,
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=list(config.cors_origins),
                allow_methods=list(CORS_METHODS),
                allow_headers=list(CORS_HEADERS),
                expose_headers=list(CORS_EXPOSED_HEADERS),
                allow_credentials=False,
                max_age=CORS_MAX_AGE,
            ),
        )

        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=log_removal_policy)
        self.stage = self.api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=config.throttle_rate, burst_limit=config.throttle_burst),
            access_log_settings=JsonAccessLogs(self.access_logs),
        )

        self.jwt_authorizer = authorizers.HttpJwtAuthorizer(
            "UserPoolAuthorizer",
            issuer,
            jwt_audience=list(audience),
            authorizer_name="UserPoolAuthorizer",
            identity_source=["$request.header.Authorization"],
        )
        self.tenant_authorizer = authorizers.HttpLambdaAuthorizer(
            "TenantPathAuthorizer",
            tenant_authorizer,
            authorizer_name="TenantPathAuthorizer",
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=list(TENANT_AUTHORIZER_IDENTITY_SOURCE),
            results_cache_ttl=Duration.seconds(config.authorizer_cache_seconds),
        )
        self.machine_authorizer = authorizers.HttpLambdaAuthorizer(
            "MachineTenantAuthorizer",
            machine_authorizer,
            authorizer_name="MachineTenantAuthorizer",
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=list(TENANT_AUTHORIZER_IDENTITY_SOURCE),
            results_cache_ttl=Duration.seconds(config.authorizer_cache_seconds),
        )

        integrations_by_function: dict[str, integrations.HttpLambdaIntegration] = {}
        self.routes: dict[str, apigw.HttpRoute] = {}
        for spec in routes:
            key = spec.function.node.path
            if key not in integrations_by_function:
                # Named after the function's construct (e.g. "ItemsRead"); a function is never the root.
                owner = spec.function.node.scope
                if owner is None:
                    raise ValueError(f"route {spec.path}: its function has no parent construct")
                integrations_by_function[key] = integrations.HttpLambdaIntegration(
                    f"{owner.node.id}Integration",
                    spec.function,
                    scope_permission_to_route=True,
                )
            self.routes[f"{spec.method.value} {spec.path}"] = self._add_route(spec, integrations_by_function[key])

    @property
    def url(self) -> str:
        return self.stage.url

    def _add_route(self, spec: RouteSpec, integration: integrations.HttpLambdaIntegration) -> apigw.HttpRoute:
        options: dict[str, Any] = {}
        if spec.auth is Auth.JWT:
            if not spec.scopes:
                raise ValueError(
                    f"{spec.method.value} {spec.path}: a JWT route must require scopes (ID tokens pass audience-only)"
                )
            options = {"authorizer": self.jwt_authorizer, "authorization_scopes": list(spec.scopes)}
        elif spec.auth is Auth.TENANT_PATH:
            options = {"authorizer": self.tenant_authorizer}
        elif spec.auth is Auth.MACHINE_TENANT:
            options = {"authorizer": self.machine_authorizer}
        else:
            options = {"authorizer": apigw.HttpNoneAuthorizer()}
        (route,) = self.api.add_routes(path=spec.path, methods=[spec.method], integration=integration, **options)
        if spec.auth is Auth.NONE:
            acknowledge(
                route,
                "AwsSolutions-APIG4",
                f"{spec.method.value} {spec.path} is deliberately public: a liveness check that reveals nothing",
            )
        return route


@jsii.implements(apigw.IAccessLogDestination)
class LogGroupArnDestination:
    """A log group as an access-log destination, by its ARN without the trailing `:*`.

    `LogGroup.log_group_arn` (`Fn::GetAtt [..., Arn]`) ends in `:*`; API Gateway stores the
    destination without it, so CloudFormation drift detection would report the stage as changed
    forever (aws/aws-cdk#38796; the API Gateway Developer Guide's destination ARN format is
    `arn:aws:logs:{region}:{account-id}:log-group:{log-group-name}`, "Set up CloudWatch logging
    for HTTP APIs"). CDK's feature flag for this covers REST APIs only."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    def bind(self, _stage: apigw.IStage) -> apigw.AccessLogDestinationConfig:
        arn = Stack.of(self._log_group).format_arn(
            service="logs",
            resource="log-group",
            resource_name=self._log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return apigw.AccessLogDestinationConfig(destination_arn=arn)


@jsii.implements(apigw.IAccessLogSettings)
class JsonAccessLogs:
    """Access logs as one JSON object (ACCESS_LOG_FIELDS) per request, into `log_group`."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = LogGroupArnDestination(log_group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return apigw_v1.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":")))
