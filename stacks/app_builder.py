"""Builds the CDK app for one environment: config, stage, cdk-nag. Used by app.py and the tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from stacks.config import load_ci_config, load_config
from stacks.deploy_access_stack import DeployAccessStack
from stacks.nag import add_checks
from stacks.stage import AuthStage

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> tuple[cdk.App, AuthStage]:
    """The app with the stage of the environment selected by context `env`, checked by cdk-nag.

    `context` adds to (and overrides) cdk.json's context, as `-c key=value` does. cdk.json is
    read here too so that tests, which run without the CDK CLI, see the same context; under
    the CLI its values (and `-c` flags) take precedence over these.
    """
    base = json.loads(CDK_JSON.read_text())["context"]
    # CDK's built-in CloudFormation validation plugin would triple synth time; the same class of
    # checks runs as cfn-lint on every template in the test suite (tests/test_template_scanners.py).
    # cdk-nag, the policy gate, stays on for every synth.
    app = cdk.App(context={**base, **(context or {})}, outdir=outdir, builtin_cloud_formation_validation=False)
    config = load_config(app.node)
    stage = AuthStage(app, config=config)
    add_deploy_access(app, project=config.project)
    add_checks(app)
    return app, stage


def add_deploy_access(app: cdk.App, *, project: str) -> DeployAccessStack | None:
    """The account-wide GitHub deploy role (context `ci`), outside every environment's stage:
    deployed once per account with `cdk deploy <project>-deploy-access`, whatever `env` is."""
    ci = load_ci_config(app.node)
    if ci is None:
        return None
    name = f"{project}-deploy-access"
    stack = DeployAccessStack(
        app,
        name,  # the construct id is what `cdk deploy <name>` selects
        stack_name=name,
        description=f"{project}: GitHub Actions OIDC provider and deploy role (keyless CI/CD), once per account",
        analytics_reporting=False,
        ci=ci,
    )
    cdk.Tags.of(stack).add("project", project)
    return stack
