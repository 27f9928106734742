"""WAF stack: WAFv2 web ACLs (regional) on the user pool and, where there is one, on the ALB.

Each ACL runs, in this order: the AWS IP reputation list, a rate-based rule per client IP on
the sign-in requests, the AWS common rule set and the known-bad-inputs rule set. Requests no
rule blocks are allowed. The rate rule counts only requests that start or make a sign-in:
on the user pool the managed login pages and the public sign-in API operations (never the
token and user-info endpoints, which the ALB and machine clients call from a few shared
addresses); on the ALB the paths where it finishes a sign-in (`/oauth2/*`) and `/logout`.

Managed rules known to block this application's own legitimate traffic run in count mode
(`RULE_OVERRIDES`, each with its reason; docs/operations.md lists them). Groups named in
`COUNT_MODE_GROUPS` run in count mode as a whole: how a new group is tried first.

The HTTP API has no ACL: WAF does not attach to API Gateway HTTP APIs. Its stage throttling
(`environments.<env>.api.throttle_*`) and the JWT authorizer stand in front of it.
Present where `environments.<env>.waf.enabled` (always in production).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from stacks.config import EnvConfig, WafConfig
from stacks.identity_stack import IdentityStack
from stacks.web_stack import WebStack

Acl = wafv2.CfnWebACL

# AWS managed rule groups, in evaluation order after the IP reputation list.
IP_REPUTATION = "AWSManagedRulesAmazonIpReputationList"
COMMON = "AWSManagedRulesCommonRuleSet"
KNOWN_BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"
SIGN_IN_RATE_RULE = "SignInRateLimit"
# Managed login pages that start or carry a sign-in (Cognito Developer Guide, "Managed login"
# endpoints), compared lower-cased.
POOL_SIGN_IN_PREFIXES = ("/oauth2/authorize", "/login", "/signup", "/forgotpassword", "/confirmforgotpassword")
# The user pool API's public sign-in operations, by the X-Amz-Target header of the request (Cognito
# API Reference). Not the token endpoint: the ALB redeems every user's code and reads user info
# there from a few AWS addresses, and machine clients fetch tokens there; counting them per IP
# would block sign-ins for everyone behind the same addresses.
POOL_SIGN_IN_OPERATIONS = (
    "InitiateAuth",
    "RespondToAuthChallenge",
    "SignUp",
    "ConfirmSignUp",
    "ResendConfirmationCode",
    "ForgotPassword",
    "ConfirmForgotPassword",
)
COGNITO_TARGET_PREFIX = "AWSCognitoIdentityProviderService."


@dataclass(frozen=True)
class RuleOverride:
    """One rule of a managed group that runs in count mode (labels and metrics, no block)."""

    group: str
    rule: str
    reason: str


# Rules of the common rule set that block requests this application makes or needs. Counted, not
# removed: their CountedRequests metric and sampled requests still show what they would block.
# Rule names and limits: AWS WAF Developer Guide, "Baseline rule groups", core rule set (CRS).
NO_USER_AGENT = RuleOverride(
    COMMON,
    "NoUserAgent_HEADER",
    "machine clients and the ALB's own calls to the pool (token, user info) need not send a User-Agent",
)
QUERY_STRING_SIZE = RuleOverride(
    COMMON,
    "SizeRestrictions_QUERYSTRING",
    "the ALB's sign-in redirects carry its long state parameter in the query (over 2 KiB with "
    "the authorize request's other parameters)",
)
COOKIE_SIZE = RuleOverride(
    COMMON,
    "SizeRestrictions_Cookie_HEADER",
    "the ALB's session cookie holds the user's tokens and is sharded into up to four 4 KiB cookies, "
    "past the rule's 10 KiB cookie limit",
)
RULE_OVERRIDES = {
    "user-pool": (NO_USER_AGENT, QUERY_STRING_SIZE),
    "alb": (NO_USER_AGENT, QUERY_STRING_SIZE, COOKIE_SIZE),
}
# Managed groups running in count mode as a whole, e.g. a group being added: watch its
# CountedRequests and sampled requests, then remove it from here (docs/operations.md).
COUNT_MODE_GROUPS: tuple[str, ...] = ()

# Where the ALB finishes a sign-in (`/oauth2/idpresponse`: it redeems the code at the user
# pool) and anything else it serves there; and the web app's sign-out (service/app.py), which
# sends the browser on to the pool's logout. Every other path starts a sign-in only by
# redirecting to the pool, whose own ACL limits the sign-in itself.
ALB_SIGN_IN_PREFIX = "/oauth2/"
ALB_SIGN_IN_PATHS = ("/logout",)


def _visibility(metric_name: str) -> Acl.VisibilityConfigProperty:
    return Acl.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, sampled_requests_enabled=True, metric_name=metric_name
    )


def _path_statement(path: str, positional_constraint: str) -> Acl.StatementProperty:
    return Acl.StatementProperty(
        byte_match_statement=Acl.ByteMatchStatementProperty(
            field_to_match=Acl.FieldToMatchProperty(uri_path={}),
            positional_constraint=positional_constraint,
            search_string=path.lower(),
            # Compared lower-cased, so /OAuth2/ counts as /oauth2/.
            text_transformations=[Acl.TextTransformationProperty(priority=0, type="LOWERCASE")],
        )
    )


def _target_statement(operation: str) -> Acl.StatementProperty:
    return Acl.StatementProperty(
        byte_match_statement=Acl.ByteMatchStatementProperty(
            field_to_match=Acl.FieldToMatchProperty(single_header={"Name": "x-amz-target"}),
            positional_constraint="EXACTLY",
            search_string=COGNITO_TARGET_PREFIX + operation,
            text_transformations=[Acl.TextTransformationProperty(priority=0, type="NONE")],
        )
    )


def sign_in_paths_statement(
    prefixes: Sequence[str], exact_paths: Sequence[str], operations: Sequence[str] = ()
) -> Acl.StatementProperty:
    """Matches a request whose path starts with one of `prefixes` or is one of `exact_paths`, or
    that calls one of the user pool API `operations`."""
    statements = (
        [_path_statement(p, "STARTS_WITH") for p in prefixes]
        + [_path_statement(p, "EXACTLY") for p in exact_paths]
        + [_target_statement(operation) for operation in operations]
    )
    if len(statements) == 1:
        return statements[0]
    return Acl.StatementProperty(or_statement=Acl.OrStatementProperty(statements=statements))


class RegionalWebAcl(Construct):
    """One REGIONAL web ACL with the managed rule groups and the sign-in rate limit."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        description: str,
        waf: WafConfig,
        sign_in_scope: Acl.StatementProperty,
        overrides: Sequence[RuleOverride],
    ) -> None:
        super().__init__(scope, id_)
        self.name = name
        metric_prefix = name.replace("-", "")

        def managed(group: str, priority: int) -> Acl.RuleProperty:
            counted = [
                Acl.RuleActionOverrideProperty(name=o.rule, action_to_use=Acl.RuleActionProperty(count={}))
                for o in overrides
                if o.group == group
            ]
            return Acl.RuleProperty(
                name=group,
                priority=priority,
                statement=Acl.StatementProperty(
                    managed_rule_group_statement=Acl.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group, rule_action_overrides=counted or None
                    )
                ),
                # "None" keeps the group's own actions; "Count" only labels and counts.
                override_action=Acl.OverrideActionProperty(
                    **({"count": {}} if group in COUNT_MODE_GROUPS else {"none": {}})
                ),
                visibility_config=_visibility(f"{metric_prefix}{group}"),
            )

        rate_rule = Acl.RuleProperty(
            name=SIGN_IN_RATE_RULE,
            priority=1,
            statement=Acl.StatementProperty(
                rate_based_statement=Acl.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=waf.sign_in_rate_limit,
                    evaluation_window_sec=waf.rate_window_seconds,
                    scope_down_statement=sign_in_scope,
                )
            ),
            action=Acl.RuleActionProperty(block={}),
            visibility_config=_visibility(f"{metric_prefix}{SIGN_IN_RATE_RULE}"),
        )
        self.acl = Acl(
            self,
            "Acl",
            # Named: its CloudWatch metrics and the console are found by this name.
            name=name,
            description=description,
            scope="REGIONAL",
            default_action=Acl.DefaultActionProperty(allow={}),
            visibility_config=_visibility(metric_prefix),
            rules=[managed(IP_REPUTATION, 0), rate_rule, managed(COMMON, 2), managed(KNOWN_BAD_INPUTS, 3)],
        )

    def associate(self, id_: str, resource_arn: str) -> wafv2.CfnWebACLAssociation:
        return wafv2.CfnWebACLAssociation(self, id_, resource_arn=resource_arn, web_acl_arn=self.acl.attr_arn)


