"""Identity stack: the user pool, its clients and scopes, per environment."""

from __future__ import annotations

import dataclasses
import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

import auth_contract
from stacks.config import CustomDomainConfig
from stacks.identity_stack import IdentityStack
from tests.synth import synthesize

POOL = "AWS::Cognito::UserPool"
CLIENT = "AWS::Cognito::UserPoolClient"
RIGHTS_BEARING = {auth_contract.TENANT_ATTRIBUTE_CLAIM}


def identity(env: str) -> Template:
    return synthesize(env).template("Identity")


def pool_properties(env: str) -> dict:
    (pool,) = identity(env).find_resources(POOL).values()
    return pool["Properties"]


def clients(env: str) -> dict[str, dict]:
    """Client properties by construct name (SpaClient, AlbClient, MachineClient)."""
    found = identity(env).find_resources(CLIENT)
    return {
        name: next(resource["Properties"] for logical_id, resource in found.items() if name in logical_id)
        for name in ("SpaClient", "AlbClient", "MachineClient")
        if any(name in logical_id for logical_id in found)
    }


def scope_names(client: dict) -> list[str]:
    """AllowedOAuthScopes with resource-server scopes reduced to their short names."""
    names = []
    for scope in client.get("AllowedOAuthScopes", []):
        if isinstance(scope, str):
            names.append(scope)
        else:
            names.append(scope["Fn::Join"][1][1].lstrip("/"))
    return names


# ---------------------------------------------------------------- user pool


def test_sign_in_is_by_case_insensitive_email_verified_automatically(identity_template):
    identity_template.has_resource_properties(
        POOL,
        {
            "UsernameAttributes": ["email"],
            "UsernameConfiguration": {"CaseSensitive": False},
            "AutoVerifiedAttributes": ["email"],
            "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
            "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
        },
    )


def test_password_policy_requires_twelve_characters_of_every_class_and_short_temporary_passwords(identity_template):
    identity_template.has_resource_properties(
        POOL,
        {
            "Policies": {
                "PasswordPolicy": {
                    "MinimumLength": 12,
                    "RequireLowercase": True,
                    "RequireUppercase": True,
                    "RequireNumbers": True,
                    "RequireSymbols": True,
                    "TemporaryPasswordValidityDays": 1,
                }
            }
        },
    )


def test_tenant_attribute_is_an_immutable_string(identity_template):
    identity_template.has_resource_properties(
        POOL,
        {
            "Schema": Match.array_with(
                [
                    {
                        "AttributeDataType": "String",
                        "Mutable": False,
                        "Name": auth_contract.TENANT_ATTRIBUTE,
                        "StringAttributeConstraints": {"MaxLength": "64", "MinLength": "1"},
                    }
                ]
            )
        },
    )


@pytest.mark.parametrize(
    ("env", "mfa", "security", "plan", "self_sign_up", "deletion", "policy"),
    [
        ("dev", "OPTIONAL", "OFF", "ESSENTIALS", True, "INACTIVE", "Delete"),
        ("prod", "ON", "ENFORCED", "PLUS", False, "ACTIVE", "Retain"),
    ],
)
def test_pool_protection_follows_the_environment(env, mfa, security, plan, self_sign_up, deletion, policy):
    properties = pool_properties(env)
    assert properties["MfaConfiguration"] == mfa
    assert properties["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert properties["UserPoolAddOns"] == {"AdvancedSecurityMode": security}
    assert properties["UserPoolTier"] == plan
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is not self_sign_up
    assert properties["DeletionProtection"] == deletion
    (pool,) = identity(env).find_resources(POOL).values()
    assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == (policy, policy)


def test_feature_plan_allows_access_token_customization_in_every_environment():
    for env in ("dev", "prod", "test"):
        assert pool_properties(env)["UserPoolTier"] in ("ESSENTIALS", "PLUS")


def test_groups_are_the_contract_roles_with_precedence(identity_template):
    groups = identity_template.find_resources("AWS::Cognito::UserPoolGroup")
    by_name = {group["Properties"]["GroupName"]: group["Properties"]["Precedence"] for group in groups.values()}
    assert by_name == {
        auth_contract.PLATFORM_OPERATOR: 0,
        auth_contract.ADMIN: 1,
        auth_contract.EDITOR: 10,
        auth_contract.VIEWER: 20,
    }


# ---------------------------------------------------------------- scopes


def test_resource_server_defines_every_api_scope(identity_template, test_env):
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPoolResourceServer",
        {
            "Identifier": test_env.config.identity.resource_server_identifier,
            "Scopes": [
                {"ScopeName": name, "ScopeDescription": description}
                for name, description in auth_contract.API_SCOPES.items()
            ],
        },
    )


