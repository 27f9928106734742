"""API stack: HTTP API with the native JWT authorizer, a Lambda authorizer, Lambda backends, items table."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from stacks.config import EnvConfig
from stacks.identity_stack import IdentityStack


class ApiStack(cdk.Stack):
    def __init__(self, scope: Construct, id_: str, *, config: EnvConfig, identity: IdentityStack, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        self.config = config
        cdk.CfnWaitConditionHandle(self, "Placeholder")
