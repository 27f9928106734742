"""One environment's set of stacks, wired together through typed constructor arguments."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from constructs import Construct

from stacks.api_stack import ApiStack
from stacks.config import EnvConfig
from stacks.identity_stack import IdentityStack
from stacks.monitoring_stack import MonitoringStack
from stacks.waf_stack import WafStack
from stacks.web_stack import WebStack


class AuthStage(cdk.Stage):
    """Identity, API and (where the environment has a web domain) web stacks of one environment."""

    def __init__(self, scope: Construct, *, config: EnvConfig) -> None:
        super().__init__(
            scope,
            config.stage_name,
            env=cdk.Environment(account=config.account, region=config.region),
        )
        self.config = config
        common = {"config": config, "analytics_reporting": False}
        self.identity = IdentityStack(
            self,
            "Identity",
            stack_name=f"{config.stage_name}-identity",
            description=f"{config.project} ({config.name}): Cognito user pool, app clients, scopes, pre-token trigger",
            **common,
        )
        self.api = ApiStack(
            self,
            "Api",
            stack_name=f"{config.stage_name}-api",
            description=f"{config.project} ({config.name}): HTTP API with JWT authorizers, Lambda backends, items table",
            identity=self.identity,
            **common,
        )
        self.web: WebStack | None = None
        if config.web is None:
            print(
                f"note: {config.stage_name}: no web stack, because environments.{config.name}.web is not set "
                "(the ALB's sign-in needs HTTPS, HTTPS needs a domain and a certificate); "
                "the identity and api stacks are complete without it",
                file=sys.stderr,
            )
        else:
            self.web = WebStack(
                self,
                "Web",
                stack_name=f"{config.stage_name}-web",
                description=f"{config.project} ({config.name}): ALB with OIDC sign-in in front of a Fargate web app",
                identity=self.identity,
                api=self.api,
                **common,
            )
        # Operations (docs/operations.md): web ACLs where the environment turns WAF on (prod
        # always), alarms and dashboard on the stacks above.
        self.waf: WafStack | None = None
        if config.waf.enabled:
            self.waf = WafStack(
                self,
                "Waf",
                stack_name=f"{config.stage_name}-waf",
                description=f"{config.project} ({config.name}): WAF web ACLs on the user pool and the ALB",
                identity=self.identity,
                web=self.web,
                **common,
            )
        self.monitoring = MonitoringStack(
            self,
            "Monitoring",
            stack_name=f"{config.stage_name}-monitoring",
            description=f"{config.project} ({config.name}): alarms, alarm topic and dashboard",
            identity=self.identity,
            api=self.api,
            web=self.web,
            **common,
        )
        cdk.Tags.of(self).add("project", config.project)
        cdk.Tags.of(self).add("environment", config.name)

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [stack for stack in (self.identity, self.api, self.web, self.waf, self.monitoring) if stack is not None]