# ---------------------------------------------------------------- app clients


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
def test_no_client_can_write_the_tenant_or_any_rights_bearing_attribute(env):
    for name, client in clients(env).items():
        writable = set(client["WriteAttributes"])
        assert not writable & RIGHTS_BEARING, f"{env} {name} may write {writable & RIGHTS_BEARING}"
        assert not any(attribute.startswith("custom:") for attribute in writable), (env, name, writable)
        assert writable <= set(auth_contract.WRITABLE_ATTRIBUTES), (env, name, writable)
        # Cognito rejects a client that cannot write a required attribute.
        assert "email" in writable, (env, name)


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
def test_no_client_hands_out_the_scope_that_lets_users_edit_their_own_attributes(env):
    for name, client in clients(env).items():
        assert "aws.cognito.signin.user.admin" not in scope_names(client), (env, name)


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
def test_every_client_revokes_tokens_hides_user_existence_and_lists_attributes(env):
    for name, client in clients(env).items():
        assert client["EnableTokenRevocation"] is True, name
        assert client["PreventUserExistenceErrors"] == "ENABLED", name
        assert "ReadAttributes" in client and "WriteAttributes" in client, name


def test_spa_client_is_public_with_code_grant_and_user_scopes(test_env):
    spa = clients("test")["SpaClient"]
    assert spa["GenerateSecret"] is False
    assert spa["AllowedOAuthFlows"] == ["code"]
    assert scope_names(spa) == ["openid", "email", "profile", *auth_contract.USER_SCOPES]
    assert spa["CallbackURLs"] == list(test_env.config.identity.callback_urls)
    assert spa["LogoutURLs"] == list(test_env.config.identity.logout_urls)


@pytest.mark.parametrize(
    ("env", "flows"),
    [
        ("dev", ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
        ("prod", ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
    ],
)
def test_spa_client_allows_password_auth_only_where_config_does(env, flows):
    assert clients(env)["SpaClient"]["ExplicitAuthFlows"] == flows


def test_https_only_callbacks_in_prod():
    spa = clients("prod")["SpaClient"]
    assert all(url.startswith("https://") for url in spa["CallbackURLs"] + spa["LogoutURLs"])


def test_alb_client_is_confidential_with_code_grant_openid_email_and_read_scope():
    alb = clients("test")["AlbClient"]
    assert alb["GenerateSecret"] is True
    assert alb["AllowedOAuthFlows"] == ["code"]
    assert scope_names(alb) == ["openid", "email", auth_contract.ITEMS_READ]
    assert alb["CallbackURLs"] == ["https://app.jwt-auth.test/oauth2/idpresponse"]
    assert alb["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]


def test_alb_client_exists_only_where_the_environment_has_a_web_domain():
    assert "AlbClient" not in clients("dev")
    assert "AlbClient" in clients("prod")


def test_platform_machine_client_has_a_secret_client_credentials_only_and_only_the_platform_scope():
    machine = clients("test")["MachineClient"]
    assert machine["GenerateSecret"] is True
    assert machine["AllowedOAuthFlows"] == ["client_credentials"]
    # Never a tenant route's scope: its tokens carry no tenant (tenants' clients are made at run time).
    assert scope_names(machine) == list(auth_contract.PLATFORM_MACHINE_SCOPES)
    assert not set(scope_names(machine)) & set(auth_contract.MACHINE_SCOPES + auth_contract.USER_SCOPES)
    assert machine["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    assert machine["ReadAttributes"] == [] and machine["WriteAttributes"] == ["email"]


@pytest.mark.parametrize(("env", "minutes", "refresh_days"), [("dev", 60, 30), ("prod", 15, 7), ("test", 15, 1)])
def test_token_lifetimes_come_from_config(env, minutes, refresh_days):
    for name, client in clients(env).items():
        assert client["AccessTokenValidity"] == minutes, name
        assert client["IdTokenValidity"] == minutes, name
        assert client["RefreshTokenValidity"] == refresh_days * 24 * 60, name
        assert client["TokenValidityUnits"] == {
            "AccessToken": "minutes",
            "IdToken": "minutes",
            "RefreshToken": "minutes",
        }


# ---------------------------------------------------------------- trigger


def test_pre_token_trigger_is_wired_as_version_3_for_client_credentials_tokens(identity_template):
    identity_template.has_resource_properties(
        POOL,
        {
            "LambdaConfig": {
                "PreTokenGenerationConfig": {
                    "LambdaArn": {"Fn::GetAtt": [Match.string_like_regexp("^PreTokenGeneration"), "Arn"]},
                    "LambdaVersion": "V3_0",
                }
            }
        },
    )
    identity_template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunction", "Principal": "cognito-idp.amazonaws.com"},
    )


def test_pre_token_function_is_arm64_python_with_json_logs_and_the_resource_server(identity_template, test_env):
    identity_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "pre_token_generation.handler.lambda_handler",
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "RESOURCE_SERVER_IDENTIFIER": test_env.config.identity.resource_server_identifier,
                        "TENANTS_TABLE": {"Ref": Match.string_like_regexp("^TenantsTable")},
                    }
                )
            },
        },
    )


