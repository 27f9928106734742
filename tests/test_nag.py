"""cdk-nag AwsSolutions runs on every synth as a validation plugin: a finding that is not
acknowledged fails the synth. Each acknowledgement is narrow and gives a reason."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from stacks.nag import add_checks
from tests.synth import ENVIRONMENTS, synthesize

# cdk-nag's rules, and the template checks CDK itself runs (cdk.json
# `@aws-cdk/core:validateAgainstDefaultRules`), some of whose findings CDK's own constructs
# acknowledge (e.g. every VPC flow log acknowledges CloudFormation-Validate::F3002/F3003).
ACKNOWLEDGEABLE_RULES = ("Annotation::AwsSolutions-", "CloudFormation-Validate::")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_synth_has_no_unacknowledged_nag_findings(env):
    synthesized = synthesize(env)  # raises ValidationFailed on any finding
    report = synthesized.outdir / "validation-report.json"
    if report.exists():
        violations = [v for plugin in json.loads(report.read_text())["pluginReports"] for v in plugin["violations"]]
        assert violations == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_acknowledgement_is_on_a_resource_and_has_a_reason(env):
    synthesized = synthesize(env)
    acknowledgements = []
    for stack in synthesized.stage.stacks:
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    acknowledgements.append((construct, entry))
    for construct, entry in acknowledgements:
        assert construct.node.path.count("/") >= 2, f"acknowledged on a whole stack: {construct.node.path}"
        for rule, reason in entry.data.items():
            assert rule.startswith(ACKNOWLEDGEABLE_RULES), rule
            assert len(reason) >= 40, f"acknowledgement of {rule} at {construct.node.path} lacks a real reason"


def test_the_gate_is_live_an_unacknowledged_finding_fails_synth(tmp_path):
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    s3.Bucket(cdk.Stack(app, "Insecure"), "Bucket")  # no SSL-only policy, no access logs
    add_checks(app)
    with pytest.raises(RuntimeError, match=r"(?s)ValidationFailed: .*AwsSolutions-S10"):
        app.synth()
