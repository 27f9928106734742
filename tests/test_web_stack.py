"""Web stack (stacks/web_stack.py): HTTPS-only ALB that signs users in before anything reaches the
app, a JWT-validated path for machines, a Fargate service reachable only through the ALB, and an
access-log bucket that is encrypted, SSL-only, private and expiring."""

from __future__ import annotations

import copy
import functools
import json
import tempfile

import aws_cdk as cdk
import pytest
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk.assertions import Template

import auth_contract
from service.settings import OPTIONAL_VARIABLES, REQUIRED_VARIABLES
from stacks.app_builder import CDK_JSON, build_app
from stacks.config import ConfigError, parse_env_config
from stacks.web_load_balancer import SSL_POLICY
from stacks.web_service import CONTAINER_PORT, CONTAINER_USER, HEALTH_PATH
from stacks.web_stack import WebStack
from tests.synth import Synthesized, synthesize_changed

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
OIDC_SECRET_NAME = "jwt-auth/test/web-oidc"


def resources(template: Template, type_: str) -> dict[str, dict]:
    return template.find_resources(type_)


def only(template: Template, type_: str, props: dict | None = None) -> tuple[str, dict]:
    found = template.find_resources(type_, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {type_} matching {props}, found {len(found)}"
    return next(iter(found.items()))


def https_listener(template: Template) -> dict:
    return only(template, "AWS::ElasticLoadBalancingV2::Listener", {"Port": 443})[1]["Properties"]


def rule_for(template: Template, path: str) -> dict:
    rules = [
        rule["Properties"]
        for rule in resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
        if any(c.get("PathPatternConfig", {}).get("Values") == [path] for c in rule["Properties"]["Conditions"])
    ]
    assert len(rules) == 1, f"expected one rule for {path}"
    return rules[0]


def ordered(actions: list[dict]) -> list[dict]:
    return sorted(actions, key=lambda action: action.get("Order", 0))


def logical_id(template: Template, type_: str, prefix: str) -> str:
    ids = [key for key in resources(template, type_) if key.startswith(prefix)]
    assert len(ids) == 1, (type_, prefix, ids)
    return ids[0]


def mentions(value, text: str) -> bool:
    return text in json.dumps(value)


# --------------------------------------------------------------------------- configuration


def test_environment_without_a_web_domain_fails_naming_the_keys_to_set(dev_env):
    dev = dev_env.config
    assert dev.web is None
    with pytest.raises(ConfigError) as caught:
        WebStack(cdk.App(), "Web", config=dev, identity=None, api=None)
    message = str(caught.value)
    for key in ("environments.dev.web", "web.domain_name", "web.certificate_arn", "web.hosted_zone_id", "HTTPS"):
        assert key in message


def test_dev_has_no_web_stack_but_test_and_prod_do(dev_env, test_env, prod_env):
    assert "Web" not in dev_env.templates
    assert "Web" in test_env.templates and "Web" in prod_env.templates


# --------------------------------------------------------------------------- listeners and TLS


def test_https_listener_has_the_configured_certificate_and_a_modern_tls_policy(web_template, test_env):
    listener = https_listener(web_template)
    assert listener["Protocol"] == "HTTPS"
    assert listener["SslPolicy"] == TLS_POLICY
    assert SSL_POLICY == elbv2.SslPolicy.TLS13_12_RES_PQ
    assert listener["Certificates"] == [{"CertificateArn": test_env.config.web.certificate_arn}]


def test_port_80_only_redirects_to_https(web_template):
    listener = only(web_template, "AWS::ElasticLoadBalancingV2::Listener", {"Port": 80})[1]["Properties"]
    assert listener["Protocol"] == "HTTP"
    assert listener["DefaultActions"] == [
        {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
    ]
    listener_id = only(web_template, "AWS::ElasticLoadBalancingV2::Listener", {"Port": 80})[0]
    rules = resources(web_template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    assert not [rule for rule in rules if rule["Properties"]["ListenerArn"] == {"Ref": listener_id}]


def test_the_alb_has_exactly_the_https_and_redirect_listeners(web_template):
    ports = sorted(
        listener["Properties"]["Port"]
        for listener in resources(web_template, "AWS::ElasticLoadBalancingV2::Listener").values()
    )
    assert ports == [80, 443]


# --------------------------------------------------------------------------- sign-in actions


def test_default_action_signs_in_with_cognito_then_forwards(web_template, test_env):
    config = test_env.config
    actions = ordered(https_listener(web_template)["DefaultActions"])
    assert [action["Type"] for action in actions] == ["authenticate-cognito", "forward"]
    cognito = actions[0]["AuthenticateCognitoConfig"]
    assert cognito["OnUnauthenticatedRequest"] == "authenticate"
    assert cognito["Scope"].split() == ["openid", "email", config.qualified_scope(auth_contract.ITEMS_READ)]
    assert cognito["SessionCookieName"] == config.web.session_cookie_name
    assert int(cognito["SessionTimeout"]) == config.web.session_timeout_minutes * 60
    assert mentions(cognito["UserPoolArn"], "UserPool6BA7E5F2Arn")
    assert mentions(cognito["UserPoolClientId"], "UserPoolAlbClient")
    assert mentions(cognito["UserPoolDomain"], "UserPoolDomain")


def test_xhr_paths_answer_401_instead_of_redirecting_to_sign_in(web_template, test_env):
    rule = rule_for(web_template, "/app-api/*")
    actions = ordered(rule["Actions"])
    assert [action["Type"] for action in actions] == ["authenticate-cognito", "forward"]
    cognito = actions[0]["AuthenticateCognitoConfig"]
    assert cognito["OnUnauthenticatedRequest"] == "deny"
    # The same session as the pages: XHR calls ride on the browser's sign-in.
    default = ordered(https_listener(web_template)["DefaultActions"])[0]["AuthenticateCognitoConfig"]
    for key in ("UserPoolArn", "UserPoolClientId", "UserPoolDomain", "Scope", "SessionCookieName"):
        assert cognito[key] == default[key]


def test_machine_paths_are_validated_by_the_albs_jwt_action_against_the_pool(web_template):
    rule = rule_for(web_template, "/m2m/*")
    actions = ordered(rule["Actions"])
    assert [action["Type"] for action in actions] == ["jwt-validation", "forward"]
    config = actions[0]["JwtValidationConfig"]
    assert mentions(config["Issuer"], "UserPool6BA7E5F2ProviderURL")
    assert mentions(config["JwksEndpoint"], "UserPool6BA7E5F2ProviderURL")
    assert mentions(config["JwksEndpoint"], "/.well-known/jwks.json")
    claims = {claim["Name"]: claim for claim in config["AdditionalClaims"]}
    assert claims["token_use"] == {"Format": "single-string", "Name": "token_use", "Values": ["access"]}
    assert claims["client_id"]["Format"] == "single-string"
    assert mentions(claims["client_id"]["Values"], "UserPoolMachineClient")


def test_machine_rule_is_evaluated_before_the_xhr_rule(web_template):
    assert rule_for(web_template, "/m2m/*")["Priority"] < rule_for(web_template, "/app-api/*")["Priority"]


def test_every_route_forwards_only_to_the_app_target_group(web_template):
    target_group = logical_id(web_template, "AWS::ElasticLoadBalancingV2::TargetGroup", "App")
    chains = [https_listener(web_template)["DefaultActions"]] + [
        rule["Properties"]["Actions"]
        for rule in resources(web_template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    ]
    for chain in chains:
        last = ordered(chain)[-1]
        assert last == {"Type": "forward", "Order": len(chain), "TargetGroupArn": {"Ref": target_group}}


# --------------------------------------------------------------------------- load balancer


def test_alb_is_internet_facing_drops_invalid_headers_and_logs_to_the_bucket(web_template):
    _, alb = only(web_template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    props = alb["Properties"]
    assert props["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in props["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    bucket = logical_id(web_template, "AWS::S3::Bucket", "LoadBalancerAccessLogs")
    assert attributes["access_logs.s3.bucket"] == {"Ref": bucket}
    public = {key for key in resources(web_template, "AWS::EC2::Subnet") if "PublicSubnet" in key}
    assert {subnet["Ref"] for subnet in props["Subnets"]} == public


def alb_attributes(synthesized: Synthesized) -> dict[str, str]:
    _, alb = only(synthesized.template("Web"), "AWS::ElasticLoadBalancingV2::LoadBalancer")
    return {a["Key"]: a["Value"] for a in alb["Properties"]["LoadBalancerAttributes"]}


@pytest.mark.parametrize("env", ["test", "prod"])
def test_alb_deletion_protection_is_off_until_config_switches_it_on(env, request):
    # A protected ALB whose first create fails cannot be deleted by the rollback: the stack ends in
    # ROLLBACK_FAILED. cdk.json ships it off; docs/operations.md (First deploy) says when to switch it on.
    synthesized: Synthesized = request.getfixturevalue(f"{env}_env")
    assert synthesized.config.web.deletion_protection is False
    assert alb_attributes(synthesized)["deletion_protection.enabled"] == "false"


def test_alb_deletion_protection_is_switched_on_by_config():
    def protect(env: dict) -> None:
        env["web"]["deletion_protection"] = True

    assert alb_attributes(synthesize_changed("prod", protect))["deletion_protection.enabled"] == "true"


def test_alb_deletion_protection_needs_an_environment_that_retains_data():
    raw = copy.deepcopy(json.loads(CDK_JSON.read_text())["context"]["environments"]["test"])
    raw["web"]["deletion_protection"] = True
    with pytest.raises(
        ConfigError, match=r"environments.test.web.deletion_protection=True is not allowed: false where"
    ):
        parse_env_config("jwt-auth", "test", raw)
    raw["web"]["deletion_protection"] = "yes"
    with pytest.raises(ConfigError, match=r"environments.test.web.deletion_protection='yes' is not allowed: true or"):
        parse_env_config("jwt-auth", "test", raw)


def test_alb_security_group_is_open_on_443_and_80_and_reaches_only_the_idp_and_the_tasks(web_template):
    alb_sg = logical_id(web_template, "AWS::EC2::SecurityGroup", "LoadBalancerSecurityGroup")
    app_sg = logical_id(web_template, "AWS::EC2::SecurityGroup", "AppSecurityGroup")
    props = resources(web_template, "AWS::EC2::SecurityGroup")[alb_sg]["Properties"]
    ingress = sorted((rule["CidrIp"], rule["FromPort"], rule["ToPort"]) for rule in props["SecurityGroupIngress"])
    assert ingress == [("0.0.0.0/0", 80, 80), ("0.0.0.0/0", 443, 443)]
    # 443 anywhere: the IdP's token/user-info endpoints and JWKS have no published address ranges.
    assert [(r["CidrIp"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in props["SecurityGroupEgress"]] == [
        ("0.0.0.0/0", "tcp", 443, 443)
    ]
    egress = [
        rule["Properties"]
        for rule in resources(web_template, "AWS::EC2::SecurityGroupEgress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [alb_sg, "GroupId"]}
    ]
    assert [{k: v for k, v in rule.items() if k != "Description"} for rule in egress] == [
        {
            "DestinationSecurityGroupId": {"Fn::GetAtt": [app_sg, "GroupId"]},
            "FromPort": CONTAINER_PORT,
            "GroupId": {"Fn::GetAtt": [alb_sg, "GroupId"]},
            "IpProtocol": "tcp",
            "ToPort": CONTAINER_PORT,
        }
    ]


def test_certificate_arn_from_config_means_no_dns_record(web_template):
    assert resources(web_template, "AWS::CertificateManager::Certificate") == {}
    assert resources(web_template, "AWS::Route53::RecordSet") == {}


def test_hosted_zone_from_config_gets_a_dns_validated_certificate_and_an_alias_record(prod_env):
    template = prod_env.template("Web")
    web = prod_env.config.web
    _, certificate = only(template, "AWS::CertificateManager::Certificate")
    assert certificate["Properties"]["DomainName"] == web.domain_name
    assert certificate["Properties"]["ValidationMethod"] == "DNS"
    assert certificate["Properties"]["DomainValidationOptions"] == [
        {"DomainName": web.domain_name, "HostedZoneId": web.hosted_zone_id}
    ]
    _, record = only(template, "AWS::Route53::RecordSet")
    assert record["Properties"]["Type"] == "A"
    assert record["Properties"]["Name"] == f"{web.domain_name}."
    assert record["Properties"]["HostedZoneId"] == web.hosted_zone_id
    alb = logical_id(template, "AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerAlb")
    assert mentions(record["Properties"]["AliasTarget"], alb)
    certificate_id = logical_id(template, "AWS::CertificateManager::Certificate", "LoadBalancerCertificate")
    assert https_listener(template)["Certificates"] == [{"CertificateArn": {"Ref": certificate_id}}]


# --------------------------------------------------------------------------- access-log bucket


@pytest.mark.parametrize("env", ["test", "prod"])
def test_access_log_bucket_is_encrypted_private_ssl_only_and_expires_logs(env, request):
    synthesized: Synthesized = request.getfixturevalue(f"{env}_env")
    template = synthesized.template("Web")
    bucket_id, bucket = only(template, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == synthesized.config.log_retention_days
    _, policy = only(template, "AWS::S3::BucketPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    ssl_only = [s for s in statements if s["Effect"] == "Deny"]
    assert ssl_only == [
        {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [
                {"Fn::GetAtt": [bucket_id, "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
            ],
        }
    ]
    writers = [s for s in statements if s["Effect"] == "Allow" and s["Action"] == "s3:PutObject"]
    assert writers and all(mentions(s["Resource"], "/alb/AWSLogs/") for s in writers)
    expected = "Retain" if synthesized.config.retain_data else "Delete"
    assert bucket["DeletionPolicy"] == expected


def test_access_logs_are_emptied_on_teardown_only_where_data_is_not_retained(test_env, prod_env):
    assert test_env.template("Web").find_resources("Custom::S3AutoDeleteObjects")
    assert not prod_env.template("Web").find_resources("Custom::S3AutoDeleteObjects")


# --------------------------------------------------------------------------- network


@pytest.mark.parametrize("env", ["test", "prod"])
def test_vpc_spans_the_configured_zones_with_nat_gateways_from_config(env, request):
    synthesized: Synthesized = request.getfixturevalue(f"{env}_env")
    config = synthesized.config
    template = synthesized.template("Web")
    _, vpc = only(template, "AWS::EC2::VPC")
    assert vpc["Properties"]["CidrBlock"] == config.web.vpc_cidr
    zones = sorted(s["Properties"]["AvailabilityZone"] for s in resources(template, "AWS::EC2::Subnet").values())
    assert zones == sorted(list(config.availability_zones) * 2)
    assert len(resources(template, "AWS::EC2::NatGateway")) == config.web.nat_gateways
    private = [
        s for s in resources(template, "AWS::EC2::Subnet").values() if not s["Properties"]["MapPublicIpOnLaunch"]
    ]
    assert len(private) == len(config.availability_zones)


@pytest.mark.parametrize("env", ["test", "prod"])
def test_synth_makes_no_context_lookups_even_where_the_account_is_known(env, request):
    """The VPC names its zones from config; nothing asks AWS for them (synth needs no credentials)."""
    synthesized: Synthesized = request.getfixturevalue(f"{env}_env")
    for manifest in (
        synthesized.outdir / "manifest.json",
        synthesized.outdir / f"assembly-{synthesized.stage.stage_name}" / "manifest.json",
    ):
        assert json.loads(manifest.read_text()).get("missing") is None
    assert synthesized.stage.web.availability_zones == list(synthesized.config.availability_zones)


def test_vpc_flow_logs_capture_all_traffic_into_a_retained_log_group(web_template, test_env):
    _, flow_log = only(web_template, "AWS::EC2::FlowLog")
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    assert flow_log["Properties"]["LogDestinationType"] == "cloud-watch-logs"
    group = flow_log["Properties"]["LogGroupName"]["Ref"]
    assert resources(web_template, "AWS::Logs::LogGroup")[group]["Properties"]["RetentionInDays"] == (
        test_env.config.log_retention_days
    )


# --------------------------------------------------------------------------- Fargate service


def test_task_security_group_accepts_only_the_alb_on_the_container_port(web_template):
    alb_sg = logical_id(web_template, "AWS::EC2::SecurityGroup", "LoadBalancerSecurityGroup")
    app_sg = logical_id(web_template, "AWS::EC2::SecurityGroup", "AppSecurityGroup")
    props = resources(web_template, "AWS::EC2::SecurityGroup")[app_sg]["Properties"]
    assert "SecurityGroupIngress" not in props
    ingress = [
        rule["Properties"]
        for rule in resources(web_template, "AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [app_sg, "GroupId"]}
    ]
    assert len(ingress) == 1
    assert ingress[0]["SourceSecurityGroupId"] == {"Fn::GetAtt": [alb_sg, "GroupId"]}
    assert (ingress[0]["IpProtocol"], ingress[0]["FromPort"], ingress[0]["ToPort"]) == (
        "tcp",
        CONTAINER_PORT,
        CONTAINER_PORT,
    )
    assert [(r["CidrIp"], r["FromPort"], r["ToPort"]) for r in props["SecurityGroupEgress"]] == [
        ("0.0.0.0/0", 443, 443)
    ]


def test_service_runs_in_private_subnets_with_a_rolling_back_circuit_breaker(web_template):
    _, service = only(web_template, "AWS::ECS::Service")
    props = service["Properties"]
    assert props["LaunchType"] == "FARGATE"
    assert props["DeploymentConfiguration"] == {
        "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
        "MaximumPercent": 200,
        "MinimumHealthyPercent": 100,
    }
    network = props["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    private = {key for key in resources(web_template, "AWS::EC2::Subnet") if "AppSubnet" in key}
    assert {subnet["Ref"] for subnet in network["Subnets"]} == private
    app_sg = logical_id(web_template, "AWS::EC2::SecurityGroup", "AppSecurityGroup")
    assert network["SecurityGroups"] == [{"Fn::GetAtt": [app_sg, "GroupId"]}]


@pytest.mark.parametrize("env", ["test", "prod"])
def test_service_scales_on_cpu_between_the_configured_task_counts(env, request):
    synthesized: Synthesized = request.getfixturevalue(f"{env}_env")
    web = synthesized.config.web
    template = synthesized.template("Web")
    _, target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (web.min_tasks, web.max_tasks)
    assert target["Properties"]["ScalableDimension"] == "ecs:service:DesiredCount"
    _, policy = only(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    _, service = only(template, "AWS::ECS::Service")
    assert service["Properties"]["DesiredCount"] == web.min_tasks


def test_cluster_has_enhanced_container_insights(web_template):
    _, cluster = only(web_template, "AWS::ECS::Cluster")
    assert cluster["Properties"]["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enhanced"}]


@pytest.mark.parametrize("env", ["test", "prod"])
def test_task_is_an_arm64_fargate_task_sized_from_config(env, request):
    synthesized: Synthesized = request.getfixturevalue(f"{env}_env")
    web = synthesized.config.web
    _, task = only(synthesized.template("Web"), "AWS::ECS::TaskDefinition")
    props = task["Properties"]
    assert props["RuntimePlatform"] == {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}
    assert props["RequiresCompatibilities"] == ["FARGATE"]
    assert props["NetworkMode"] == "awsvpc"
    assert (props["Cpu"], props["Memory"]) == (str(web.container_cpu), str(web.container_memory_mib))


def test_container_runs_unprivileged_with_a_read_only_root_filesystem(web_template):
    _, task = only(web_template, "AWS::ECS::TaskDefinition")
    [container] = task["Properties"]["ContainerDefinitions"]
    assert container["User"] == CONTAINER_USER
    assert not CONTAINER_USER.startswith("0")
    assert container["ReadonlyRootFilesystem"] is True
    assert container["LinuxParameters"] == {"Capabilities": {"Drop": ["ALL"]}, "InitProcessEnabled": True}
    assert container.get("Privileged") in (None, False)
    # The one writable path is a task volume.
    assert container["MountPoints"] == [{"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}]
    assert task["Properties"]["Volumes"] == [{"Name": "tmp"}]
    assert container["PortMappings"] == [{"ContainerPort": CONTAINER_PORT, "Name": "http", "Protocol": "tcp"}]


def test_container_has_a_health_check_and_logs_with_retention(web_template, test_env):
    _, task = only(web_template, "AWS::ECS::TaskDefinition")
    [container] = task["Properties"]["ContainerDefinitions"]
    command = container["HealthCheck"]["Command"]
    assert command[:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{CONTAINER_PORT}{HEALTH_PATH}" in command[3]
    log = container["LogConfiguration"]
    assert log["LogDriver"] == "awslogs"
    group = log["Options"]["awslogs-group"]["Ref"]
    assert resources(web_template, "AWS::Logs::LogGroup")[group]["Properties"]["RetentionInDays"] == (
        test_env.config.log_retention_days
    )
    _, target_group = only(web_template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert target_group["Properties"]["HealthCheckPath"] == HEALTH_PATH
    assert target_group["Properties"]["TargetType"] == "ip"
    assert target_group["Properties"]["Port"] == CONTAINER_PORT


def test_container_environment_tells_the_app_which_alb_client_and_issuer_to_trust(web_template, test_env):
    config = test_env.config
    _, task = only(web_template, "AWS::ECS::TaskDefinition")
    [container] = task["Properties"]["ContainerDefinitions"]
    env = {item["Name"]: item["Value"] for item in container["Environment"]}
    alb = logical_id(web_template, "AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerAlb")
    assert env["ALB_ARN"] == {"Ref": alb}
    assert mentions(env["EXPECTED_ISSUER"], "UserPool6BA7E5F2ProviderURL")
    assert mentions(env["EXPECTED_CLIENT_ID"], "UserPoolAlbClient")
    assert env["AWS_REGION"] == config.region
    assert env["SESSION_COOKIE_NAME"] == config.web.session_cookie_name
    logout = json.dumps(env["LOGOUT_URL"])
    assert ".auth.eu-west-1.amazoncognito.com/logout?client_id=" in logout
    assert "UserPoolAlbClient" in logout
    assert "&logout_uri=https%3A%2F%2Fapp.jwt-auth.test%2F" in logout
    assert mentions(env["M2M_CLIENT_IDS"], "UserPoolMachineClient")
    assert env["M2M_SCOPE"] == config.qualified_scope(auth_contract.PLATFORM_MACHINE_SCOPE)
    if "API_URL" in env:
        assert mentions(env["API_URL"], "execute-api")
    # Both sides agree on the names: the stack sets every variable the app requires, and no other.
    assert set(REQUIRED_VARIABLES) <= set(env) <= set(REQUIRED_VARIABLES) | set(OPTIONAL_VARIABLES)
    assert "ALB_KEY_URL_BASE" not in env, "the key endpoint is only ever overridden locally"


def test_image_is_built_from_the_service_dockerfile_for_arm64_without_docker_at_synth(test_env):
    web = test_env.stage.web
    manifest = test_env.outdir / f"assembly-{test_env.stage.stage_name}" / f"{web.artifact_id}.assets.json"
    images = json.loads(manifest.read_text())["dockerImages"]
    assert len(images) == 1
    [image] = images.values()
    assert image["source"]["platform"] == "linux/arm64"
    staged = test_env.outdir / f"assembly-{test_env.stage.stage_name}" / image["source"]["directory"]
    assert (staged / "Dockerfile").is_file()
    assert (staged / "service" / "app.py").is_file() and (staged / "service" / "alb_auth.py").is_file()
    # The token checks the web app shares with the Lambda authorizer travel with it.
    assert (staged / "jwtcheck" / "jwks.py").is_file() and (staged / "jwtcheck" / "rules.py").is_file()
    assert not (staged / "service" / "devtools.py").exists(), "local tools stay out of the image"
    assert not (staged / "service" / "devserver.py").exists()


# --------------------------------------------------------------------------- any OIDC provider


@functools.cache
def oidc_environment() -> dict:
    """The test environment with its web sign-in switched to a generic OIDC provider."""
    context = json.loads(CDK_JSON.read_text())["context"]
    environments = copy.deepcopy(context["environments"])
    environments["test"]["web"] = {
        **environments["test"]["web"],
        "auth_provider": "oidc",
        "oidc": {
            "issuer": "https://idp.example.com",
            "authorization_endpoint": "https://idp.example.com/authorize",
            "token_endpoint": "https://idp.example.com/token",
            "user_info_endpoint": "https://idp.example.com/userinfo",
            "client_id": "web-client",
            "client_secret_name": OIDC_SECRET_NAME,
            "end_session_endpoint": "https://idp.example.com/logout",
        },
    }
    app, stage = build_app({"env": "test", "environments": environments}, outdir=tempfile.mkdtemp())
    assembly = app.synth().get_nested_assembly(f"assembly-{stage.stage_name}")
    return assembly.get_stack_artifact(stage.web.artifact_id).template


def test_oidc_provider_signs_in_with_its_endpoints_and_a_secret_from_secrets_manager():
    template = Template.from_json(oidc_environment())
    actions = ordered(https_listener(template)["DefaultActions"])
    assert [action["Type"] for action in actions] == ["authenticate-oidc", "forward"]
    oidc = actions[0]["AuthenticateOidcConfig"]
    assert oidc["Issuer"] == "https://idp.example.com"
    assert oidc["AuthorizationEndpoint"] == "https://idp.example.com/authorize"
    assert oidc["TokenEndpoint"] == "https://idp.example.com/token"
    assert oidc["UserInfoEndpoint"] == "https://idp.example.com/userinfo"
    assert oidc["ClientId"] == "web-client"
    # A dynamic reference CloudFormation resolves at deploy time: the secret is never in the template.
    assert oidc["ClientSecret"] == f"{{{{resolve:secretsmanager:{OIDC_SECRET_NAME}:SecretString:::}}}}"
    assert oidc["Scope"] == "openid email"
    assert oidc["OnUnauthenticatedRequest"] == "authenticate"
    xhr = ordered(rule_for(template, "/app-api/*")["Actions"])[0]
    assert xhr["Type"] == "authenticate-oidc"
    assert xhr["AuthenticateOidcConfig"]["OnUnauthenticatedRequest"] == "deny"


def test_oidc_provider_is_what_the_app_is_told_to_expect():
    template = Template.from_json(oidc_environment())
    _, task = only(template, "AWS::ECS::TaskDefinition")
    env = {item["Name"]: item["Value"] for item in task["Properties"]["ContainerDefinitions"][0]["Environment"]}
    assert env["EXPECTED_ISSUER"] == "https://idp.example.com"
    assert env["EXPECTED_CLIENT_ID"] == "web-client"
    assert env["LOGOUT_URL"] == (
        "https://idp.example.com/logout?client_id=web-client&post_logout_redirect_uri=https%3A%2F%2Fapp.jwt-auth.test%2F"
    )