def test_pre_token_function_roles_default_policy_may_only_write_its_own_logs(identity_template):
    """Its lookups are in a policy of their own (test_the_trigger_may_describe_this_pools_clients_...)."""
    policies = identity_template.find_resources("AWS::IAM::Policy")
    (policy,) = (p for logical_id, p in policies.items() if "PreTokenGenerationLookups" not in logical_id)
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == {"Fn::GetAtt": [Match.any_value(), "Arn"]} or "Fn::GetAtt" in statement["Resource"]
    identity_template.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    for role in identity_template.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


# ---------------------------------------------------------------- domain and federation


def test_domain_prefix_is_unique_per_account_and_uses_managed_login(identity_template):
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPoolDomain",
        {"Domain": {"Fn::Join": ["", ["jwt-auth-test-", {"Ref": "AWS::AccountId"}]]}, "ManagedLoginVersion": 2},
    )
    identity_template.resource_count_is("AWS::Cognito::ManagedLoginBranding", 2)


def test_federated_identity_providers_are_off_by_default_and_on_in_the_test_config():
    assert identity("dev").find_resources("AWS::Cognito::UserPoolIdentityProvider") == {}
    providers = identity("test").find_resources("AWS::Cognito::UserPoolIdentityProvider")
    assert sorted(p["Properties"]["ProviderType"] for p in providers.values()) == ["Facebook", "Google", "OIDC"]


def test_federated_providers_map_email_and_tenant_and_read_secrets_from_secrets_manager(identity_template):
    providers = identity_template.find_resources("AWS::Cognito::UserPoolIdentityProvider")
    for provider in providers.values():
        properties = provider["Properties"]
        assert "email" in properties["AttributeMapping"]
        secret = properties["ProviderDetails"]["client_secret"]
        assert "{{resolve:secretsmanager:jwt-auth/test/" in str(secret), "client secret must come from Secrets Manager"
    mappings = {p["Properties"]["ProviderType"]: p["Properties"]["AttributeMapping"] for p in providers.values()}
    # Only email: every mapped attribute must be client-writable, so none may grant rights.
    assert mappings == {"OIDC": {"email": "email"}, "Google": {"email": "email"}, "Facebook": {"email": "email"}}


def trigger_function(template: Template) -> tuple[str, dict]:
    return next(
        (logical_id, f)
        for logical_id, f in template.find_resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"].startswith("pre_token_generation.")
    )


