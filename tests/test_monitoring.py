"""Monitoring: alarms on the API, its authorizers, every Lambda function, the table, Cognito
sign-ins and the web tier, all notifying one encrypted topic; one dashboard per environment."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template

from shared import revocation
from stacks.api_http import ACCESS_LOG_FIELDS, Auth
from stacks.config import ConfigError, parse_env_config
from stacks.monitoring_stack import (
    AUTHORIZER_METRICS,
    REVOCATION_UNAVAILABLE_LOG,
    REVOCATION_UNAVAILABLE_METRIC,
    route_key,
)
from stacks.python_function import PythonFunction
from tests.cross_stack import logical_id_of, resolve
from tests.synth import synthesize

ALARM = "AWS::CloudWatch::Alarm"
CONTEXT = json.loads((Path(__file__).resolve().parent.parent / "cdk.json").read_text())["context"]


def monitoring(env: str) -> Template:
    return synthesize(env).template("Monitoring")


def alarms(env: str) -> dict[str, dict]:
    """Alarm properties by construct id (the alarm's id in MonitoringStack.alarms)."""
    stack = synthesize(env).stage.monitoring
    template = synthesize(env).templates["Monitoring"]["Resources"]
    return {
        name: template[stack.get_logical_id(alarm.node.default_child)]["Properties"]
        for name, alarm in stack.alarms.items()
    }


def metric_stats(alarm: dict) -> list[dict]:
    """The plain metrics an alarm reads (Namespace, MetricName, Dimensions, Stat, Period), whether
    it names one metric directly or reads metric queries (a labelled metric, math expressions)."""
    if "Metrics" in alarm:
        return [
            {
                "Dimensions": [],
                **q["MetricStat"]["Metric"],
                "Stat": q["MetricStat"]["Stat"],
                "Period": q["MetricStat"]["Period"],
            }
            for q in alarm["Metrics"]
            if "MetricStat" in q
        ]
    return [
        {
            "Namespace": alarm["Namespace"],
            "MetricName": alarm["MetricName"],
            "Dimensions": alarm.get("Dimensions", []),
            "Stat": alarm.get("ExtendedStatistic", alarm.get("Statistic")),
            "Period": alarm["Period"],
        }
    ]


def dimension(metric: dict, name: str):
    (value,) = [d["Value"] for d in metric["Dimensions"] if d["Name"] == name]
    return value


# ---------------------------------------------------------------- topic


def test_every_environment_has_a_monitoring_stack():
    for env in ("dev", "prod", "test"):
        assert "Monitoring" in synthesize(env).templates


def test_the_alarm_topic_is_encrypted_with_its_own_rotating_key_and_accepts_only_tls():
    template = monitoring("test")
    (key_id,) = template.find_resources("AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}})
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_cloudwatch_may_use_the_topic_key_to_publish():
    (key,) = monitoring("test").find_resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and set(s["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        for s in statements
    )


def test_alarm_email_from_config_is_subscribed_and_absent_without_one():
    monitoring("test").has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    monitoring("dev").resource_count_is("AWS::SNS::Subscription", 0)


def test_the_topic_key_is_kept_where_the_environment_keeps_data():
    for env, policy in (("prod", "Retain"), ("dev", "Delete")):
        (key,) = monitoring(env).find_resources("AWS::KMS::Key").values()
        assert key["DeletionPolicy"] == policy


# ---------------------------------------------------------------- every alarm


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(env):
    (topic_id,) = monitoring(env).find_resources("AWS::SNS::Topic")
    found = alarms(env)
    assert found
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert alarm["OKActions"] == [{"Ref": topic_id}], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_the_alarm_set_covers_api_authorizers_functions_table_and_sign_in():
    names = set(alarms("test"))
    functions = {"IdentityPreTokenGeneration"} | {
        f"Api{name}"
        for name in (
            "Me",
            "ItemsRead",
            "ItemsWrite",
            "TenantEvents",
            "TenantSummary",
            "TenantAuthorizer",
            "MachineClients",
            "MachineAuthorizer",
            "SignOut",
        )
    }
    expected = {
        "ApiServerErrorRate",
        "ApiClientErrorRate",
        "JwtAuthorizerRejections",
        "TenantAuthorizerRejections",
        "MachineAuthorizerRejections",
        "ItemsTableThrottles",
        "SignInThrottles",
        REVOCATION_UNAVAILABLE_METRIC,
    } | {f"{function}{kind}" for function in functions for kind in ("Errors", "Throttles", "DurationP99")}
    assert expected <= names


# ---------------------------------------------------------------- HTTP API


@pytest.mark.parametrize(
    ("alarm", "metric", "threshold"),
    [("ApiServerErrorRate", "5xx", "server_error_percent"), ("ApiClientErrorRate", "4xx", "client_error_percent")],
)
def test_api_error_share_alarms_compare_errors_with_requests_of_the_http_api(alarm, metric, threshold):
    synthesized = synthesize("test")
    found = alarms("test")[alarm]
    assert found["Threshold"] == getattr(synthesized.config.monitoring, threshold)
    assert found["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    metrics = metric_stats(found)
    assert sorted(m["MetricName"] for m in metrics) == sorted([metric, "Count"])
    for m in metrics:
        assert m["Namespace"] == "AWS/ApiGateway"
        stack, logical_id = logical_id_of(synthesized, dimension(m, "ApiId"))
        assert stack == "Api"
        assert synthesized.templates["Api"]["Resources"][logical_id]["Type"] == "AWS::ApiGatewayV2::Api"
    (expression,) = [q["Expression"] for q in found["Metrics"] if "Expression" in q]
    assert "100 *" in expression and ">= 10" in expression  # a share, and only with enough requests


# ---------------------------------------------------------------- authorizers


def metric_filters(env: str) -> dict[str, dict]:
    """The authorizers' metric filters, by metric name."""
    template = monitoring(env)
    return {
        f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"]
        for f in template.find_resources("AWS::Logs::MetricFilter").values()
        if f["Properties"]["MetricTransformations"][0]["MetricName"] in AUTHORIZER_METRICS.values()
    }


def revocation_filters(env: str) -> list[dict]:
    template = monitoring(env)
    return [
        f["Properties"]
        for f in template.find_resources("AWS::Logs::MetricFilter").values()
        if f["Properties"]["MetricTransformations"][0]["MetricName"] == REVOCATION_UNAVAILABLE_METRIC
    ]


def test_access_logs_write_the_fields_the_filters_read_as_json_strings():
    # The filters compare with quoted values: the log format must write these as strings.
    for field in ("status", "integrationStatus", "routeKey"):
        assert isinstance(ACCESS_LOG_FIELDS[field], str)
        assert ACCESS_LOG_FIELDS[field].startswith("$context.")


def test_authorizer_filters_read_the_api_access_logs():
    synthesized = synthesize("test")
    for properties in metric_filters("test").values():
        stack, logical_id = logical_id_of(synthesized, properties["LogGroupName"])
        assert stack == "Api"
        assert "AccessLogs" in logical_id


@pytest.mark.parametrize("auth", [Auth.JWT, Auth.TENANT_PATH, Auth.MACHINE_TENANT])
def test_each_authorizers_filter_counts_401_and_403_without_integration_on_exactly_its_routes(auth):
    api = synthesize("test").stage.api
    pattern = metric_filters("test")[AUTHORIZER_METRICS[auth]]["FilterPattern"]
    assert '($.status = "401") || ($.status = "403")' in pattern
    assert '($.integrationStatus = "-")' in pattern
    for spec in api.route_specs:
        if auth is Auth.JWT:
            # Most routes: named by the few routes they are not.
            excluded = f'($.routeKey != "{route_key(spec)}")'
            assert (excluded in pattern) == (spec.auth is not auth), route_key(spec)
            assert f'($.routeKey = "{route_key(spec)}")' not in pattern
        else:
            mention = f'($.routeKey = "{route_key(spec)}")'
            assert (mention in pattern) == (spec.auth is auth), route_key(spec)


def test_public_routes_are_in_no_authorizer_filter():
    api = synthesize("test").stage.api
    filters = metric_filters("test")
    for spec in api.route_specs:
        if spec.auth is Auth.NONE:
            for metric_name, properties in filters.items():
                assert f'($.routeKey = "{route_key(spec)}")' not in properties["FilterPattern"], metric_name
            assert f'($.routeKey != "{route_key(spec)}")' in filters[AUTHORIZER_METRICS[Auth.JWT]]["FilterPattern"]


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
def test_every_metric_filter_pattern_fits_cloudwatch_logs_limit(env):
    # PutMetricFilter refuses a filterPattern over 1024 characters: a longer one fails the deploy.
    for f in monitoring(env).find_resources("AWS::Logs::MetricFilter").values():
        assert len(f["Properties"]["FilterPattern"]) <= 1024


def test_authorizer_alarms_read_the_filtered_metrics_at_the_configured_threshold():
    synthesized = synthesize("test")
    namespace = f"jwt-auth/{synthesized.config.name}"
    for metric_name in AUTHORIZER_METRICS.values():
        alarm = alarms("test")[metric_name]
        (metric,) = metric_stats(alarm)
        assert (metric["Namespace"], metric["MetricName"], metric["Stat"], metric["Period"]) == (
            namespace,
            metric_name,
            "Sum",
            300,
        )
        assert alarm["Threshold"] == synthesized.config.monitoring.authorizer_failures
        assert metric_filters("test")[metric_name]["MetricTransformations"][0]["MetricNamespace"] == namespace


# ---------------------------------------------------------------- revocation store


def test_the_revocation_filter_reads_the_line_the_lambda_code_writes():
    assert (f"$.{revocation.UNAVAILABLE_LOG_FIELD}", revocation.UNAVAILABLE_LOG_VALUE) == REVOCATION_UNAVAILABLE_LOG


def test_every_function_that_checks_tokens_has_its_logs_counted_for_store_outages():
    synthesized = synthesize("test")
    api = synthesized.stage.api
    expected = {
        api.resolve(api.get_logical_id(built.log_group.node.default_child))
        for built in api.node.find_all()
        if isinstance(built, PythonFunction) and built.function in api.revocation_readers
    }
    filters = revocation_filters("test")
    counted = set()
    for properties in filters:
        stack, logical_id = logical_id_of(synthesized, properties["LogGroupName"])
        assert stack == "Api"
        counted.add(logical_id)
        assert properties["FilterPattern"] == '{ $.revocation = "store-unavailable" }'
        (transformation,) = properties["MetricTransformations"]
        assert (transformation["MetricNamespace"], transformation["MetricValue"]) == (
            f"jwt-auth/{synthesized.config.name}",
            "1",
        )
    assert counted == expected and len(filters) == len(expected) == len(api.revocation_readers)


def test_any_refusal_for_an_unavailable_store_raises_the_alarm():
    alarm = alarms("test")[REVOCATION_UNAVAILABLE_METRIC]
    (metric,) = metric_stats(alarm)
    assert (metric["Namespace"], metric["MetricName"], metric["Stat"], metric["Period"]) == (
        f"jwt-auth/{synthesize('test').config.name}",
        REVOCATION_UNAVAILABLE_METRIC,
        "Sum",
        300,
    )
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


# ---------------------------------------------------------------- functions, table, sign-in


def test_function_alarms_watch_errors_throttles_and_p99_duration_of_the_right_function():
    synthesized = synthesize("test")
    found = alarms("test")
    p99 = synthesized.config.monitoring.lambda_p99_ms
    for name, logical in (("ApiItemsWrite", "ItemsWrite"), ("IdentityPreTokenGeneration", "PreTokenGeneration")):
        for kind, metric, statistic, threshold in (
            ("Errors", "Errors", "Sum", 1),
            ("Throttles", "Throttles", "Sum", 1),
            ("DurationP99", "Duration", "p99", p99),
        ):
            alarm = found[f"{name}{kind}"]
            (watched,) = metric_stats(alarm)
            assert (watched["Namespace"], watched["MetricName"], watched["Stat"]) == ("AWS/Lambda", metric, statistic)
            assert alarm["Threshold"] == threshold
            stack, logical_id = logical_id_of(synthesized, dimension(watched, "FunctionName"))
            assert stack == name.removesuffix(logical) and logical in logical_id


def test_table_throttle_alarm_adds_read_and_write_throttles_of_the_items_table():
    synthesized = synthesize("test")
    alarm = alarms("test")["ItemsTableThrottles"]
    metrics = metric_stats(alarm)
    assert sorted(m["MetricName"] for m in metrics) == ["ReadThrottleEvents", "WriteThrottleEvents"]
    for m in metrics:
        assert logical_id_of(synthesized, dimension(m, "TableName")) == ("Api", "ItemsTableB7160AE2")


def test_sign_in_throttle_alarm_covers_every_app_client_of_the_pool():
    synthesized = synthesize("test")
    alarm = alarms("test")["SignInThrottles"]
    metrics = metric_stats(alarm)
    assert {m["MetricName"] for m in metrics} == {"SignInThrottles"}
    assert {logical_id_of(synthesized, dimension(m, "UserPool")) for m in metrics} == {("Identity", "UserPool6BA7E5F2")}
    clients = {logical_id_of(synthesized, dimension(m, "UserPoolClient"))[1] for m in metrics}
    identity = synthesized.templates["Identity"]["Resources"]
    assert clients == {k for k, r in identity.items() if r["Type"] == "AWS::Cognito::UserPoolClient"}
    assert alarm["Threshold"] == synthesized.config.monitoring.sign_in_throttles


# ---------------------------------------------------------------- web


WEB_ALARMS = {"AlbServerErrorRate", "WebUnhealthyTargets", "WebCpu", "WebMemory"}


def test_web_alarms_exist_exactly_where_the_environment_has_a_web_stack():
    assert set(alarms("test")) >= WEB_ALARMS
    assert set(alarms("prod")) >= WEB_ALARMS
    assert not WEB_ALARMS & set(alarms("dev"))


def test_alb_error_share_counts_the_albs_and_the_targets_5xx_of_the_web_load_balancer():
    synthesized = synthesize("test")
    alarm = alarms("test")["AlbServerErrorRate"]
    metrics = metric_stats(alarm)
    assert sorted(m["MetricName"] for m in metrics) == [
        "HTTPCode_ELB_5XX_Count",
        "HTTPCode_Target_5XX_Count",
        "RequestCount",
    ]
    for m in metrics:
        assert m["Namespace"] == "AWS/ApplicationELB"
        (value,) = [d["Value"] for d in m["Dimensions"] if d["Name"] == "LoadBalancer"]
        stack, expression = resolve(synthesized, value)
        assert stack == "Web"
        (logical_id, attribute) = expression["Fn::GetAtt"]
        assert attribute == "LoadBalancerFullName"
        assert (
            synthesized.templates["Web"]["Resources"][logical_id]["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"
        )
    assert alarm["Threshold"] == synthesized.config.monitoring.server_error_percent


def test_unhealthy_target_alarm_watches_the_web_apps_target_group():
    synthesized = synthesize("test")
    (metric,) = metric_stats(alarms("test")["WebUnhealthyTargets"])
    assert (metric["Namespace"], metric["MetricName"], metric["Stat"]) == (
        "AWS/ApplicationELB",
        "UnHealthyHostCount",
        "Maximum",
    )
    stack, expression = resolve(synthesized, dimension(metric, "TargetGroup"))
    assert stack == "Web" and expression["Fn::GetAtt"][1] == "TargetGroupFullName"
    stack, expression = resolve(synthesized, dimension(metric, "LoadBalancer"))
    assert stack == "Web" and expression["Fn::GetAtt"][1] == "LoadBalancerFullName"


@pytest.mark.parametrize(
    ("alarm", "metric", "threshold"),
    [("WebCpu", "CPUUtilization", "fargate_cpu_percent"), ("WebMemory", "MemoryUtilization", "fargate_memory_percent")],
)
def test_fargate_alarms_watch_the_web_service_at_the_configured_threshold(alarm, metric, threshold):
    synthesized = synthesize("test")
    found = alarms("test")[alarm]
    (watched,) = metric_stats(found)
    assert (watched["Namespace"], watched["MetricName"]) == ("AWS/ECS", metric)
    assert logical_id_of(synthesized, dimension(watched, "ServiceName"))[0] == "Web"
    assert found["Threshold"] == getattr(synthesized.config.monitoring, threshold)


# ---------------------------------------------------------------- WAF


@pytest.mark.parametrize(("env", "acls"), [("test", ("UserPool", "Alb")), ("prod", ("UserPool", "Alb")), ("dev", ())])
def test_every_web_acl_has_a_blocked_requests_alarm_and_only_where_waf_is_on(env, acls):
    found = {name for name in alarms(env) if name.startswith("Waf")}
    assert found == {f"Waf{acl}BlockedRequests" for acl in acls}


@pytest.mark.parametrize(
    ("alarm", "suffix"), [("WafUserPoolBlockedRequests", "user-pool"), ("WafAlbBlockedRequests", "alb")]
)
def test_the_blocked_requests_alarm_sums_every_rule_of_its_web_acl(alarm, suffix):
    synthesized = synthesize("test")
    properties = alarms("test")[alarm]
    (metric,) = metric_stats(properties)
    assert (metric["Namespace"], metric["MetricName"], metric["Stat"], metric["Period"]) == (
        "AWS/WAFV2",
        "BlockedRequests",
        "Sum",
        300,
    )
    # The ACL's name (not a cross-stack token): the dimension CloudWatch publishes under.
    assert dimension(metric, "WebACL") == f"{synthesized.stage.stage_name}-{suffix}"
    assert dimension(metric, "Rule") == "ALL"
    assert dimension(metric, "Region") == synthesized.config.region
    waf_names = {
        r["Properties"]["Name"]
        for r in synthesized.templates["Waf"]["Resources"].values()
        if r["Type"] == "AWS::WAFv2::WebACL"
    }
    assert dimension(metric, "WebACL") in waf_names
    assert properties["Threshold"] == synthesized.config.monitoring.waf_blocked_requests
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


# ---------------------------------------------------------------- dashboard


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
def test_one_dashboard_per_environment_named_after_it_shows_every_alarm(env):
    synthesized = synthesize(env)
    (dashboard,) = monitoring(env).find_resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == synthesized.stage.stage_name
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for alarm in synthesized.stage.monitoring.alarms.values():
        assert synthesized.stage.monitoring.get_logical_id(alarm.node.default_child) in body


# ---------------------------------------------------------------- config


def env_raw(**monitoring) -> dict:
    raw = copy.deepcopy(CONTEXT["environments"]["dev"])
    raw["monitoring"] = {**raw["monitoring"], **monitoring}
    return raw


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alarm_email": "not-an-address"}, r"monitoring.alarm_email='not-an-address' is not allowed: an e-mail"),
        ({"server_error_percent": 0}, r"monitoring.server_error_percent=0 is not allowed: a number from 0.1 to 100"),
        ({"fargate_cpu_percent": 101}, r"monitoring.fargate_cpu_percent=101 is not allowed"),
        ({"lambda_p99": 10}, r"monitoring.lambda_p99: unknown key"),
        ({"waf_blocked_requests": 0}, r"monitoring.waf_blocked_requests=0 is not allowed: a whole number from 1"),
    ],
)
def test_bad_monitoring_values_are_rejected_naming_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_env_config("jwt-auth", "dev", env_raw(**change))


def test_monitoring_defaults_apply_when_the_section_is_left_out():
    raw = copy.deepcopy(CONTEXT["environments"]["dev"])
    raw.pop("monitoring")
    config = parse_env_config("jwt-auth", "dev", raw).monitoring
    assert config.alarm_email is None and config.server_error_percent == 1.0


def test_stack_outputs_name_the_topic_and_the_dashboard():
    outputs = synthesize("test").templates["Monitoring"]["Outputs"]
    assert outputs["DashboardName"]["Value"] == "jwt-auth-test"
    assert "AlarmTopicArn" in outputs


def test_cross_stack_references_resolve_to_their_producers():
    synthesized = synthesize("test")
    (metric,) = metric_stats(alarms("test")["ApiMeErrors"])
    stack, value = resolve(synthesized, dimension(metric, "FunctionName"))
    assert stack == "Api" and "Ref" in value
