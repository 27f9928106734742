"""AWS behaviour the stacks rely on that no local test can show, checked on a real deployment.
Where AWS documents the behaviour, the check guards our use of it; where we inferred it,
the check is the evidence (docs/operations.md, "What is documented and what is inferred").
Opt-in: see conftest.py. Needs read access to CloudFormation, ECS, API Gateway and CloudWatch,
and cloudwatch:SetAlarmState on the environment's alarms."""

from __future__ import annotations

import datetime
import time
import urllib.parse

import pytest

from tests.deployed.client import request
from tests.deployed.deployment import Deployment

POLL_SECONDS = 5
ALARM_ACTION_TIMEOUT_SECONDS = 120


def client(deployment: Deployment, service: str):
    import boto3

    return boto3.client(service, region_name=deployment.region)


def needs(value: str | None, what: str, deployment: Deployment) -> str:
    if not value:
        pytest.fail(f"{deployment.stage} has no {what}: deploy an environment with it (its outputs file lacks it)")
    return value


# ---------------------------------------------------------------- cross-stack references


def test_the_identity_stacks_exports_are_locked_by_their_importers(deployment):
    """Documented (CloudFormation User Guide, "Get exported outputs from a deployed CloudFormation
    stack"): an export another stack imports cannot be changed or removed, so a replaced pool or
    client stops the identity stack's update instead of leaving the API and web stacks stale."""
    cloudformation = client(deployment, "cloudformation")
    identity = cloudformation.describe_stacks(StackName=deployment.stack_name("identity"))["Stacks"][0]["StackId"]
    exported = [
        export["Name"]
        for page in cloudformation.get_paginator("list_exports").paginate()
        for export in page["Exports"]
        if export["ExportingStackId"] == identity
    ]
    assert exported, "the identity stack exports nothing: cross-stack references are not strong"
    importers = set()
    for name in exported:
        for page in cloudformation.get_paginator("list_imports").paginate(ExportName=name):
            importers.update(page["Imports"])
    assert deployment.stack_name("api") in importers


# ---------------------------------------------------------------- web tasks


def test_the_web_tasks_start_and_the_deployment_completes(deployment):
    """Inferred from the ECS bind-mount documentation: the /tmp volume is writable by the task's
    user because the image declares it (VOLUME) and hands it to that user. If not, no task would
    start, and the rollout would fail (tests/test_container_start.py emulates it locally)."""
    cluster = needs(deployment.web_cluster, "web stack output WebClusterName", deployment)
    service_name = needs(deployment.web_service, "web stack output WebServiceName", deployment)
    (service,) = client(deployment, "ecs").describe_services(cluster=cluster, services=[service_name])["services"]
    assert service["desiredCount"] > 0
    assert service["runningCount"] == service["desiredCount"], service["events"][:5]
    primary = [d for d in service["deployments"] if d["status"] == "PRIMARY"]
    assert primary and primary[0]["rolloutState"] == "COMPLETED", primary


# ---------------------------------------------------------------- access logs


def test_the_api_stage_access_log_destination_shows_no_drift(deployment):
    """Inferred (aws/aws-cdk#38796): API Gateway stores the access-log destination without the
    log group ARN's `:*`. The stage sets it without, so drift detection finds the stage in sync."""
    cloudformation = client(deployment, "cloudformation")
    stack = deployment.stack_name("api")
    (stage,) = [
        r
        for r in cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
        if r["ResourceType"] == "AWS::ApiGatewayV2::Stage"
    ]
    api_id = urllib.parse.urlsplit(deployment.api_url).netloc.split(".")[0]
    settings = client(deployment, "apigatewayv2").get_stage(ApiId=api_id, StageName="$default")["AccessLogSettings"]
    assert not settings["DestinationArn"].endswith(":*")
    drift = cloudformation.detect_stack_resource_drift(StackName=stack, LogicalResourceId=stage["LogicalResourceId"])
    assert drift["StackResourceDrift"]["StackResourceDriftStatus"] == "IN_SYNC", drift["StackResourceDrift"]


# ---------------------------------------------------------------- alarm topic key


def test_an_alarm_notification_passes_the_topic_keys_conditions(deployment):
    """Inferred: CloudWatch's KMS calls for an encrypted topic carry aws:SourceAccount and
    aws:SourceArn, which the key policy requires. Sets one alarm to ALARM (a notification goes to
    the topic's subscribers), waits for its action to succeed, and sets it back to OK."""
    topic = needs(deployment.alarm_topic_arn, "monitoring stack output AlarmTopicArn", deployment)
    cloudwatch = client(deployment, "cloudwatch")
    alarms = cloudwatch.describe_alarms(ActionPrefix=topic, AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    assert alarms, f"no alarm notifies {topic}"
    name = alarms[0]["AlarmName"]
    started = datetime.datetime.now(datetime.UTC)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="deployed-stack suite: topic key check")
    try:
        deadline = time.monotonic() + ALARM_ACTION_TIMEOUT_SECONDS
        summaries: list[str] = []
        while time.monotonic() < deadline:
            history = cloudwatch.describe_alarm_history(
                AlarmName=name, HistoryItemType="Action", StartDate=started, ScanBy="TimestampDescending"
            )["AlarmHistoryItems"]
            summaries = [item["HistorySummary"] for item in history]
            if any(
                summary.startswith(("Successfully executed action", "Failed to execute action"))
                for summary in summaries
            ):
                break
            time.sleep(POLL_SECONDS)
        assert any(summary.startswith("Successfully executed action") for summary in summaries), summaries
    finally:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="deployed-stack suite: check done")


# ---------------------------------------------------------------- WAF


def test_the_sign_in_redirects_pass_both_web_acls(deployment):
    """Inferred: the ALB's sign-in redirect carries a long `state`; the query-string size rule of
    the common rule set runs in count mode on both ACLs, so neither the ALB nor the pool's
    authorize page answers 403 to it."""
    web_url = needs(deployment.web_url, "web stack output WebUrl", deployment)
    to_pool = request("GET", f"{web_url}/")
    assert to_pool.status == 302
    authorize = to_pool.headers["location"]
    at_pool = request("GET", authorize)
    assert at_pool.status != 403, f"the pool's web ACL blocked the ALB's authorize redirect ({len(authorize)} bytes)"
    assert at_pool.status in (200, 302)