def test_only_an_enterprise_oidc_provider_maps_its_users_to_a_tenant(identity_template):
    """Google and Facebook never put a user into a tenant (issue #13.5): strangers would share it."""
    _, trigger = trigger_function(identity_template)
    tenants = json.loads(trigger["Properties"]["Environment"]["Variables"]["FEDERATED_TENANTS"])
    assert tenants == {"Okta": "okta-tenant"}


def test_the_trigger_reads_the_tenants_table_named_in_its_environment(identity_template):
    _, trigger = trigger_function(identity_template)
    (table_id,) = (
        logical_id
        for logical_id in identity_template.find_resources("AWS::DynamoDB::Table")
        if logical_id.startswith("TenantsTable")
    )
    assert trigger["Properties"]["Environment"]["Variables"]["TENANTS_TABLE"] == {"Ref": table_id}


def test_the_trigger_may_describe_this_pools_clients_and_read_the_tenants_table_only(identity_template):
    """Exact actions on exact resources, in a policy the function does not depend on (no cycle)."""
    trigger_id, trigger = trigger_function(identity_template)
    (pool_id,) = identity_template.find_resources(POOL)
    (table_id,) = (
        logical_id
        for logical_id in identity_template.find_resources("AWS::DynamoDB::Table")
        if logical_id.startswith("TenantsTable")
    )
    role_id = trigger["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = {
        logical_id: policy
        for logical_id, policy in identity_template.find_resources("AWS::IAM::Policy").items()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    }
    lookups = {logical_id: p for logical_id, p in policies.items() if "PreTokenGenerationLookups" in logical_id}
    ((lookups_id, lookups),) = lookups.items()
    assert lookups["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "cognito-idp:DescribeUserPoolClient",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [pool_id, "Arn"]},
        },
        {"Action": "dynamodb:GetItem", "Effect": "Allow", "Resource": {"Fn::GetAtt": [table_id, "Arn"]}},
    ]
    # Nothing else the role holds reaches Cognito or DynamoDB.
    for logical_id, policy in policies.items():
        if logical_id != lookups_id:
            actions = json.dumps(policy["Properties"]["PolicyDocument"])
            assert "cognito-idp:" not in actions and "dynamodb:" not in actions
    assert lookups_id not in json.dumps(identity_template.to_json()["Resources"][trigger_id].get("DependsOn", []))


def test_the_pool_has_no_mutable_custom_attribute_that_could_carry_rights(identity_template):
    (pool,) = identity_template.find_resources(POOL).values()
    custom = [a for a in pool["Properties"]["Schema"] if "AttributeDataType" in a]
    assert custom == [
        {
            "AttributeDataType": "String",
            "Mutable": False,
            "Name": auth_contract.TENANT_ATTRIBUTE,
            "StringAttributeConstraints": {"MaxLength": "64", "MinLength": "1"},
        }
    ]


def test_identity_stack_outputs_everything_a_client_needs(identity_template):
    outputs = identity_template.find_outputs("*")
    assert {
        "UserPoolId",
        "IssuerUrl",
        "JwksUrl",
        "SpaClientId",
        "AlbClientId",
        "MachineClientId",
        "ManagedLoginUrl",
        "ResourceServerIdentifier",
    } <= set(outputs)


def test_custom_domain_with_its_certificate_replaces_the_prefix_domain_when_configured(test_env):
    config = test_env.config
    certificate = "arn:aws:acm:us-east-1:111111111111:certificate/11111111-1111-4111-8111-111111111111"
    config = dataclasses.replace(
        config,
        identity=dataclasses.replace(
            config.identity, custom_domain=CustomDomainConfig("login.jwt-auth.test", certificate)
        ),
    )
    app = cdk.App()
    stack = IdentityStack(app, "Identity", config=config, env=cdk.Environment(region=config.region))
    Template.from_stack(stack).has_resource_properties(
        "AWS::Cognito::UserPoolDomain",
        {"Domain": "login.jwt-auth.test", "CustomDomainConfig": {"CertificateArn": certificate}},
    )
