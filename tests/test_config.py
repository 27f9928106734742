"""Environment config: every environment in cdk.json loads, and bad values stop synth with a
message that names the key and what is allowed."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from stacks.config import ConfigError, load_config, parse_env_config

CONTEXT = json.loads((Path(__file__).resolve().parent.parent / "cdk.json").read_text())["context"]


class Context:
    def __init__(self, **values):
        self.values = {**CONTEXT, **values}

    def try_get_context(self, key):
        return self.values.get(key)


def raw(env: str) -> dict:
    return copy.deepcopy(CONTEXT["environments"][env])


def error_for(env: str, change) -> str:
    values = raw(env)
    change(values)
    with pytest.raises(ConfigError) as caught:
        parse_env_config("jwt-auth", env, values)
    return str(caught.value)


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
def test_every_environment_in_cdk_json_is_valid(env):
    config = load_config(Context(env=env))
    assert config.name == env
    assert config.stage_name == f"jwt-auth-{env}"


def test_default_environment_is_dev():
    assert load_config(Context()).name == "dev"


def test_unknown_environment_names_the_allowed_ones():
    with pytest.raises(
        ConfigError, match=r"env='staging' is not a known environment: allowed values are dev, prod, test"
    ):
        load_config(Context(env="staging"))


def test_environments_differ_in_data_not_code():
    dev, prod = load_config(Context(env="dev")), load_config(Context(env="prod"))
    assert (dev.removal_policy, prod.removal_policy) == ("destroy", "retain")
    assert not dev.retain_data and prod.retain_data
    assert (dev.identity.mfa, prod.identity.mfa) == ("OPTIONAL", "REQUIRED")
    assert prod.identity.access_token_minutes <= 60 < dev.identity.access_token_minutes + 1
    assert prod.log_retention_days > dev.log_retention_days


@pytest.mark.parametrize(
    ("env", "change", "message"),
    [
        (
            "prod",
            lambda c: c["identity"].update(callback_urls=["http://app.example.com/callback"]),
            "environments.prod.identity.callback_urls[0]='http://app.example.com/callback' is not allowed: https:// URLs",
        ),
        (
            "dev",
            lambda c: c["identity"].update(callback_urls=["http://evil.example.com/callback"]),
            "environments.dev.identity.callback_urls[0]='http://evil.example.com/callback' is not allowed: "
            "https:// URLs, or http://localhost URLs outside production",
        ),
        (
            "dev",
            lambda c: c["identity"].update(access_token_minutes=2),
            "environments.dev.identity.access_token_minutes=2 is not allowed: a whole number from 5 to 1440",
        ),
        (
            "dev",
            lambda c: c["identity"].update(refresh_token_days=5000),
            "environments.dev.identity.refresh_token_days=5000 is not allowed: a whole number from 1 to 3650",
        ),
        (
            "prod",
            lambda c: c["identity"].update(access_token_minutes=240),
            "environments.prod.identity.access_token_minutes=240 is not allowed: at most 60 in a production environment",
        ),
        (
            "dev",
            lambda c: c["identity"].update(mfa="SOMETIMES"),
            "environments.dev.identity.mfa='SOMETIMES' is not allowed: one of OFF, OPTIONAL, REQUIRED",
        ),
        (
            "prod",
            lambda c: c["identity"].update(mfa="OPTIONAL"),
            "environments.prod.identity.mfa='OPTIONAL' is not allowed: REQUIRED in a production environment",
        ),
        (
            "prod",
            lambda c: c["identity"].update(allow_password_auth=True),
            "environments.prod.identity.allow_password_auth=True is not allowed: false in a production environment",
        ),
        (
            "prod",
            lambda c: c.update(removal_policy="destroy"),
            "environments.prod.removal_policy='destroy' is not allowed: retain in a production environment",
        ),
        (
            "dev",
            lambda c: c.update(removal_policy="snapshot"),
            "environments.dev.removal_policy='snapshot' is not allowed: one of destroy, retain",
        ),
        (
            "dev",
            lambda c: c.update(log_retention_days=10),
            "environments.dev.log_retention_days=10 is not allowed: one of 1, 3, 5, 7, 14, 30",
        ),
        (
            "dev",
            lambda c: c.update(availability_zones=["us-east-1a", "us-east-1b"]),
            "environments.dev.availability_zones[0]='us-east-1a' is not allowed: a zone of eu-west-1",
        ),
        (
            "dev",
            lambda c: c.update(region="Europe"),
            "environments.dev.region='Europe' is not allowed: an AWS region code such as eu-west-1",
        ),
        (
            "dev",
            lambda c: c["identity"].update(threat_protection="ENFORCED"),
            "environments.dev.identity.threat_protection='ENFORCED' is not allowed: OFF unless feature_plan is PLUS",
        ),
        (
            "dev",
            lambda c: c["identity"].update(domain_prefix="my-cognito-login"),
            "environments.dev.identity.domain_prefix='my-cognito-login' is not allowed: a prefix without the reserved word 'cognito'",
        ),
        (
            "dev",
            lambda c: c["identity"].update(groups=[{"name": "superuser", "precedence": 1}]),
            "environments.dev.identity.groups[0].name='superuser' is not allowed: "
            "one of viewer, editor, admin, platform_operator",
        ),
        (
            "dev",
            lambda c: c["identity"].update(
                groups=[{"name": role, "precedence": 5, "description": role} for role in ("viewer", "editor", "admin")]
            ),
            "environments.dev.identity.groups: every role needs a group; missing platform_operator",
        ),
        (
            "dev",
            lambda c: c["api"].update(cors_origins=["*"]),
            "environments.dev.api.cors_origins[0]='*' is not allowed",
        ),
        (
            "dev",
            lambda c: c["identity"].update(mfa_mode="OFF"),
            "environments.dev.identity.mfa_mode: unknown key; allowed keys are",
        ),
        (
            "dev",
            lambda c: c["identity"].pop("self_sign_up"),
            "environments.dev.identity.self_sign_up: required, but not set",
        ),
        (
            "test",
            lambda c: c["web"].pop("certificate_arn"),
            "environments.test.web: HTTPS needs a certificate: set environments.test.web.certificate_arn, "
            "or environments.test.web.hosted_zone_id and environments.test.web.hosted_zone_name",
        ),
        (
            "test",
            lambda c: c["web"].update(container_memory_mib=4096),
            "environments.test.web.container_memory_mib=4096 is not allowed: with 256 CPU units, one of 512, 1024, 2048",
        ),
        (
            "prod",
            lambda c: c["web"].update(nat_gateways=1),
            "environments.prod.web.nat_gateways=1 is not allowed: 2 (one per availability zone) in a production environment",
        ),
        (
            "test",
            lambda c: c["identity"]["federation"]["google"].update(tenant_id="google-users"),
            "environments.test.identity.federation.google.tenant_id: not allowed: a social provider never maps "
            "its users to a tenant",
        ),
        (
            "test",
            lambda c: c["identity"]["federation"]["facebook"].update(tenant_id="facebook-users"),
            "environments.test.identity.federation.facebook.tenant_id: not allowed",
        ),
        (
            "test",
            lambda c: c["identity"]["federation"]["oidc"][0].update(tenant_id="acme/../globex"),
            "environments.test.identity.federation.oidc[0].tenant_id='acme/../globex' is not allowed: 1 to 64 ASCII letters, digits, '_' or '-'",
        ),
        (
            "test",
            lambda c: c["identity"]["federation"]["oidc"][0].update(client_secret_name="s3cr3t value!"),
            "environments.test.identity.federation.oidc[0].client_secret_name='s3cr3t value!' is not allowed: "
            "the name of a Secrets Manager secret",
        ),
    ],
)
def test_bad_value_is_rejected_with_key_and_allowed_values(env, change, message):
    assert message in error_for(env, change)


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
def test_a_feature_plan_without_the_v3_trigger_is_refused_naming_the_key_and_the_plans(env):
    message = error_for(env, lambda c: c["identity"].update(feature_plan="LITE"))
    assert f"environments.{env}.identity.feature_plan='LITE' is not allowed: one of ESSENTIALS, PLUS" in message
    assert "V3_0" in message
