"""The web app on Fargate: an ARM64 task built from service/Dockerfile, hardened (non-root,
read-only root filesystem, no Linux capabilities), in private subnets, reachable only from the
ALB's security group, rolled back by the deployment circuit breaker, scaled on CPU."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk.aws_ecr_assets import Platform
from constructs import Construct

from stacks.lambda_packaging import service_image_dir
from stacks.nag import acknowledge

CONTAINER_NAME = "Web"
CONTAINER_PORT = 8080
# The image's unprivileged user (service/Dockerfile).
CONTAINER_USER = "10001:10001"
HEALTH_PATH = "/healthz"
CPU_TARGET_PERCENT = 60
# The slim image has no curl: Python itself probes the app.
HEALTH_COMMAND = (
    "import sys, urllib.request; "
    f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{CONTAINER_PORT}{HEALTH_PATH}', timeout=3).status == 200 else 1)"
)


class WebService(Construct):
    """Cluster, task definition, Fargate service, autoscaling and the ALB target group."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        cpu: int,
        memory_mib: int,
        min_tasks: int,
        max_tasks: int,
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENHANCED)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=log_removal_policy)

        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            # The one writable path (gunicorn's worker heartbeats): the root filesystem is read-only.
            # A bind-mount volume is root-owned 0755 unless the image prepares its path (VOLUME +
            # chown in service/Dockerfile); tests/test_container_start.py starts the task as Fargate does.
            volumes=[ecs.Volume(name="tmp")],
        )
        linux = ecs.LinuxParameters(self, "LinuxParameters", init_process_enabled=True)
        linux.drop_capabilities(ecs.Capability.ALL)
        self.container = self.task_definition.add_container(
            CONTAINER_NAME,
            image=ecs.ContainerImage.from_asset(str(service_image_dir()), platform=Platform.LINUX_ARM64),
            environment=dict(environment),
            port_mappings=[ecs.PortMapping(container_port=CONTAINER_PORT, name="http")],
            user=CONTAINER_USER,
            readonly_root_filesystem=True,
            linux_parameters=linux,
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="web", log_group=self.log_group, mode=ecs.AwsLogDriverMode.NON_BLOCKING
            ),
            health_check=ecs.HealthCheck(
                command=["CMD", "python", "-c", HEALTH_COMMAND],
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(20),
            ),
            stop_timeout=Duration.seconds(30),
        )
        self.container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False))  # noqa: S108 (a task volume)
        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "the environment holds only public identifiers (ALB ARN, issuer, client ids, URLs, cookie name) that the "
            "stack itself produces; the app needs no secret (the ALB keeps the IdP client secret)",
        )
        if self.task_definition.execution_role is not None:
            acknowledge(
                self.task_definition.execution_role,
                "AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken has no resource-level permissions: it must be granted on '*' for the "
                "task to pull its image; every other grant names the repository and the log group",
            )

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="Web tasks: in only from the ALB on the container port; out on 443 only",
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "HTTP API (token relay), ALB public keys, Cognito JWKS, image pulls and logs, through the NAT gateway",
        )

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=min_tasks,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            assign_public_ip=False,
            platform_version=ecs.FargatePlatformVersion.LATEST,
            health_check_grace_period=Duration.seconds(60),
            enable_ecs_managed_tags=True,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        self.scaling = self.service.auto_scale_task_count(min_capacity=min_tasks, max_capacity=max_tasks)
        self.scaling.scale_on_cpu_utilization(
            "CpuScaling",
            target_utilization_percent=CPU_TARGET_PERCENT,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )

        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=vpc,
            port=CONTAINER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[self.service.load_balancer_target(container_name=CONTAINER_NAME, container_port=CONTAINER_PORT)],
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
            deregistration_delay=Duration.seconds(30),
        )
