"""What only shows once the stacks run on AWS, read from the synthesized templates: cross-stack
references that cannot go stale, the user pool's SES sender, logs that outlive a prod stack, the
alarm key's confused-deputy conditions, and a machine client no user can sign in through.
(The container start, the ALB's deletion protection, the access-log ARN and the WAF have their
guards beside their stacks' other tests.)"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from stacks.config import ConfigError, parse_env_config
from tests.cross_stack import exports, resolve
from tests.synth import ENVIRONMENTS, synthesize, synthesize_changed

if TYPE_CHECKING:
    from stacks.stage import AuthStage

# cdk.json itself, not stacks.app_builder.CDK_JSON: the config tests here are unit tests, and
# importing the app builder would load the CDK (and start its Node process) in a unit-tier run.
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"

CONTEXT = json.loads(CDK_JSON.read_text())["context"]


def references(value: Any, kind: str) -> list[Any]:
    """Every `{kind: ...}` expression anywhere in `value`."""
    found = []
    if isinstance(value, dict):
        if kind in value:
            found.append(value)
        for item in value.values():
            found.extend(references(item, kind))
    elif isinstance(value, list):
        for item in value:
            found.extend(references(item, kind))
    return found


def resources_of(template: dict, type_: str) -> dict[str, dict]:
    return {key: r for key, r in template["Resources"].items() if r["Type"] == type_}


# ---------------------------------------------------------------- cross-stack references


def test_cross_stack_references_are_strong_in_the_app_config():
    # Weak references (Fn::GetStackOutput) leave a consumer's template unchanged when the producer
    # replaces a resource, so the CLI skips the consumer and it keeps the old pool or client.
    assert CONTEXT["@aws-cdk/core:defaultCrossStackReferences"] == "strong"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_cross_stack_value_is_an_import_of_an_export(env):
    synthesized = synthesize(env)
    exported = exports(synthesized)
    for stack, template in synthesized.templates.items():
        assert not references(template, "Fn::GetStackOutput"), f"{env}/{stack} reads another stack's output weakly"
        for reference in references(template, "Fn::ImportValue"):
            assert reference["Fn::ImportValue"] in exported, (env, stack, reference)


def jwt_issuer(template: dict) -> Any:
    (authorizer,) = [
        r["Properties"]
        for r in resources_of(template, "AWS::ApiGatewayV2::Authorizer").values()
        if r["Properties"]["AuthorizerType"] == "JWT"
    ]
    return authorizer["JwtConfiguration"]["Issuer"]


def container_environment(template: dict) -> dict[str, Any]:
    (task,) = resources_of(template, "AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    return {variable["Name"]: variable["Value"] for variable in container["Environment"]}


def test_a_replaced_user_pool_or_client_changes_every_consumers_template():
    """A new logical id is a new resource: the export names change, so the API and web templates
    change and the CLI deploys them (with weak references they stayed byte-for-byte the same)."""

    def replace_pool_and_alb_client(stage: AuthStage) -> None:
        stage.identity.user_pool.node.default_child.override_logical_id("UserPoolReplaced")
        stage.identity.alb_client.node.default_child.override_logical_id("AlbClientReplaced")

    before = synthesize("test")
    after = synthesize_changed("test", lambda env: None, replace_pool_and_alb_client)

    assert jwt_issuer(after.templates["Api"]) != jwt_issuer(before.templates["Api"])
    _, issuer = resolve(after, jwt_issuer(after.templates["Api"]))
    assert issuer == {"Fn::GetAtt": ["UserPoolReplaced", "ProviderURL"]}

    web_before, web_after = (
        container_environment(before.templates["Web"]),
        container_environment(after.templates["Web"]),
    )
    for name in ("EXPECTED_ISSUER", "EXPECTED_CLIENT_ID"):
        assert web_after[name] != web_before[name], name
    assert resolve(after, web_after["EXPECTED_CLIENT_ID"])[1] == {"Ref": "AlbClientReplaced"}


# ---------------------------------------------------------------- SES sender


def pool(env: str) -> dict:
    (resource,) = resources_of(synthesize(env).templates["Identity"], "AWS::Cognito::UserPool").values()
    return resource["Properties"]


@pytest.mark.parametrize("env", ["prod", "test"])
def test_the_pool_sends_mail_through_the_configured_ses_identity(env):
    email = synthesize(env).config.identity.email
    assert pool(env)["EmailConfiguration"] == {
        "EmailSendingAccount": "DEVELOPER",
        "SourceArn": email.ses_identity_arn,
        "From": email.sender,
    }


def test_prod_sends_as_a_named_sender_from_its_own_domain():
    assert pool("prod")["EmailConfiguration"]["From"] == "jwt-auth <no-reply@jwt-auth.example.com>"


def test_without_an_email_section_the_pool_keeps_cognitos_default_sender_outside_production():
    assert synthesize("dev").config.identity.email is None
    assert "EmailConfiguration" not in pool("dev")


def test_reply_to_and_configuration_set_reach_the_template():
    def more(env: dict) -> None:
        env["identity"]["email"].update(reply_to="support@jwt-auth.test", configuration_set="auth-mail")

    (resource,) = resources_of(
        synthesize_changed("test", more).templates["Identity"], "AWS::Cognito::UserPool"
    ).values()
    configuration = resource["Properties"]["EmailConfiguration"]
    assert configuration["ReplyToEmailAddress"] == "support@jwt-auth.test"
    assert configuration["ConfigurationSet"] == "auth-mail"


def identity_raw(env: str, **email) -> dict:
    raw = copy.deepcopy(CONTEXT["environments"][env])
    raw["identity"]["email"] = {**raw["identity"].get("email", {}), **email}
    return raw


def test_production_must_configure_an_ses_sender():
    raw = copy.deepcopy(CONTEXT["environments"]["prod"])
    raw["identity"].pop("email")
    with pytest.raises(ConfigError, match=r"environments.prod.identity.email: required in a production environment"):
        parse_env_config("jwt-auth", "prod", raw)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"from_address": "not-an-address"}, r"email.from_address='not-an-address' is not allowed: an e-mail address"),
        ({"ses_identity_arn": "arn:aws:sns:eu-west-1:111111111111:identity/x"}, r"email.ses_identity_arn=.* not"),
        (
            {"ses_identity_arn": "arn:aws:ses:eu-west-1:111111111111:identity/other.example"},
            r"email.ses_identity_arn=.* an identity that covers from_address 'no-reply@jwt-auth.test'",
        ),
        (
            {"ses_identity_arn": "arn:aws:ses:ap-south-1:111111111111:identity/jwt-auth.test"},
            r"email.ses_identity_arn=.* an SES identity in eu-west-1 .* us-east-1, us-west-2, eu-west-1",
        ),
        ({"from_name": "a <b>"}, r"email.from_name='a <b>' is not allowed"),
        ({"reply_to": "nobody"}, r"email.reply_to='nobody' is not allowed: an e-mail address"),
        ({"configuration_set": "has space"}, r"email.configuration_set='has space' is not allowed"),
        ({"sender": "x@y.z"}, r"email.sender: unknown key"),
    ],
)
def test_bad_email_values_are_rejected_naming_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_env_config("jwt-auth", "test", identity_raw("test", **change))


def test_an_ses_identity_of_the_address_itself_or_in_an_alternate_region_is_accepted():
    config = parse_env_config(
        "jwt-auth",
        "test",
        identity_raw("test", ses_identity_arn="arn:aws:ses:us-east-1:111111111111:identity/no-reply@jwt-auth.test"),
    )
    assert config.identity.email.ses_region == "us-east-1"


# ---------------------------------------------------------------- Lambda logs


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_function_log_group_is_retained_where_the_environment_keeps_data(env):
    synthesized = synthesize(env)
    expected = "Retain" if synthesized.config.retain_data else "Delete"
    for stack in ("Identity", "Api"):
        template = synthesized.templates[stack]
        function_log_groups = {
            f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            for f in resources_of(template, "AWS::Lambda::Function").values()
            if "LoggingConfig" in f["Properties"]
        }
        assert function_log_groups, stack
        for logical_id in function_log_groups:
            log_group = template["Resources"][logical_id]
            assert log_group["DeletionPolicy"] == expected, (env, stack, logical_id)
            assert log_group["UpdateReplacePolicy"] == expected, (env, stack, logical_id)


# ---------------------------------------------------------------- alarm topic key


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cloudwatch_may_use_the_alarm_key_only_for_this_accounts_alarms(env):
    (key,) = resources_of(synthesize(env).templates["Monitoring"], "AWS::KMS::Key").values()
    statements = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert len(statements) == 1
    (statement,) = statements
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    condition = statement["Condition"]
    assert set(condition) == {"StringEquals", "ArnLike"}
    account = synthesize(env).config.account
    assert condition["StringEquals"]["aws:SourceAccount"] == (account or {"Ref": "AWS::AccountId"})
    source_arn = json.dumps(condition["ArnLike"]["aws:SourceArn"])
    assert ":cloudwatch:" in source_arn and ":alarm:*" in source_arn


# ---------------------------------------------------------------- machine client


def clients(env: str) -> dict[str, dict]:
    template = synthesize(env).templates["Identity"]
    return {key: r["Properties"] for key, r in resources_of(template, "AWS::Cognito::UserPoolClient").items()}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_machine_client_supports_no_federated_provider(env):
    (machine,) = [c for key, c in clients(env).items() if key.startswith("UserPoolMachineClient")]
    assert machine["SupportedIdentityProviders"] == ["COGNITO"]


def test_user_clients_still_offer_every_federated_provider():
    federated = len(synthesize("test").stage.identity.identity_providers)
    assert federated == 3
    for key, client in clients("test").items():
        if not key.startswith("UserPoolMachineClient"):
            assert len(client["SupportedIdentityProviders"]) == 1 + federated, key
