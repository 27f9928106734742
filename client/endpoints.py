"""Where the stack lives: read from the outputs file `cdk deploy --outputs-file` (or `make local`) writes."""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUTPUTS_ENV = "JWT_AUTH_OUTPUTS"
LOCAL_OUTPUTS = Path("outputs-local.json")


class EndpointsError(ValueError):
    """The outputs file is missing or lacks an output the client needs. The message says which."""


@dataclass(frozen=True)
class Endpoints:
    issuer_url: str
    user_pool_id: str
    spa_client_id: str
    api_url: str
    managed_login_url: str | None = None
    machine_client_id: str | None = None
    resource_server: str | None = None

    @property
    def region(self) -> str:
        return self.user_pool_id.split("_", 1)[0]

    @property
    def cognito_endpoint(self) -> str:
        """The Cognito API lives at the issuer's origin (https://cognito-idp.<region>.amazonaws.com on AWS)."""
        parts = urllib.parse.urlsplit(self.issuer_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def token_endpoint(self) -> str:
        if not self.managed_login_url:
            raise EndpointsError("the outputs have no ManagedLoginUrl, so there is no OAuth token endpoint")
        return f"{self.managed_login_url.rstrip('/')}/oauth2/token"

    @property
    def authorize_endpoint(self) -> str:
        if not self.managed_login_url:
            raise EndpointsError("the outputs have no ManagedLoginUrl, so there is no hosted UI")
        return f"{self.managed_login_url.rstrip('/')}/oauth2/authorize"

    @property
    def profile(self) -> str:
        """The key tokens are cached under: one sign-in per issuer and client."""
        return f"{self.issuer_url}#{self.spa_client_id}"

    @classmethod
    def from_outputs(cls, outputs: dict[str, Any]) -> Endpoints:
        merged: dict[str, Any] = {}
        for stack_outputs in outputs.values():
            if isinstance(stack_outputs, dict):
                merged.update(stack_outputs)
        missing = [name for name in ("IssuerUrl", "SpaClientId", "ApiUrl") if not merged.get(name)]
        if missing:
            raise EndpointsError(
                f"the outputs file has no {', '.join(missing)} output (deploy the identity and api stacks)"
            )
        issuer = str(merged["IssuerUrl"]).rstrip("/")
        return cls(
            issuer_url=issuer,
            user_pool_id=str(merged.get("UserPoolId") or issuer.rsplit("/", 1)[-1]),
            spa_client_id=str(merged["SpaClientId"]),
            api_url=str(merged["ApiUrl"]).rstrip("/"),
            managed_login_url=merged.get("ManagedLoginUrl"),
            machine_client_id=merged.get("MachineClientId"),
            resource_server=merged.get("ResourceServerIdentifier"),
        )


def outputs_path(given: str | Path | None) -> Path:
    """The outputs file: the one given, else $JWT_AUTH_OUTPUTS, else outputs-local.json if `make local` wrote it."""
    if given:
        return Path(given)
    if os.environ.get(OUTPUTS_ENV):
        return Path(os.environ[OUTPUTS_ENV])
    if LOCAL_OUTPUTS.exists():
        return LOCAL_OUTPUTS
    raise EndpointsError(
        "no outputs file: pass --outputs outputs-<env>.json (written by `make deploy`), "
        f"set {OUTPUTS_ENV}, or run `make local` here (it writes {LOCAL_OUTPUTS})"
    )


def load_endpoints(given: str | Path | None = None) -> Endpoints:
    path = outputs_path(given)
    try:
        outputs = json.loads(path.read_text())
    except FileNotFoundError:
        raise EndpointsError(f"outputs file {path} does not exist") from None
    except ValueError:
        raise EndpointsError(f"outputs file {path} is not JSON") from None
    if not isinstance(outputs, dict):
        raise EndpointsError(f"outputs file {path} is not a JSON object")
    return Endpoints.from_outputs(outputs)
