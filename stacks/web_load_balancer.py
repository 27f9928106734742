"""The web stack's front door: an internet-facing ALB that speaks only HTTPS (port 80 redirects),
drops invalid header fields, logs every request to an encrypted bucket, and its certificate and
DNS name.

Stateful: the access-log bucket's logical ID is guarded by tests/test_logical_ids.py. Never
rename or move the `LoadBalancer/AccessLogs` construct.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge

# TLS 1.3 and 1.2 with forward-secret AEAD ciphers only, and hybrid post-quantum key exchange.
SSL_POLICY = elbv2.SslPolicy.TLS13_12_RES_PQ
HTTPS_PORT = 443
HTTP_PORT = 80
ACCESS_LOG_PREFIX = "alb"


class WebLoadBalancer(Construct):
    """ALB, its security group, access-log bucket, HTTP→HTTPS redirect, certificate and DNS record."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        domain_name: str,
        certificate_arn: str | None,
        hosted_zone_id: str | None,
        hosted_zone_name: str | None,
        deletion_protection: bool,
        access_log_days: int,
        access_log_removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        self.domain_name = domain_name

        # ALB access logs support only S3-managed keys (SSE-S3), not KMS.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(access_log_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=access_log_removal_policy,
            # Where the environment is torn down, the logs go with it (a non-empty bucket blocks deletion).
            auto_delete_objects=access_log_removal_policy == RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "this bucket holds the ALB's access logs; logging access to it into yet another bucket would only move "
            "the question one bucket further, and CloudTrail data events cover reads where an account needs them",
        )

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="ALB: HTTPS (and HTTP, redirected) from the internet; out to the IdP on 443 and to the web tasks",
        )
        # The authenticate actions call the IdP's token and user-info endpoints (and the JWT action its
        # JWKS) from the ALB's own nodes. Cognito and most IdPs publish no stable address ranges or
        # prefix list for these endpoints, so 443 to anywhere is the narrowest rule that works; without
        # it sign-in fails with an opaque 500 from the ALB.
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS_PORT), "IdP token, user-info and JWKS endpoints (ALB sign-in)"
        )
        acknowledge(
            self.security_group,
            "AwsSolutions-EC23",
            "an internet-facing load balancer for a public web app: HTTPS from anywhere, and HTTP only to redirect "
            "to HTTPS; sign-in is enforced by the listener's authenticate actions",
        )

        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            internet_facing=True,
            security_group=self.security_group,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
            http2_enabled=True,
            desync_mitigation_mode=elbv2.DesyncMitigationMode.DEFENSIVE,
        )
        self.alb.log_access_logs(self.access_logs, prefix=ACCESS_LOG_PREFIX)
        self.http_listener = self.alb.add_redirect(source_port=HTTP_PORT, target_port=HTTPS_PORT)

        self.hosted_zone: route53.IHostedZone | None = None
        if hosted_zone_id is not None and hosted_zone_name is not None:
            self.hosted_zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=hosted_zone_id, zone_name=hosted_zone_name
            )
        if certificate_arn is not None:
            self.certificate = acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
        else:
            self.certificate = acm.Certificate(
                self,
                "Certificate",
                domain_name=domain_name,
                validation=acm.CertificateValidation.from_dns(self.hosted_zone),
            )
        if self.hosted_zone is not None:
            route53.ARecord(
                self,
                "AliasRecord",
                zone=self.hosted_zone,
                record_name=domain_name,
                target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(self.alb)),
            )

    @property
    def url(self) -> str:
        return f"https://{self.domain_name}"

    def add_https_listener(self, default_action: elbv2.ListenerAction) -> elbv2.ApplicationListener:
        """The HTTPS listener, open to the internet, whose default action is `default_action`."""
        return self.alb.add_listener(
            "Https",
            port=HTTPS_PORT,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_certificate_manager(self.certificate)],
            ssl_policy=SSL_POLICY,
            open=True,
            default_action=default_action,
        )
