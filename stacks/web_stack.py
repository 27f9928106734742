"""Web stack: VPC, ALB with OIDC sign-in, Fargate web app that verifies what the ALB signs.

Composes four units — `WebNetwork` (VPC, flow logs), `WebLoadBalancer` (ALB, access-log bucket,
redirect, certificate, DNS), `WebService` (Fargate app, autoscaling, target group) and
`WebSignIn` (the listener's authentication actions) — and declares the listener's rules:

| path          | action                                                              |
|---------------|---------------------------------------------------------------------|
| `/m2m/*`      | JWT validation (pool issuer + JWKS, machine client), then forward   |
| `/app-api/*`  | authenticate with `on_unauthenticated_request=deny` (401), forward  |
| everything    | authenticate (redirect to sign-in), then forward                    |

Stateful: the access-log bucket (`LoadBalancer/AccessLogs`), guarded by tests/test_logical_ids.py.
"""

from __future__ import annotations

import sys
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from stacks.api_stack import ApiStack
from stacks.config import ConfigError, EnvConfig
from stacks.identity_stack import IdentityStack
from stacks.policies import data_removal_policy, log_retention
from stacks.web_load_balancer import WebLoadBalancer
from stacks.web_network import WebNetwork
from stacks.web_service import WebService
from stacks.web_sign_in import WebSignIn

XHR_PATHS = ("/app-api/*",)
MACHINE_PATHS = ("/m2m/*",)
MACHINE_RULE_PRIORITY = 10
XHR_RULE_PRIORITY = 20


class WebStack(cdk.Stack):
    def __init__(
        self, scope: Construct, id_: str, *, config: EnvConfig, identity: IdentityStack, api: ApiStack, **kwargs: Any
    ) -> None:
        if config.web is None:
            raise ConfigError(
                f"environments.{config.name}.web: required for the web stack: set web.domain_name and either "
                "web.certificate_arn or web.hosted_zone_id + web.hosted_zone_name "
                "(the ALB's authenticate actions need HTTPS, and HTTPS needs a certificate)"
            )
        super().__init__(scope, id_, **kwargs)
        self.config = config
        web = config.web

        self.network = WebNetwork(
            self,
            "Network",
            cidr=web.vpc_cidr,
            availability_zones=config.availability_zones,
            nat_gateways=web.nat_gateways,
            log_retention=log_retention(config),
            log_removal_policy=data_removal_policy(config),
        )
        self.edge = WebLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.network.vpc,
            domain_name=web.domain_name,
            certificate_arn=web.certificate_arn,
            hosted_zone_id=web.hosted_zone_id,
            hosted_zone_name=web.hosted_zone_name,
            # By config, off for the first deploy: a failed create of a protected ALB cannot roll back.
            deletion_protection=web.deletion_protection,
            access_log_days=config.log_retention_days,
            access_log_removal_policy=data_removal_policy(config),
        )
        if config.retain_data and not web.deletion_protection:
            print(
                f"note: {config.stage_name}: the load balancer has no deletion protection "
                f"(environments.{config.name}.web.deletion_protection is false); switch it on once the "
                "first deploy has succeeded (docs/operations.md, First deploy)",
                file=sys.stderr,
            )
        self.sign_in = WebSignIn(config=config, identity=identity)

        environment = {
            # The app accepts x-amzn-oidc-data only if this ALB signed it, for this client and issuer.
            "ALB_ARN": self.edge.alb.load_balancer_arn,
            "EXPECTED_ISSUER": self.sign_in.issuer,
            "EXPECTED_CLIENT_ID": self.sign_in.client_id,
            "AWS_REGION": config.region,
            "SESSION_COOKIE_NAME": web.session_cookie_name,
            "M2M_ISSUER": identity.issuer_url,
            "M2M_JWKS_URL": identity.jwks_url,
            "M2M_CLIENT_IDS": identity.machine_client.user_pool_client_id,
            "M2M_SCOPE": self.sign_in.machine_scope,
        }
        api_url = getattr(api, "api_url", None)
        if api_url:
            environment["API_URL"] = api_url
        if self.sign_in.logout_url:
            environment["LOGOUT_URL"] = self.sign_in.logout_url

        self.app = WebService(
            self,
            "App",
            vpc=self.network.vpc,
            cpu=web.container_cpu,
            memory_mib=web.container_memory_mib,
            min_tasks=web.min_tasks,
            max_tasks=web.max_tasks,
            environment=environment,
            log_retention=log_retention(config),
            log_removal_policy=data_removal_policy(config),
        )

        def forward() -> elbv2.ListenerAction:
            return elbv2.ListenerAction.forward([self.app.target_group])

        self.https_listener = self.edge.add_https_listener(self.sign_in.authenticate(forward()))
        machine_rule = elbv2.ApplicationListenerRule(
            self,
            "MachineRule",
            listener=self.https_listener,
            priority=MACHINE_RULE_PRIORITY,
            conditions=[elbv2.ListenerCondition.path_patterns(list(MACHINE_PATHS))],
            action=self.sign_in.validate_machine_token(forward()),
        )
        cast(elbv2.CfnListenerRule, machine_rule.node.default_child).add_property_override(
            "Actions.0.JwtValidationConfig.AdditionalClaims", self.sign_in.machine_claims()
        )
        elbv2.ApplicationListenerRule(
            self,
            "XhrRule",
            listener=self.https_listener,
            priority=XHR_RULE_PRIORITY,
            conditions=[elbv2.ListenerCondition.path_patterns(list(XHR_PATHS))],
            action=self.sign_in.authenticate(forward(), on_unauthenticated=elbv2.UnauthenticatedAction.DENY),
        )

        self._outputs()

    @property
    def availability_zones(self) -> list[str]:
        """The zones from config. Overrides the stack's own, which would be a context lookup (an AWS
        call under the CLI) wherever the account is known, even though the VPC names its zones."""
        return list(self.config.availability_zones)

    # ------------------------------------------------------------------ what other stacks use

    @property
    def load_balancer(self) -> elbv2.ApplicationLoadBalancer:
        return self.edge.alb

    @property
    def target_group(self) -> elbv2.ApplicationTargetGroup:
        return self.app.target_group

    @property
    def service(self) -> ecs.FargateService:
        """The `ecs.FargateService`."""
        return self.app.service

    @property
    def url(self) -> str:
        return self.edge.url

    def _outputs(self) -> None:
        outputs = {
            "WebUrl": (self.url, "The web app (sign-in through the ALB)"),
            "LoadBalancerDnsName": (
                self.edge.alb.load_balancer_dns_name,
                "Point the web domain here (a CNAME or alias) when no hosted zone is configured",
            ),
            "LoadBalancerArn": (self.edge.alb.load_balancer_arn, "The only signer the web app accepts"),
            "AccessLogBucketName": (self.edge.access_logs.bucket_name, "ALB access logs"),
            "WebServiceName": (self.app.service.service_name, "ECS service of the web app"),
            "WebClusterName": (self.app.cluster.cluster_name, "ECS cluster of the web app"),
        }
        for name, (value, description) in outputs.items():
            cdk.CfnOutput(self, name, value=value, description=description)
