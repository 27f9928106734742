"""What the deployed-stack suite needs to know about one deployment, read from the outputs file
that `make deploy ENV=<env>` writes (`cdk deploy --outputs-file outputs-<env>.json`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUTPUTS_ENV_VAR = "JWT_AUTH_OUTPUTS"
# Stack names are `<project>-<env>-<part>` (stacks/stage.py).
_STACK_NAME = re.compile(r"^(?P<stage>[a-z][a-z0-9-]*)-(?P<part>identity|api|web|waf|monitoring)$")
# A user pool id starts with its region: `eu-west-1_AbCdEfGhI`.
_POOL_ID = re.compile(r"^(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d)_[A-Za-z0-9]+$")


class OutputsError(ValueError):
    """The outputs file does not describe one complete deployment."""


@dataclass(frozen=True)
class Deployment:
    stage: str
    region: str
    user_pool_id: str
    issuer: str
    spa_client_id: str
    machine_client_id: str
    managed_login_url: str
    resource_server: str
    api_url: str  # ends with '/'
    web_url: str | None  # https://<web domain>, where the environment has a web stack
    alb_client_id: str | None
    tenants_table: str | None = None  # the tenants table (TenantsTableName output)
    # For the checks of AWS behaviour the stacks rely on (test_deployed_aws_behaviour.py).
    web_cluster: str | None = None
    web_service: str | None = None
    alarm_topic_arn: str | None = None

    def stack_name(self, part: str) -> str:
        """The CloudFormation stack of one part: `<stage>-identity`, `-api`, `-web`, ..."""
        return f"{self.stage}-{part}"

    def scope(self, name: str) -> str:
        return f"{self.resource_server}/{name}"

    def api(self, path: str) -> str:
        return self.api_url.rstrip("/") + path

    @classmethod
    def from_file(cls, path: str | Path) -> Deployment:
        file = Path(path)
        if not file.is_file():
            raise OutputsError(f"{OUTPUTS_ENV_VAR}={path}: no such file (make deploy ENV=dev writes outputs-dev.json)")
        return cls.from_outputs(json.loads(file.read_text()))

    @classmethod
    def from_outputs(cls, outputs: dict[str, dict[str, Any]]) -> Deployment:
        """`outputs` maps stack names to their outputs, as `cdk deploy --outputs-file` writes them."""
        parts: dict[str, dict[str, Any]] = {}
        stages = set()
        for stack_name, values in outputs.items():
            match = _STACK_NAME.match(stack_name)
            if match:
                stages.add(match["stage"])
                parts[match["part"]] = values
        if len(stages) != 1:
            raise OutputsError(f"expected the stacks of one environment, found stages {sorted(stages) or 'none'}")
        for part in ("identity", "api"):
            if part not in parts:
                raise OutputsError(f"no {part} stack in the outputs file")

        def need(part: str, key: str) -> str:
            value = parts[part].get(key)
            if not isinstance(value, str) or not value:
                raise OutputsError(f"the {part} stack has no output {key!r}")
            return value

        pool_id = need("identity", "UserPoolId")
        region = _POOL_ID.match(pool_id)
        if region is None:
            raise OutputsError(f"UserPoolId {pool_id!r} is not a Cognito user pool id")
        web = parts.get("web", {})
        web_url = web.get("WebUrl")
        return cls(
            stage=stages.pop(),
            region=region["region"],
            user_pool_id=pool_id,
            issuer=need("identity", "IssuerUrl"),
            spa_client_id=need("identity", "SpaClientId"),
            machine_client_id=need("identity", "MachineClientId"),
            managed_login_url=need("identity", "ManagedLoginUrl").rstrip("/"),
            resource_server=need("identity", "ResourceServerIdentifier"),
            api_url=need("api", "ApiUrl"),
            web_url=web_url.rstrip("/") if isinstance(web_url, str) and web_url else None,
            alb_client_id=parts["identity"].get("AlbClientId"),
            tenants_table=parts["identity"].get("TenantsTableName") or None,
            web_cluster=web.get("WebClusterName"),
            web_service=web.get("WebServiceName"),
            alarm_topic_arn=parts.get("monitoring", {}).get("AlarmTopicArn"),
        )
