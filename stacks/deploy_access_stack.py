"""Deploy-access stack: keyless deploys from GitHub Actions, deployed once per account.

GitHub's OIDC identity provider and one deploy role whose trust policy accepts only a token
with audience `sts.amazonaws.com` and a `sub` that is exactly one of the configured
repository + branch / GitHub environment subjects (StringEquals, never StringLike). The role
itself can do one thing: assume the CDK bootstrap roles of its own account (deploy, file and
image publishing, lookup), which hold the real permissions. No long-lived keys anywhere.

Built from the top-level `ci` context (stacks/config.py `CiConfig`), outside every
environment's stage: `cdk deploy jwt-auth-deploy-access` (see docs/operations.md).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import CiConfig

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The audience aws-actions/configure-aws-credentials asks GitHub for.
STS_AUDIENCE = "sts.amazonaws.com"
AUDIENCE_CONDITION_KEY = f"{GITHUB_OIDC_HOST}:aud"
SUBJECT_CONDITION_KEY = f"{GITHUB_OIDC_HOST}:sub"
# The roles `cdk bootstrap` creates; the CLI assumes them for each step of a deploy.
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")
MAX_SESSION = cdk.Duration.hours(1)


def trust_conditions(ci: CiConfig) -> dict[str, dict[str, object]]:
    """The trust policy's conditions: the audience AND one of the exact subjects."""
    return {
        "StringEquals": {
            AUDIENCE_CONDITION_KEY: STS_AUDIENCE,
            SUBJECT_CONDITION_KEY: list(ci.subjects),
        }
    }


class DeployAccessStack(cdk.Stack):
    """GitHub OIDC provider (or the account's existing one) and the deploy role."""

    def __init__(self, scope: Construct, id_: str, *, ci: CiConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.ci = ci
        if ci.existing_oidc_provider_arn is not None:
            # An account holds one provider per URL: reuse it where another stack made it.
            self.oidc_provider = iam.OidcProviderNative.from_oidc_provider_arn(
                self, "GitHubOidcProvider", ci.existing_oidc_provider_arn
            )
        else:
            # No thumbprints: IAM trusts GitHub's certificate through its own CA library.
            self.oidc_provider = iam.OidcProviderNative(
                self, "GitHubOidcProvider", url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE]
            )

        self.deploy_role = iam.Role(
            self,
            "DeployRole",
            # A person copies this name into the GitHub environments' AWS_DEPLOY_ROLE_ARN.
            role_name=ci.role_name,
            description=(
                f"GitHub Actions deploys of {ci.github_owner}/{ci.github_repo}: "
                "assumes the CDK bootstrap roles, nothing else"
            ),
            assumed_by=iam.OpenIdConnectPrincipal(self.oidc_provider, conditions=trust_conditions(ci)),
            max_session_duration=MAX_SESSION,
        )
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                # TagSession: the bootstrap roles' trust policies allow session tags, and the
                # CLI may pass them; without it an assume with tags is denied.
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=self.bootstrap_role_arns(),
            )
        )

        cdk.CfnOutput(self, "DeployRoleArn", value=self.deploy_role.role_arn, description="AWS_DEPLOY_ROLE_ARN")
        cdk.CfnOutput(
            self,
            "TrustedSubjects",
            value=" ".join(ci.subjects),
            description="GitHub OIDC subjects (sub claims) the deploy role trusts",
        )

    def bootstrap_role_arns(self) -> list[str]:
        """Every CDK bootstrap role of this account in the configured regions, by exact name."""
        account = cdk.Aws.ACCOUNT_ID
        return [
            f"arn:{cdk.Aws.PARTITION}:iam::{account}:role/cdk-{self.ci.bootstrap_qualifier}-{kind}-role-{account}-{region}"
            for region in self.ci.regions
            for kind in BOOTSTRAP_ROLE_KINDS
        ]
