"""One Python Lambda function the way every function in this project is built.

ARM64 on the newest Python runtime, code staged from `lambdas/<name>/` with the shared modules
(no Docker), its own role (CloudWatch Logs only, to its own log group; callers grant the rest),
JSON logs in an explicit log group with retention.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.lambda_packaging import dependencies_layer_dir, function_code_dir

RUNTIME = lambda_.Runtime.PYTHON_3_14


class DependenciesLayer(Construct):
    """The layer with `lambdas/requirements.txt` (Powertools, PyJWT, cryptography) for ARM64."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(str(dependencies_layer_dir())),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="Powertools for AWS Lambda, PyJWT and cryptography (lambdas/requirements.txt)",
        )


class PythonFunction(Construct):
    """A function from `lambdas/<source>/<module>.py` (`handler.py` by default) with its own role and log group."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        source: str,
        description: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        environment: Mapping[str, str] | None = None,
        layers: list[lambda_.ILayerVersion] | None = None,
        memory_size: int = 256,
        timeout_seconds: int = 10,
        module: str = "handler",
    ) -> None:
        super().__init__(scope, id_)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {source}: writes its own logs; every other permission is granted explicitly",
        )
        # Only its own log group: no AWSLambdaBasicExecutionRole with logs:* on every group.
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=lambda_.Code.from_asset(str(function_code_dir(source))),
            handler=f"{source}.{module}.lambda_handler",
            description=description,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            memory_size=memory_size,
            timeout=Duration.seconds(timeout_seconds),
            environment={"POWERTOOLS_SERVICE_NAME": source, **(environment or {})},
            layers=layers or [],
        )
