"""cdk-nag (AwsSolutions) as the app's policy-validation plugin, and narrow acknowledgements."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: cdk.App) -> None:
    """Every synth runs AwsSolutions; an unacknowledged finding fails the synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accepts one finding on one construct (and its children), with the reason it is fine.

    `rule` is a rule id (`AwsSolutions-COG3`) or one finding of it
    (`AwsSolutions-IAM5[Resource::<LogsArn>:*]`); keep it as narrow as the finding allows.
    """
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
