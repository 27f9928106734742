"""Deploy access: GitHub Actions assume the deploy role through OIDC, and only the configured
repository's exact branches and environments can; the role can only reach the CDK bootstrap
roles. A wildcard `sub` cannot come from config."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from stacks.config import ConfigError, parse_ci_config
from tests.synth import synthesize

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

# The CDK and the stacks are imported where they are used: the config tests of this file are unit
# tests, and a run of the unit tier does not load the CDK (and start its Node process) for them.

CONTEXT = json.loads((Path(__file__).resolve().parent.parent / "cdk.json").read_text())["context"]
STACK_NAME = "jwt-auth-deploy-access"
ROLE = "AWS::IAM::Role"
PROVIDER = "AWS::IAM::OIDCProvider"


def ci_raw(**changes) -> dict:
    return {**copy.deepcopy(CONTEXT["ci"]), **changes}


def synthesized_template() -> dict:
    """The stack as `cdk synth` builds it with cdk.json's `ci` (beside the `test` stage)."""
    return json.loads((synthesize("test").outdir / f"{STACK_NAME}.template.json").read_text())


def build(**changes) -> Template:
    """The stack alone, from a changed `ci` section, checked by cdk-nag like every synth."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from stacks.deploy_access_stack import DeployAccessStack
    from stacks.nag import add_checks

    app = cdk.App()
    stack = DeployAccessStack(app, "DeployAccess", ci=parse_ci_config(ci_raw(**changes)))
    add_checks(app)
    app.synth()
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def template() -> Template:
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized_template())


def trust_statement(template: Template) -> dict:
    (role,) = template.find_resources(ROLE).values()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return statement


# ---------------------------------------------------------------- trust policy


def test_only_githubs_oidc_provider_can_federate_into_the_deploy_role(template):
    statement = trust_statement(template)
    (provider_id,) = template.find_resources(PROVIDER)
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": {"Ref": provider_id}}


def test_trust_requires_the_sts_audience_and_an_exact_subject_with_string_equals(template):
    condition = trust_statement(template)["Condition"]
    assert set(condition) == {"StringEquals"}, "StringLike (or any pattern operator) would allow wildcards"
    assert condition["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": [
            "repo:example-org/jwt-auth-cdk:environment:dev",
            "repo:example-org/jwt-auth-cdk:environment:prod",
        ],
    }


def test_branch_subjects_name_the_full_ref_of_each_configured_branch():
    condition = trust_statement(build(branches=["main", "release/v1"], environments=[]))["Condition"]
    assert condition["StringEquals"]["token.actions.githubusercontent.com:sub"] == [
        "repo:example-org/jwt-auth-cdk:ref:refs/heads/main",
        "repo:example-org/jwt-auth-cdk:ref:refs/heads/release/v1",
    ]


def test_branches_and_environments_together_are_each_trusted_exactly():
    config = parse_ci_config(ci_raw(branches=["main"], environments=["prod"]))
    assert config.subjects == (
        "repo:example-org/jwt-auth-cdk:ref:refs/heads/main",
        "repo:example-org/jwt-auth-cdk:environment:prod",
    )


def test_no_synthesized_subject_contains_a_wildcard(template):
    subjects = trust_statement(template)["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert subjects and not any("*" in subject or "?" in subject for subject in subjects)


# ---------------------------------------------------------------- config: no wildcard sub


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"github_owner": "*"}, "ci.github_owner"),
        ({"github_owner": "example-*"}, "ci.github_owner"),
        ({"github_repo": "*"}, "ci.github_repo"),
        ({"github_repo": "jwt-auth-?dk"}, "ci.github_repo"),
        ({"branches": ["*"]}, r"ci.branches\[0\]"),
        ({"branches": ["main", "feature/*"]}, r"ci.branches\[1\]"),
        ({"environments": ["prod", "pr?d"]}, r"ci.environments\[1\]"),
        ({"environments": ["*"]}, r"ci.environments\[0\]"),
    ],
)
def test_a_wildcard_in_any_part_of_the_subject_is_rejected_naming_the_key(change, key):
    with pytest.raises(ConfigError, match=rf"^{key}=.* is not allowed: no wildcards \('\*', '\?'\)"):
        parse_ci_config(ci_raw(**change))


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"github_owner": "example org"}, "ci.github_owner"),
        ({"github_repo": "repo:other"}, "ci.github_repo"),
        ({"branches": ["main:environment:prod"]}, r"ci.branches\[0\]"),
        ({"branches": ["main\n"]}, r"ci.branches\[0\]"),
        ({"branches": ["../main"]}, r"ci.branches\[0\]"),
        ({"environments": ["prod env"]}, r"ci.environments\[0\]"),
        ({"regions": ["eu-west"]}, r"ci.regions\[0\]"),
        ({"bootstrap_qualifier": "HNB659FDS"}, "ci.bootstrap_qualifier"),
        ({"existing_oidc_provider_arn": "arn:aws:iam::111111111111:oidc-provider/example.com"}, "ci.existing"),
    ],
)
def test_names_outside_githubs_characters_are_rejected_naming_the_key(change, key):
    with pytest.raises(ConfigError, match=rf"^{key}"):
        parse_ci_config(ci_raw(**change))


def test_at_least_one_branch_or_environment_is_required():
    with pytest.raises(ConfigError, match=r"ci.branches / ci.environments: set at least one"):
        parse_ci_config(ci_raw(branches=[], environments=[]))


def test_unknown_ci_keys_are_rejected():
    with pytest.raises(ConfigError, match=r"ci.branch: unknown key"):
        parse_ci_config(ci_raw(branch="main"))


# ---------------------------------------------------------------- provider and permissions


def test_the_provider_is_githubs_token_issuer_with_the_sts_audience(template):
    template.resource_count_is(PROVIDER, 1)
    template.has_resource_properties(
        PROVIDER, {"Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"]}
    )


def test_an_existing_provider_of_the_account_is_reused_instead_of_created():
    arn = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"
    built = build(existing_oidc_provider_arn=arn)
    built.resource_count_is(PROVIDER, 0)
    assert trust_statement(built)["Principal"] == {"Federated": arn}


def test_the_deploy_role_can_only_assume_the_cdk_bootstrap_roles_of_its_account(template):
    from stacks.deploy_access_stack import BOOTSTRAP_ROLE_KINDS

    (role_id,) = template.find_resources(ROLE)
    (policy,) = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}).values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    names = [
        "".join(part if isinstance(part, str) else f"<{part['Ref']}>" for part in arn["Fn::Join"][1])
        for arn in statement["Resource"]
    ]
    assert names == [
        f"arn:<AWS::Partition>:iam::<AWS::AccountId>:role/cdk-hnb659fds-{kind}-role-<AWS::AccountId>-eu-west-1"
        for kind in BOOTSTRAP_ROLE_KINDS
    ]
    role = template.find_resources(ROLE)[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role, "no admin or other attached permissions"


def test_bootstrap_roles_are_listed_for_every_configured_region():
    from stacks.deploy_access_stack import BOOTSTRAP_ROLE_KINDS

    built = build(regions=["eu-west-1", "us-east-1"])
    (policy,) = built.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert len(statement["Resource"]) == 2 * len(BOOTSTRAP_ROLE_KINDS)


def test_deploy_sessions_last_at_most_an_hour_and_the_role_name_is_the_configured_one(template):
    template.has_resource_properties(ROLE, {"MaxSessionDuration": 3600, "RoleName": "jwt-auth-github-deploy"})


def test_outputs_give_the_role_arn_for_the_github_environments(template):
    from aws_cdk.assertions import Match

    template.has_output("DeployRoleArn", {"Value": {"Fn::GetAtt": [Match.any_value(), "Arn"]}})


# ---------------------------------------------------------------- selection


def test_the_stack_lives_outside_every_environment_stage_once_per_app():
    synthesized = synthesize("test")
    assert (synthesized.outdir / f"{STACK_NAME}.template.json").exists()
    assert all(stack.stack_name != STACK_NAME for stack in synthesized.stage.stacks)


def test_without_a_ci_section_there_is_no_deploy_access_stack():
    import aws_cdk as cdk

    from stacks.app_builder import add_deploy_access

    app = cdk.App(context={key: value for key, value in CONTEXT.items() if key != "ci"})
    assert add_deploy_access(app, project="jwt-auth") is None
