"""WAF stack: WAFv2 web ACLs (regional) on the user pool and, where there is one, on the ALB.

Each ACL runs, in this order: the AWS IP reputation list, a rate-based rule per client IP on
the sign-in requests, the AWS common rule set and the known-bad-inputs rule set. Requests no
rule blocks are allowed. On the user pool the rate rule counts every request to the pool's
endpoints (sign-in API and managed login alike); on the ALB it counts only the sign-in paths
(`/oauth2/*`, where the ALB finishes a sign-in, and the app's login/logout paths).

The HTTP API has no ACL: WAF does not attach to API Gateway HTTP APIs. Its stage throttling
(`environments.<env>.api.throttle_*`) and the JWT authorizer stand in front of it.
Present where `environments.<env>.waf.enabled` (always in production).
"""

from __future__ import annotations

from collections.abc import Sequence

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


def sign_in_paths_statement(prefixes: Sequence[str], exact_paths: Sequence[str]) -> Acl.StatementProperty:
    """Matches a request whose path starts with one of `prefixes` or is one of `exact_paths`."""
    statements = [_path_statement(p, "STARTS_WITH") for p in prefixes] + [
        _path_statement(p, "EXACTLY") for p in exact_paths
    ]
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
        sign_in_scope: Acl.StatementProperty | None,
    ) -> None:
        super().__init__(scope, id_)
        metric_prefix = name.replace("-", "")

        def managed(group: str, priority: int) -> Acl.RuleProperty:
            return Acl.RuleProperty(
                name=group,
                priority=priority,
                statement=Acl.StatementProperty(
                    managed_rule_group_statement=Acl.ManagedRuleGroupStatementProperty(vendor_name="AWS", name=group)
                ),
                override_action=Acl.OverrideActionProperty(none={}),
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
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.config = config
        self.user_pool_acl = RegionalWebAcl(
            self,
            "UserPoolAcl",
            name=f"{config.stage_name}-user-pool",
            description=f"{config.stage_name} user pool: managed rules, rate limit per IP on every request",
            waf=config.waf,
            sign_in_scope=None,
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
        )
        self.alb_association = self.alb_acl.associate("Association", web.load_balancer.load_balancer_arn)
