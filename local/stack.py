"""The whole local stack: moto, the issuer and the gateway, provisioned from one environment's templates."""

from __future__ import annotations

import logging
import re
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3

from local.directory import UserDirectory, moto_federated_user_writer, moto_password_reader
from local.gateway import Gateway, HttpApi, gateway_server, http_apis_from_template, serve, stage_burst_limit
from local.httpserver import LocalServer
from local.intrinsics import Resolver, StackValues
from local.issuer import Issuer, issuer_server
from local.jwt_authorizer import JwksCache
from local.lambdas import LambdaRuntime, LocalFunction
from local.provision import add_python_functions, provision_identity, provision_tables, register_functions
from local.seed import DemoClient, DemoUser, machine_clients, seed_users, tenant_machine_clients
from local.templates import Assembly
from local.tokens import Clock

logger = logging.getLogger(__name__)

# Credentials that only moto accepts: never real ones, and nothing read from ~/.aws.
DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local", "aws_session_token": "local"}
_COGNITO_DOMAIN = re.compile(r"https://[^/\s]+\.amazoncognito\.com")
_EXECUTE_API = re.compile(r"https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com/?")


@dataclass
class LocalStack:
    """One environment on loopback. `start()` provisions and serves; `stop()` shuts everything down."""

    assembly: Assembly
    host: str = "127.0.0.1"
    api_port: int = 0
    issuer_port: int = 0
    moto_port: int = 0
    test_hooks: bool = False
    seed: bool = True
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.resolver = Resolver(region=self.assembly.region, account=self.assembly.account)
        self.stacks: dict[str, StackValues] = {}
        self.apis: list[HttpApi] = []
        self.api_servers: dict[str, LocalServer] = {}
        self.users: list[DemoUser] = []
        self.machine_clients: list[DemoClient] = []
        self.user_pool_ids: list[str] = []
        self._servers: list[LocalServer] = []
        self._moto: Any = None
        self.issuer: Issuer | None = None
        self._stopped = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.moto_port, verbose=False)
        self._moto.start()
        moto_host, moto_port = self._moto.get_host_and_port()
        self.moto_url = f"http://{moto_host}:{moto_port}"
        session = boto3.session.Session(region_name=self.assembly.region, **DUMMY_CREDENTIALS)
        self.cognito = session.client("cognito-idp", endpoint_url=self.moto_url)
        self.dynamodb = session.client("dynamodb", endpoint_url=self.moto_url)
        self.dynamodb_resource = session.resource("dynamodb", endpoint_url=self.moto_url)

        self.runtime = LambdaRuntime(
            region=self.assembly.region,
            base_environment={
                "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
                "AWS_SESSION_TOKEN": DUMMY_CREDENTIALS["aws_session_token"],
                "AWS_ENDPOINT_URL": self.moto_url,
                "AWS_PROFILE": None,
                "AWS_DEFAULT_PROFILE": None,
                "AWS_EC2_METADATA_DISABLED": "true",
            },
        )
        self.runtime.forget_cached_state()
        for stack in self.assembly.stacks.values():
            self.stacks[stack.construct_id] = self.resolver.add_stack(stack.stack_name, stack.template)
        for values in self.stacks.values():
            register_functions(self.resolver, values)

        directory = UserDirectory(
            self.cognito,
            password_reader=moto_password_reader(self.assembly.account, self.assembly.region),
            federated_user_writer=moto_federated_user_writer(self.assembly.account, self.assembly.region),
        )
        issuer_srv, self.issuer = issuer_server(
            self.host,
            self.issuer_port,
            directory=directory,
            invoke=self.runtime.invoke,
            clock=self.clock,
            region=self.assembly.region,
            moto_url=self.moto_url,
            test_hooks=self.test_hooks,
        )
        self._servers.append(issuer_srv)
        # Functions reach Cognito through the issuer, as they reach Cognito itself on AWS: what the
        # issuer completes (an invitation's temporary password and email, AdminUserGlobalSignOut of
        # the refresh tokens it keeps) happens for them too; the rest goes on to moto.
        # https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
        self.runtime.base_environment["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"] = self.issuer.base_url
        for values in self.stacks.values():
            self.user_pool_ids += provision_identity(self.cognito, self.resolver, values, self.issuer.base_url)
            provision_tables(self.dynamodb, self.resolver, values)
        for values in self.stacks.values():
            add_python_functions(self.runtime, self.resolver, values)

        jwks = JwksCache(self.clock)
        first = True
        for values in self.stacks.values():
            api_ids = list(values.resources_of_type("AWS::ApiGatewayV2::Api"))
            for logical_id in api_ids:
                backlog = stage_burst_limit(values, logical_id)
                server = gateway_server(self.host, self.api_port if first else 0, backlog=backlog)
                first = False
                self.api_servers[logical_id] = server
                self._servers.append(server)
            apis = http_apis_from_template(
                values, self.resolver, self.runtime, jwks, endpoint_for=lambda lid: self.api_servers[lid].url
            )
            for api in apis:
                gateway = Gateway(
                    api,
                    runtime=self.runtime,
                    clock=self.clock,
                    region=self.assembly.region,
                    account=self.assembly.account,
                )
                serve(self.api_servers[api.logical_id], gateway)
                self.apis.append(api)
        self._load_functions()
        if self.seed:
            tenants = self.tenants_table()
            for pool_id in self.user_pool_ids:
                self.users += seed_users(self.cognito, pool_id, tenants)
                self.machine_clients += machine_clients(self.cognito, pool_id)
            self.machine_clients += self._tenant_machine_clients()
        for server in self._servers:
            server.start(name=f"local-{server.server_address[1]}")

    def _tenant_machine_clients(self) -> list[DemoClient]:
        """A machine client per demo tenant, in the pool and tables the machine-clients function uses."""
        function = next(
            (fn for fn in self.runtime.functions if fn.handler == "machine_clients.handler.lambda_handler"), None
        )
        if function is None:
            return []
        env = function.environment
        return tenant_machine_clients(
            self.cognito,
            self.dynamodb_resource.Table(env["TENANTS_TABLE"]),
            pool_id=env["USER_POOL_ID"],
            resource_server=env["RESOURCE_SERVER_IDENTIFIER"],
            access_token_minutes=int(env["MACHINE_ACCESS_TOKEN_MINUTES"]),
        )

    def tenants_table(self) -> Any:
        """The tenants table (lambdas/shared/tenants.py) of the identity stack, or None without one."""
        from shared.tenants import TenantsTable

        for values in self.stacks.values():
            for logical_id in values.resources_of_type("AWS::DynamoDB::Table"):
                if logical_id.startswith("TenantsTable"):
                    name = self.resolver.resource(values.stack_name, logical_id).ref
                    resource = boto3.resource(
                        "dynamodb", region_name=self.assembly.region, endpoint_url=self.moto_url, **DUMMY_CREDENTIALS
                    )
                    return TenantsTable(resource.Table(name))
        return None

    def _load_functions(self) -> None:
        """Imports every function something here invokes (as Lambda's init phase would), so errors show now."""
        used: list[LocalFunction] = []
        for api in self.apis:
            used += [
                route.integration.function for route in api.routes if route.integration and route.integration.function
            ]
            used += [authorizer.function for authorizer in api.lambda_authorizers.values()]
        for pool_id in self.user_pool_ids:
            config = self.cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"].get("LambdaConfig") or {}
            arn = (config.get("PreTokenGenerationConfig") or {}).get("LambdaArn") or config.get("PreTokenGeneration")
            if arn:
                used.append(self.runtime.find(arn))
        for function in {id(fn): fn for fn in used}.values():
            self.runtime.load(function)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for server in reversed(self._servers):
            try:
                server.stop()
            except Exception:
                logger.exception("stopping %s failed", server.url)
        if self._moto is not None and getattr(self, "moto_url", None):
            # moto keeps its state in the process, not in the server: forget it, so a later
            # stack in this process (tests start several) provisions the same names afresh.
            try:
                request = urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST")  # noqa: S310
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
                    response.read()
            except OSError:
                logger.exception("resetting moto failed")
            self._moto.stop()

    # ------------------------------------------------------------------ what the stack offers

    @property
    def issuer_base_url(self) -> str:
        if self.issuer is None:
            raise RuntimeError("the local stack is not started")
        return self.issuer.base_url

    @property
    def api_url(self) -> str:
        """The first HTTP API's URL (the project has one)."""
        return next(iter(self.api_servers.values())).url if self.api_servers else ""

    def localize(self, value: Any) -> Any:
        """Deployed URLs that the local stack serves itself, replaced by their local ones."""
        if not isinstance(value, str):
            return value
        value = _COGNITO_DOMAIN.sub(self.issuer_base_url, value)

        def api_url(match: re.Match) -> str:
            api = next((api for api in self.apis if api.api_id == match.group(1)), None)
            return (self.api_servers[api.logical_id].url + "/") if api else match.group(0)

        return _EXECUTE_API.sub(api_url, value)

    def outputs(self) -> dict[str, dict[str, Any]]:
        """Every stack's outputs with local values, in the shape `cdk deploy --outputs-file` writes."""
        return {
            values.stack_name: {
                name: self.localize(value) for name, value in self.resolver.outputs(values.stack_name).items()
            }
            for values in self.stacks.values()
            if values.template.get("Outputs")
        }

    def summary(self) -> dict[str, Any]:
        """Everything a caller needs: outputs, endpoints, the demo users and machine clients with their secrets."""
        return {
            "env": self.assembly.env,
            "region": self.assembly.region,
            "issuer_base_url": self.issuer_base_url,
            "moto_url": self.moto_url,
            "api_url": self.api_url,
            "user_pool_ids": self.user_pool_ids,
            "outputs": self.outputs(),
            "users": [user.as_dict() for user in self.users],
            "machine_clients": [client.as_dict() for client in self.machine_clients],
        }
