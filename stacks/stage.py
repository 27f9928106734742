"""One environment's set of stacks, wired together through typed constructor arguments."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import aws_cdk as cdk
from constructs import Construct

from stacks.api_stack import ApiStack
from stacks.config import EnvConfig
from stacks.identity_stack import IdentityStack
from stacks.monitoring_stack import MonitoringStack
from stacks.waf_stack import WafStack
from stacks.web_stack import WebStack

StackT = TypeVar("StackT", bound=cdk.Stack)


class AuthStage(cdk.Stage):
    """Identity, API and (where the environment has a web domain) web stacks of one environment."""

    def __init__(self, scope: Construct, *, config: EnvConfig) -> None:
        super().__init__(
            scope,
            config.stage_name,
            env=cdk.Environment(account=config.account, region=config.region),
        )
        self.config = config
        self.identity = self._stack(
            IdentityStack, "Identity", "Cognito user pool, app clients, scopes, pre-token trigger"
        )
        self.api = self._stack(
            ApiStack,
            "Api",
            "HTTP API with JWT authorizers, Lambda backends, items table",
            identity=self.identity,
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
            self.web = self._stack(
                WebStack,
                "Web",
                "ALB with OIDC sign-in in front of a Fargate web app",
                identity=self.identity,
                api=self.api,
            )
        # Operations (docs/operations.md): web ACLs where the environment turns WAF on (prod
        # always), alarms and dashboard on the stacks above.
        self.waf: WafStack | None = None
        if config.waf.enabled:
            self.waf = self._stack(
                WafStack, "Waf", "WAF web ACLs on the user pool and the ALB", identity=self.identity, web=self.web
            )
        self.monitoring = self._stack(
            MonitoringStack,
            "Monitoring",
            "alarms, alarm topic and dashboard",
            identity=self.identity,
            api=self.api,
            web=self.web,
            waf=self.waf,
        )
        cdk.Tags.of(self).add("project", config.project)
        cdk.Tags.of(self).add("environment", config.name)

    # Each stack class takes its own references (identity=, api=...), so the constructor is typed by
    # what it returns rather than by cdk.Stack's signature.
    def _stack(self, stack_class: Callable[..., StackT], id_: str, purpose: str, **refs: Any) -> StackT:
        """One stack of the environment, named `<project>-<env>-<id>` (what `cdk deploy` shows)."""
        config = self.config
        return stack_class(
            self,
            id_,
            config=config,
            stack_name=f"{config.stage_name}-{id_.lower()}",
            description=f"{config.project} ({config.name}): {purpose}",
            analytics_reporting=False,
            **refs,
        )

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [stack for stack in (self.identity, self.api, self.web, self.waf, self.monitoring) if stack is not None]
