"""Web stack: VPC, ALB with OIDC sign-in, Fargate web app that verifies what the ALB signs."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from stacks.api_stack import ApiStack
from stacks.config import ConfigError, EnvConfig
from stacks.identity_stack import IdentityStack


class WebStack(cdk.Stack):
    def __init__(
        self, scope: Construct, id_: str, *, config: EnvConfig, identity: IdentityStack, api: ApiStack, **kwargs
    ) -> None:
        if config.web is None:
            raise ConfigError(
                f"environments.{config.name}.web: required for the web stack: set web.domain_name and either "
                "web.certificate_arn or web.hosted_zone_id + web.hosted_zone_name "
                "(the ALB's authenticate actions need HTTPS, and HTTPS needs a certificate)"
            )
        super().__init__(scope, id_, **kwargs)
        self.config = config
        cdk.CfnWaitConditionHandle(self, "Placeholder")