class WafStack(cdk.Stack):
    """The user pool's web ACL, and the ALB's where the environment has a web stack."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvConfig,
        identity: IdentityStack,
        web: WebStack | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.config = config
        self.user_pool_acl = RegionalWebAcl(
            self,
            "UserPoolAcl",
            name=f"{config.stage_name}-user-pool",
            description=f"{config.stage_name} user pool: managed rules, rate limit per IP on sign-in requests",
            waf=config.waf,
            sign_in_scope=sign_in_paths_statement(POOL_SIGN_IN_PREFIXES, (), POOL_SIGN_IN_OPERATIONS),
            overrides=RULE_OVERRIDES["user-pool"],
        )
        self.user_pool_association = self.user_pool_acl.associate("Association", identity.user_pool.user_pool_arn)
        self.alb_acl: RegionalWebAcl | None = None
        if web is not None:
            self._alb(web)

    def _alb(self, web: WebStack) -> None:
        self.alb_acl = RegionalWebAcl(
            self,
            "AlbAcl",
            name=f"{self.config.stage_name}-alb",
            description=f"{self.config.stage_name} ALB: managed rules, rate limit per IP on the sign-in paths",
            waf=self.config.waf,
            sign_in_scope=sign_in_paths_statement([ALB_SIGN_IN_PREFIX], ALB_SIGN_IN_PATHS),
            overrides=RULE_OVERRIDES["alb"],
        )
        self.alb_association = self.alb_acl.associate("Association", web.load_balancer.load_balancer_arn)
