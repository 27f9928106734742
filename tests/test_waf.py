"""WAF: regional web ACLs with the AWS managed rule groups and a per-IP rate limit on sign-in,
associated with the user pool and the ALB; on in production, by config elsewhere."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks import waf_stack
from stacks.config import ConfigError, WafConfig, parse_env_config
from stacks.waf_stack import (
    COMMON,
    IP_REPUTATION,
    KNOWN_BAD_INPUTS,
    RULE_OVERRIDES,
    SIGN_IN_RATE_RULE,
    RegionalWebAcl,
    sign_in_paths_statement,
)
from tests.cross_stack import logical_id_of
from tests.synth import synthesize

ACL = "AWS::WAFv2::WebACL"
ASSOCIATION = "AWS::WAFv2::WebACLAssociation"
CONTEXT = json.loads((Path(__file__).resolve().parent.parent / "cdk.json").read_text())["context"]


def acls(env: str) -> dict[str, dict]:
    """ACL properties by ACL name suffix ('user-pool', 'alb')."""
    template = synthesize(env).templates["Waf"]
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] == ACL:
            name = resource["Properties"]["Name"]
            found[name.removeprefix(f"{synthesize(env).stage.stage_name}-")] = resource["Properties"]
    return found


def associations(env: str) -> dict[str, tuple[str, str]]:
    """ACL logical id -> (stack id, logical id) of the resource it protects."""
    synthesized = synthesize(env)
    resources = synthesized.templates["Waf"]["Resources"]
    return {
        resource["Properties"]["WebACLArn"]["Fn::GetAtt"][0]: logical_id_of(
            synthesized, resource["Properties"]["ResourceArn"]
        )
        for resource in resources.values()
        if resource["Type"] == ASSOCIATION
    }


def acl_logical_id(env: str, suffix: str) -> str:
    template = synthesize(env).templates["Waf"]
    name = f"{synthesize(env).stage.stage_name}-{suffix}"
    (logical_id,) = [
        k for k, r in template["Resources"].items() if r["Type"] == ACL and r["Properties"]["Name"] == name
    ]
    return logical_id


def rules(acl: dict) -> dict[str, dict]:
    return {rule["Name"]: rule for rule in acl["Rules"]}


# ---------------------------------------------------------------- where WAF is on


def test_production_and_test_have_web_acls_and_dev_does_not_by_config():
    assert "Waf" in synthesize("prod").templates
    assert "Waf" in synthesize("test").templates
    assert "Waf" not in synthesize("dev").templates
    assert synthesize("dev").config.waf.enabled is False


def test_the_user_pool_acl_protects_the_user_pool(test_env):
    protected = associations("test")[acl_logical_id("test", "user-pool")]
    assert protected == ("Identity", "UserPool6BA7E5F2")


def test_the_alb_acl_protects_the_load_balancer_where_there_is_a_web_stack():
    for env in ("test", "prod"):
        synthesized = synthesize(env)
        stack, logical_id = associations(env)[acl_logical_id(env, "alb")]
        assert stack == "Web"
        assert (
            synthesized.templates["Web"]["Resources"][logical_id]["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"
        )


def test_each_acl_protects_exactly_one_resource():
    for env in ("test", "prod"):
        assert len(associations(env)) == len(acls(env)) == 2


# ---------------------------------------------------------------- rules


@pytest.mark.parametrize("env", ["test", "prod"])
def test_every_acl_is_regional_allows_by_default_and_runs_the_rules_in_order(env):
    for acl in acls(env).values():
        assert acl["Scope"] == "REGIONAL"
        assert acl["DefaultAction"] == {"Allow": {}}
        ordered = [rule["Name"] for rule in sorted(acl["Rules"], key=lambda rule: rule["Priority"])]
        assert ordered == [IP_REPUTATION, SIGN_IN_RATE_RULE, COMMON, KNOWN_BAD_INPUTS]


@pytest.mark.parametrize("env", ["test", "prod"])
def test_managed_rule_groups_are_awss_and_block_as_published_but_for_the_listed_overrides(env):
    for suffix, acl in acls(env).items():
        for name in (IP_REPUTATION, COMMON, KNOWN_BAD_INPUTS):
            rule = rules(acl)[name]
            statement = rule["Statement"]["ManagedRuleGroupStatement"]
            assert (statement["VendorName"], statement["Name"]) == ("AWS", name)
            counted = {o.rule for o in RULE_OVERRIDES[suffix] if o.group == name}
            overrides = statement.get("RuleActionOverrides", [])
            assert {o["Name"] for o in overrides} == counted, (suffix, name)
            assert all(o["ActionToUse"] == {"Count": {}} for o in overrides)
            # "None" keeps the group's own actions (block); "Count" would only observe.
            assert rule["OverrideAction"] == {"None": {}}


def test_the_overrides_are_the_known_conflicts_each_with_a_reason():
    # NoUserAgent_HEADER: machine clients and the ALB's calls; the query-string limit: the ALB's
    # sign-in redirects; the cookie limit: the ALB's sharded session cookie (ALB only).
    assert {o.rule for o in RULE_OVERRIDES["user-pool"]} == {"NoUserAgent_HEADER", "SizeRestrictions_QUERYSTRING"}
    assert {o.rule for o in RULE_OVERRIDES["alb"]} == {
        "NoUserAgent_HEADER",
        "SizeRestrictions_QUERYSTRING",
        "SizeRestrictions_Cookie_HEADER",
    }
    operations = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text()
    for override in {o for overrides in RULE_OVERRIDES.values() for o in overrides}:
        assert len(override.reason) > 40, override
        assert f"`{override.rule}`" in operations, f"docs/operations.md does not explain {override.rule}"


def test_a_group_listed_for_count_mode_only_counts(monkeypatch):
    monkeypatch.setattr(waf_stack, "COUNT_MODE_GROUPS", (KNOWN_BAD_INPUTS,))
    stack = cdk.Stack(cdk.App(), "Probe")
    acl = RegionalWebAcl(
        stack,
        "Acl",
        name="probe",
        description="probe",
        waf=WafConfig(enabled=True),
        sign_in_scope=sign_in_paths_statement(["/x"], ()),
        overrides=(),
    )
    assert acl.name == "probe"
    (rendered_acl,) = Template.from_stack(stack).find_resources(ACL).values()
    rendered = {rule["Name"]: rule for rule in rendered_acl["Properties"]["Rules"]}
    assert rendered[KNOWN_BAD_INPUTS]["OverrideAction"] == {"Count": {}}
    assert rendered[COMMON]["OverrideAction"] == {"None": {}}


@pytest.mark.parametrize("env", ["test", "prod"])
def test_the_sign_in_rate_rule_blocks_per_client_ip_at_the_configured_limit(env):
    waf = synthesize(env).config.waf
    for acl in acls(env).values():
        rule = rules(acl)[SIGN_IN_RATE_RULE]
        assert rule["Action"] == {"Block": {}}
        statement = rule["Statement"]["RateBasedStatement"]
        assert statement["AggregateKeyType"] == "IP"
        assert statement["Limit"] == waf.sign_in_rate_limit
        assert statement["EvaluationWindowSec"] == waf.rate_window_seconds


def matches(statement: dict, path: str, headers: dict[str, str] | None = None) -> bool:
    """Whether a scope-down statement (ORs of byte matches on the path or one header) matches."""
    if "OrStatement" in statement:
        return any(matches(s, path, headers) for s in statement["OrStatement"]["Statements"])
    match = statement["ByteMatchStatement"]
    field = match["FieldToMatch"]
    value = path if "UriPath" in field else (headers or {}).get(field["SingleHeader"]["Name"].lower(), "")
    for transformation in match["TextTransformations"]:
        if transformation["Type"] == "LOWERCASE":
            value = value.lower()
    wanted = match["SearchString"]
    return value.startswith(wanted) if match["PositionalConstraint"] == "STARTS_WITH" else value == wanted


def target(operation: str) -> dict[str, str]:
    return {"x-amz-target": f"AWSCognitoIdentityProviderService.{operation}"}


@pytest.mark.parametrize(
    ("path", "headers", "counted"),
    [
        ("/oauth2/authorize", None, True),
        ("/login", None, True),
        ("/signup", None, True),
        ("/forgotPassword", None, True),
        ("/", target("InitiateAuth"), True),
        ("/", target("RespondToAuthChallenge"), True),
        ("/", target("SignUp"), True),
        ("/", target("ForgotPassword"), True),
        # The ALB redeems each user's code and reads user info from a few AWS addresses; machine
        # clients fetch tokens: none of it may use up a per-IP sign-in budget.
        ("/oauth2/token", None, False),
        ("/oauth2/userInfo", None, False),
        ("/.well-known/jwks.json", None, False),
        ("/", target("GetUser"), False),
        ("/", target("RevokeToken"), False),
        ("/logout", None, False),
    ],
)
def test_on_the_user_pool_the_rate_rule_counts_sign_in_requests_only(path, headers, counted):
    statement = rules(acls("test")["user-pool"])[SIGN_IN_RATE_RULE]["Statement"]["RateBasedStatement"]
    assert matches(statement["ScopeDownStatement"], path, headers) is counted


def test_on_the_alb_the_rate_rule_counts_only_the_sign_in_paths(test_env):
    statement = rules(acls("test")["alb"])[SIGN_IN_RATE_RULE]["Statement"]["RateBasedStatement"]
    matches = statement["ScopeDownStatement"]["OrStatement"]["Statements"]
    paths = {
        (m["ByteMatchStatement"]["PositionalConstraint"], m["ByteMatchStatement"]["SearchString"]) for m in matches
    }
    assert paths == {("STARTS_WITH", "/oauth2/"), ("EXACTLY", "/logout")}
    for match in matches:
        byte_match = match["ByteMatchStatement"]
        assert byte_match["FieldToMatch"] == {"UriPath": {}}
        assert byte_match["TextTransformations"] == [{"Priority": 0, "Type": "LOWERCASE"}]


@pytest.mark.parametrize("env", ["test", "prod"])
def test_every_rule_and_acl_publishes_metrics_and_sampled_requests(env):
    for acl in acls(env).values():
        for config in [acl["VisibilityConfig"], *(rule["VisibilityConfig"] for rule in acl["Rules"])]:
            assert config["CloudWatchMetricsEnabled"] is True
            assert config["SampledRequestsEnabled"] is True


# ---------------------------------------------------------------- config


def env_raw(env: str, **waf) -> dict:
    raw = copy.deepcopy(CONTEXT["environments"][env])
    raw["waf"] = {**raw.get("waf", {}), **waf}
    return raw


def test_production_cannot_turn_waf_off():
    with pytest.raises(ConfigError, match=r"environments.prod.waf.enabled=False is not allowed: true in a production"):
        parse_env_config("jwt-auth", "prod", env_raw("prod", enabled=False))


def test_production_has_waf_when_the_section_is_left_out():
    raw = copy.deepcopy(CONTEXT["environments"]["prod"])
    raw.pop("waf")
    assert parse_env_config("jwt-auth", "prod", raw).waf.enabled is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sign_in_rate_limit": 9}, r"waf.sign_in_rate_limit=9 is not allowed: a whole number from 10"),
        ({"rate_window_seconds": 30}, r"waf.rate_window_seconds=30 is not allowed"),
        ({"rate_window_seconds": 90}, r"waf.rate_window_seconds=90 is not allowed: one of 60, 120, 300, 600"),
        ({"enabled": "yes"}, r"waf.enabled='yes' is not allowed: true or false"),
        ({"rate_limit": 100}, r"waf.rate_limit: unknown key"),
    ],
)
def test_bad_waf_values_are_rejected_naming_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_env_config("jwt-auth", "dev", env_raw("dev", **change))
