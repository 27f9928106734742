"""Monitoring stack: one environment's alarms, their encrypted SNS topic, and its dashboard.

Alarms (thresholds from `environments.<env>.monitoring`):
- HTTP API: 5xx and 4xx shares of requests.
- Authorizers: requests the JWT authorizer or the tenant-path Lambda authorizer turned away,
  counted by metric filters on the API's JSON access logs (401/403 that never reached an
  integration), one metric per authorizer, split by the route table's `Auth` of each route.
- Revocation store: requests refused because the store did not answer (fail closed), counted by
  a metric filter on the JSON logs of every function that checks tokens (the line
  lambdas/shared/revocation.py marks with `"revocation": "store-unavailable"`); any is an alarm.
- Every project Lambda function (`PythonFunction`): errors, throttles, duration p99.
- Items table: read and write throttle events.
- Cognito: throttled sign-ins of every app client.
- Web (where the environment has one): ALB 5xx share (its own and the targets'), unhealthy
  targets, Fargate CPU and memory.
- WAF (where it is on): requests each web ACL blocked; many can be an attack, or a rule
  blocking legitimate traffic (docs/operations.md, WAF).

Every alarm notifies the topic on ALARM and on OK. The topic is encrypted with its own KMS
key (CloudWatch cannot publish to a topic under the AWS managed SNS key) and accepts only TLS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import Duration, aws_cognito
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.api_http import ACCESS_LOG_FIELDS, Auth, RouteSpec
from stacks.api_stack import ApiStack
from stacks.config import EnvConfig
from stacks.identity_stack import IdentityStack
from stacks.policies import data_removal_policy
from stacks.python_function import PythonFunction
from stacks.waf_stack import RegionalWebAcl, WafStack
from stacks.web_stack import WebStack

PERIOD = Duration.minutes(5)
# Below this many requests in a period an error share says little: one failed call of two is 50%.
MIN_REQUESTS_FOR_RATE = 10
# The access-log fields the authorizer metric filters read.
REQUIRED_LOG_FIELDS = ("status", "integrationStatus", "routeKey")
REJECTED_STATUSES = ("401", "403")
AUTHORIZER_METRICS = {
    Auth.JWT: "JwtAuthorizerRejections",
    Auth.TENANT_PATH: "TenantAuthorizerRejections",
    Auth.MACHINE_TENANT: "MachineAuthorizerRejections",
}
AUTHORIZER_KINDS = {
    Auth.JWT: "JWT authorizer",
    Auth.TENANT_PATH: "tenant-path Lambda authorizer",
    Auth.MACHINE_TENANT: "machine-client Lambda authorizer",
}
REVOCATION_UNAVAILABLE_METRIC = "RevocationStoreUnavailable"
# The field and value lambdas/shared/revocation.py logs (UNAVAILABLE_LOG_FIELD/VALUE) when it refuses
# a request because the store did not answer. Lambda code is not imported here: tests keep both equal.
REVOCATION_UNAVAILABLE_LOG = ("$.revocation", "store-unavailable")


def route_key(spec: RouteSpec) -> str:
    """The route as API Gateway writes `$context.routeKey`: `GET /items/{id}`."""
    return f"{spec.method.value} {spec.path}"


# CloudWatch Logs refuses a filter pattern longer than this
# (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html).
MAX_FILTER_PATTERN_LENGTH = 1024


def authorizer_rejections_pattern(
    route_keys: Sequence[str], *, other_route_keys: Sequence[str] | None = None
) -> logs.IFilterPattern:
    """Access-log lines of requests turned away before any integration ran (the authorizer said
    no: 401 bad or missing token, 403 scope or tenant rule) on one of `route_keys`. A 403 that a
    function returns has an integration status, so role checks in the backends do not count.

    With `other_route_keys` (every other route of the API), the routes are named by what they are
    not: the JWT authorizer guards most routes, and listing them all would pass the pattern's
    length limit as the route table grows."""
    missing = [field for field in REQUIRED_LOG_FIELDS if field not in ACCESS_LOG_FIELDS]
    if missing:
        raise ValueError(f"the API access log format lacks {missing}: the authorizer metric filters read them")
    if other_route_keys is None:
        routes = logs.FilterPattern.any(
            *(logs.FilterPattern.string_value("$.routeKey", "=", key) for key in route_keys)
        )
    else:
        routes = logs.FilterPattern.all(
            *(logs.FilterPattern.string_value("$.routeKey", "!=", key) for key in other_route_keys)
        )
    return logs.FilterPattern.all(
        logs.FilterPattern.any(*(logs.FilterPattern.string_value("$.status", "=", s) for s in REJECTED_STATUSES)),
        logs.FilterPattern.string_value("$.integrationStatus", "=", "-"),
        routes,
    )


def error_share(errors: cw.IMetric, requests: cw.IMetric, label: str, key: str) -> cw.MathExpression:
    """Percent of requests that failed, 0 while there are too few requests to judge. `key`
    keeps the metric ids apart when several shares share a graph."""
    e, r = f"{key}errors", f"{key}requests"
    return cw.MathExpression(
        expression=f"IF({r} >= {MIN_REQUESTS_FOR_RATE}, 100 * {e} / {r}, 0)",
        using_metrics={e: errors, r: requests},
        label=label,
        period=PERIOD,
    )


class AlarmTopic(Construct):
    """The SNS topic every alarm notifies: own KMS key, TLS only, optional e-mail subscription."""

    def __init__(self, scope: Construct, id_: str, *, config: EnvConfig) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "Key",
            description=f"{config.stage_name}: encrypts the alarm topic's messages",
            enable_key_rotation=True,
            removal_policy=data_removal_policy(config),
            pending_window=Duration.days(7),
        )
        # CloudWatch encrypts what it publishes to the topic with this key ("Enable compatibility between
        # event sources from AWS services and encrypted topics", Amazon SNS Developer Guide), but only
        # for this account's alarms in this region: the confused-deputy conditions (IAM User Guide, "The
        # confused deputy problem"). tests/deployed checks that an alarm's notification still goes out.
        stack = cdk.Stack.of(self)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{config.stage_name} alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        if config.monitoring.alarm_email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.monitoring.alarm_email))


class MonitoringStack(cdk.Stack):
    """Alarms on the identity, API and web stacks' resources, and the environment's dashboard."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvConfig,
        identity: IdentityStack,
        api: ApiStack,
        web: WebStack | None,
        waf: WafStack | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.config = config
        self.thresholds = config.monitoring
        self.namespace = f"{config.project}/{config.name}"
        alarm_topic = AlarmTopic(self, "AlarmTopic", config=config)
        self.topic = alarm_topic.topic
        self.alarms: dict[str, cw.Alarm] = {}
        self.metric_filters: dict[Auth, logs.MetricFilter] = {}
        rows: list[list[cw.IWidget]] = []

        rows.append(self._http_api(api))
        rows.append(self._authorizers(api))
        functions = [
            (f"{stack.node.id}{construct.node.id}", construct)
            for stack in (identity, api)
            for construct in stack.node.find_all()
            if isinstance(construct, PythonFunction)
        ]
        rows.append(self._revocation(api, functions))
        rows.append(self._functions(functions))
        rows.append(self._table(api))
        rows.append(self._sign_in(identity))
        if web is not None:
            rows.append(self._web(web))
        if waf is not None:
            rows.append(self._waf(waf))

        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            # People open it by name in the console.
            dashboard_name=config.stage_name,
            default_interval=Duration.hours(3),
            widgets=[
                [cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=4)],
                *rows,
            ],
        )
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn, description="SNS topic of every alarm")
        cdk.CfnOutput(self, "DashboardName", value=config.stage_name, description="CloudWatch dashboard")

    # ------------------------------------------------------------------ alarms

    def _alarm(
        self,
        id_: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
        datapoints: int | None = None,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            id_,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints or evaluation_periods,
            comparison_operator=comparison,
            # No traffic is not a failure; missing data keeps an alarm where it is.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{self.config.stage_name}: {description}",
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms[id_] = alarm
        return alarm

    def _http_api(self, api: ApiStack) -> list[cw.IWidget]:
        http_api = api.http_api.api
        requests = http_api.metric_count(period=PERIOD, statistic="Sum")
        server = error_share(http_api.metric_server_error(period=PERIOD, statistic="Sum"), requests, "5xx %", "server")
        client = error_share(http_api.metric_client_error(period=PERIOD, statistic="Sum"), requests, "4xx %", "client")
        self._alarm(
            "ApiServerErrorRate",
            server,
            threshold=self.thresholds.server_error_percent,
            evaluation_periods=3,
            datapoints=2,
            description=f"HTTP API 5xx responses are at least {self.thresholds.server_error_percent}% of requests",
        )
        self._alarm(
            "ApiClientErrorRate",
            client,
            threshold=self.thresholds.client_error_percent,
            evaluation_periods=3,
            datapoints=2,
            description=(
                f"HTTP API 4xx responses are at least {self.thresholds.client_error_percent}% of requests "
                "(token or scope problems of a client, or probing)"
            ),
        )
        return [
            cw.GraphWidget(title="HTTP API requests", left=[requests], width=8),
            cw.GraphWidget(title="HTTP API error share (%)", left=[server, client], width=8),
            cw.GraphWidget(
                title="HTTP API latency (p99, ms)",
                left=[
                    http_api.metric_latency(period=PERIOD, statistic="p99"),
                    http_api.metric_integration_latency(period=PERIOD, statistic="p99"),
                ],
                width=8,
            ),
        ]

    def _authorizers(self, api: ApiStack) -> list[cw.IWidget]:
        metrics = []
        for auth, metric_name in AUTHORIZER_METRICS.items():
            keys = [route_key(spec) for spec in api.route_specs if spec.auth is auth]
            if not keys:
                continue
            others = [route_key(spec) for spec in api.route_specs if spec.auth is not auth]
            # The JWT authorizer guards every route but a few: name those few.
            pattern = authorizer_rejections_pattern(keys, other_route_keys=others if auth is Auth.JWT else None)
            if len(pattern.log_pattern_string) > MAX_FILTER_PATTERN_LENGTH:
                raise ValueError(f"{metric_name}: the filter pattern is longer than CloudWatch Logs accepts")
            self.metric_filters[auth] = logs.MetricFilter(
                self,
                f"{metric_name}Filter",
                log_group=api.http_api.access_logs,
                filter_pattern=pattern,
                metric_namespace=self.namespace,
                metric_name=metric_name,
                metric_value="1",
                default_value=0,
            )
            metric = cw.Metric(
                namespace=self.namespace, metric_name=metric_name, period=PERIOD, statistic="Sum", label=metric_name
            )
            metrics.append(metric)
            kind = AUTHORIZER_KINDS[auth]
            self._alarm(
                metric_name,
                metric,
                threshold=self.thresholds.authorizer_failures,
                description=(
                    f"the {kind} turned away at least {self.thresholds.authorizer_failures} requests "
                    "in 5 minutes (401/403 before any integration: expired or forged tokens, missing scopes, "
                    "another tenant's path)"
                ),
            )
        return [cw.GraphWidget(title="Requests turned away by authorizers (per 5 min)", left=metrics, width=24)]

    def _revocation(self, api: ApiStack, functions: Sequence[tuple[str, PythonFunction]]) -> list[cw.IWidget]:
        readers = [(name, built) for name, built in functions if built.function in api.revocation_readers]
        self.revocation_filters: dict[str, logs.MetricFilter] = {}
        for name, built in readers:
            self.revocation_filters[name] = logs.MetricFilter(
                self,
                f"{name}RevocationUnavailableFilter",
                log_group=built.log_group,
                filter_pattern=logs.FilterPattern.string_value(
                    *REVOCATION_UNAVAILABLE_LOG[:1], "=", REVOCATION_UNAVAILABLE_LOG[1]
                ),
                metric_namespace=self.namespace,
                metric_name=REVOCATION_UNAVAILABLE_METRIC,
                metric_value="1",
            )
        refused = cw.Metric(
            namespace=self.namespace,
            metric_name=REVOCATION_UNAVAILABLE_METRIC,
            period=PERIOD,
            statistic="Sum",
            label="refused: revocation store unavailable",
        )
        self._alarm(
            REVOCATION_UNAVAILABLE_METRIC,
            refused,
            threshold=1,
            description=(
                "requests were refused because the revocation store did not answer (fail closed: "
                "every caller of the API is turned away while it lasts; check DynamoDB and the functions' logs)"
            ),
        )
        table = api.revocation_table
        return [
            cw.GraphWidget(title="Refused: revocation store unavailable (per 5 min)", left=[refused], width=12),
            cw.GraphWidget(
                title="Revocation store reads and throttles",
                left=[table.metric_consumed_read_capacity_units(period=PERIOD, statistic="Sum")],
                right=[table.metric("ReadThrottleEvents", period=PERIOD, statistic="Sum")],
                width=12,
            ),
        ]

    def _functions(self, functions: Sequence[tuple[str, PythonFunction]]) -> list[cw.IWidget]:
        errors, throttles, durations = [], [], []
        for name, built in functions:
            function = built.function
            error = function.metric_errors(period=PERIOD, statistic="Sum", label=name)
            throttle = function.metric_throttles(period=PERIOD, statistic="Sum", label=name)
            duration = function.metric_duration(period=PERIOD, statistic="p99", label=name)
            errors.append(error)
            throttles.append(throttle)
            durations.append(duration)
            self._alarm(f"{name}Errors", error, threshold=1, description=f"{name} function errors")
            self._alarm(f"{name}Throttles", throttle, threshold=1, description=f"{name} function throttled")
            self._alarm(
                f"{name}DurationP99",
                duration,
                threshold=self.thresholds.lambda_p99_ms,
                evaluation_periods=3,
                datapoints=2,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"{name} function p99 duration above {self.thresholds.lambda_p99_ms} ms",
            )
        return [
            cw.GraphWidget(title="Lambda errors", left=errors, width=8),
            cw.GraphWidget(title="Lambda throttles", left=throttles, width=8),
            cw.GraphWidget(title="Lambda duration p99 (ms)", left=durations, width=8),
        ]

    def _table(self, api: ApiStack) -> list[cw.IWidget]:
        table = api.items_table
        read = table.metric("ReadThrottleEvents", period=PERIOD, statistic="Sum")
        write = table.metric("WriteThrottleEvents", period=PERIOD, statistic="Sum")
        throttles = cw.MathExpression(
            expression="read + write", using_metrics={"read": read, "write": write}, label="throttle events"
        )
        self._alarm("ItemsTableThrottles", throttles, threshold=1, description="items table requests throttled")
        return [
            cw.GraphWidget(title="Items table throttle events", left=[read, write], width=12),
            cw.GraphWidget(
                title="Items table consumed capacity",
                left=[
                    table.metric_consumed_read_capacity_units(period=PERIOD, statistic="Sum"),
                    table.metric_consumed_write_capacity_units(period=PERIOD, statistic="Sum"),
                ],
                width=12,
            ),
        ]

    def _sign_in(self, identity: IdentityStack) -> list[cw.IWidget]:
        def cognito(metric_name: str, client: aws_cognito.IUserPoolClient) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/Cognito",
                metric_name=metric_name,
                dimensions_map={
                    "UserPool": identity.user_pool.user_pool_id,
                    "UserPoolClient": client.user_pool_client_id,
                },
                period=PERIOD,
                statistic="Sum",
                label=f"{client.node.id} {metric_name}",
            )

        throttles = {f"c{index}": cognito("SignInThrottles", c) for index, c in enumerate(identity.clients)}
        total = cw.MathExpression(
            expression=" + ".join(f"FILL({name}, 0)" for name in throttles),
            using_metrics=throttles,
            label="sign-in throttles",
        )
        self._alarm(
            "SignInThrottles",
            total,
            threshold=self.thresholds.sign_in_throttles,
            description=(
                f"Cognito throttled at least {self.thresholds.sign_in_throttles} sign-ins in 5 minutes "
                "(quota reached: users cannot sign in)"
            ),
        )
        return [
            cw.GraphWidget(
                title="Cognito sign-ins",
                left=[cognito("SignInSuccesses", c) for c in identity.clients],
                width=12,
            ),
            cw.GraphWidget(title="Cognito sign-in throttles", left=list(throttles.values()), width=12),
        ]

    def _web(self, web: WebStack) -> list[cw.IWidget]:
        alb = web.load_balancer.metrics
        requests = alb.request_count(period=PERIOD, statistic="Sum")
        server_errors = cw.MathExpression(
            expression="FILL(elb, 0) + FILL(target, 0)",
            using_metrics={
                "elb": alb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD, statistic="Sum"),
                "target": alb.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD, statistic="Sum"),
            },
            label="5xx (ALB + targets)",
            period=PERIOD,
        )
        share = error_share(server_errors, requests, "5xx %", "alb")
        self._alarm(
            "AlbServerErrorRate",
            share,
            threshold=self.thresholds.server_error_percent,
            evaluation_periods=3,
            datapoints=2,
            description=(
                f"ALB 5xx responses (its own and the web app's) are at least "
                f"{self.thresholds.server_error_percent}% of requests"
            ),
        )
        # Dimensions named directly: the target group's own metrics helpers derive the load
        # balancer's name by splitting a listener ARN, which a cross-stack value cannot feed.
        targets = {
            "TargetGroup": web.target_group.target_group_full_name,
            "LoadBalancer": web.load_balancer.load_balancer_full_name,
        }

        def target_metric(name: str, statistic: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/ApplicationELB",
                metric_name=name,
                dimensions_map=targets,
                period=PERIOD,
                statistic=statistic,
            )

        unhealthy = target_metric("UnHealthyHostCount", "Maximum")
        healthy = target_metric("HealthyHostCount", "Minimum")
        self._alarm(
            "WebUnhealthyTargets",
            unhealthy,
            threshold=1,
            evaluation_periods=2,
            description="web app tasks fail the ALB's health check",
        )
        service = web.service
        cpu = service.metric_cpu_utilization(period=PERIOD, statistic="Average")
        memory = service.metric_memory_utilization(period=PERIOD, statistic="Average")
        for id_, metric, threshold, what in (
            ("WebCpu", cpu, self.thresholds.fargate_cpu_percent, "CPU"),
            ("WebMemory", memory, self.thresholds.fargate_memory_percent, "memory"),
        ):
            self._alarm(
                id_,
                metric,
                threshold=threshold,
                evaluation_periods=3,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"web app (Fargate) {what} above {threshold}% for 15 minutes, even with autoscaling",
            )
        return [
            cw.GraphWidget(title="ALB requests and 5xx", left=[requests], right=[server_errors], width=8),
            cw.GraphWidget(title="Web app targets", left=[healthy, unhealthy], width=8),
            cw.GraphWidget(title="Web app CPU / memory (%)", left=[cpu, memory], width=8),
        ]

    def _waf(self, waf: WafStack) -> list[cw.IWidget]:
        widgets: list[cw.IWidget] = []
        candidates = [("UserPool", waf.user_pool_acl), ("Alb", waf.alb_acl)]
        acls = [(label, acl) for label, acl in candidates if acl is not None]
        for label, acl in acls:

            def waf_metric(name: str, acl: RegionalWebAcl = acl) -> cw.Metric:
                # Rule "ALL": every rule of the web ACL (AWS WAF Developer Guide, "AWS WAF metrics and dimensions").
                return cw.Metric(
                    namespace="AWS/WAFV2",
                    metric_name=name,
                    dimensions_map={"WebACL": acl.name, "Region": self.config.region, "Rule": "ALL"},
                    period=PERIOD,
                    statistic="Sum",
                    label=f"{acl.name} {name}",
                )

            blocked = waf_metric("BlockedRequests")
            self._alarm(
                f"Waf{label}BlockedRequests",
                blocked,
                threshold=self.thresholds.waf_blocked_requests,
                description=(
                    f"web ACL {acl.name} blocked at least {self.thresholds.waf_blocked_requests} requests in 5 minutes "
                    "(an attack, or a rule blocking legitimate traffic: check the sampled requests)"
                ),
            )
            widgets.append(
                cw.GraphWidget(
                    title=f"WAF {acl.name}: blocked / counted (per 5 min)",
                    left=[blocked, waf_metric("CountedRequests")],
                    width=12,
                )
            )
        return widgets
