"""Identity stack: the Cognito user pool that issues every token, its roles, scopes and clients.

Stateful: the user pool's logical ID (`UserPool6BA7E5F2`) is part of the contract, guarded by
tests/test_logical_ids.py. Never rename or move the `UserPool` construct.
"""

from __future__ import annotations

import json
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

import auth_contract
from stacks.config import EmailConfig, EnvConfig, OidcProviderConfig
from stacks.nag import acknowledge
from stacks.policies import data_removal_policy, log_retention
from stacks.python_function import PythonFunction
from stacks.tenancy_tables import TenancyTables

MFA = {"OFF": cognito.Mfa.OFF, "OPTIONAL": cognito.Mfa.OPTIONAL, "REQUIRED": cognito.Mfa.REQUIRED}
THREAT_PROTECTION = {
    "OFF": cognito.StandardThreatProtectionMode.NO_ENFORCEMENT,
    "AUDIT": cognito.StandardThreatProtectionMode.AUDIT_ONLY,
    "ENFORCED": cognito.StandardThreatProtectionMode.FULL_FUNCTION,
}
FEATURE_PLAN = {"ESSENTIALS": cognito.FeaturePlan.ESSENTIALS, "PLUS": cognito.FeaturePlan.PLUS}
PRE_TOKEN_COGNITO_ACTIONS = ("cognito-idp:DescribeUserPoolClient",)
# One item per lookup: a user's tenant and its status, a machine client's tenant (machine.py).
PRE_TOKEN_TABLE_ACTIONS = ("dynamodb:GetItem",)


class IdentityStack(cdk.Stack):
    """User pool, groups as roles, resource server and scopes, app clients, domain, pre-token trigger."""

    def __init__(self, scope: Construct, id_: str, *, config: EnvConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.config = config
        identity = config.identity

        tables = TenancyTables(self, config=config)
        self.tenants_table = tables.tenants_table
        self.revocation_table = tables.revocation_table

        self.pre_token_function = PythonFunction(
            self,
            "PreTokenGeneration",
            source="pre_token_generation",
            description="Adds tenant_id and roles to ID and access tokens, API scopes from the user's groups, "
            "and a machine client's tenant to its tokens",
            log_retention=log_retention(config),
            # Logs outlive a deleted prod stack (RETAIN where the environment keeps data).
            removal_policy=data_removal_policy(config),
            environment={
                "RESOURCE_SERVER_IDENTIFIER": identity.resource_server_identifier,
                # Only enterprise OIDC providers run for exactly one tenant map their users to it;
                # social and self-sign-up users wait for a tenant admin to link them.
                "FEDERATED_TENANTS": json.dumps(identity.federation.tenants_by_provider, sort_keys=True),
                # Suspended tenants get no tokens; linked users' tenants and machine clients' tenants live here.
                "TENANTS_TABLE": self.tenants_table.table_name,
            },
            memory_size=256,
            timeout_seconds=5,
        )

        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            self_sign_up_enabled=identity.self_sign_up,
            user_verification=cognito.UserVerificationConfig(email_style=cognito.VerificationEmailStyle.CODE),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True),
            ),
            custom_attributes={
                auth_contract.TENANT_ATTRIBUTE: cognito.StringAttribute(
                    min_len=1, max_len=auth_contract.TENANT_ID_MAX_LENGTH, mutable=False
                ),
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(1),
            ),
            mfa=MFA[identity.mfa],
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False, email=False),
            feature_plan=FEATURE_PLAN[identity.feature_plan],
            standard_threat_protection_mode=THREAT_PROTECTION[identity.threat_protection],
            deletion_protection=config.retain_data,
            removal_policy=data_removal_policy(config),
        )
        if identity.email is not None:
            self._send_email_through_ses(identity.email)
        self.user_pool.add_trigger(
            cognito.UserPoolOperation.PRE_TOKEN_GENERATION_CONFIG,
            self.pre_token_function.function,
            # V3_0: the trigger also runs for client-credentials tokens (a machine client's tenant);
            # it needs the Essentials or Plus feature plan, which config validation requires.
            cognito.LambdaVersion.V3_0,
        )
        self.pre_token_lookups = self._pre_token_lookups()
        self._acknowledge_pool_findings()

        self.groups = {
            group.name: cognito.UserPoolGroup(
                self,
                f"Group{group.name.title()}",
                user_pool=self.user_pool,
                group_name=group.name,
                precedence=group.precedence,
                description=group.description or None,
            )
            for group in identity.groups
        }

        self.scopes = {
            name: cognito.ResourceServerScope(scope_name=name, scope_description=description)
            for name, description in auth_contract.API_SCOPES.items()
        }
        self.resource_server = self.user_pool.add_resource_server(
            "ApiResourceServer",
            identifier=identity.resource_server_identifier,
            user_pool_resource_server_name=f"{config.stage_name}-api",
            scopes=list(self.scopes.values()),
        )

        self.identity_providers = self._federated_identity_providers()
        supported = [cognito.UserPoolClientIdentityProvider.COGNITO] + [
            cognito.UserPoolClientIdentityProvider.custom(provider.provider_name)
            for provider in self.identity_providers
        ]

        # Clients may read the tenant but never write it, nor anything else that grants rights.
        # Every client must be able to write the required attribute (email) and what the
        # identity providers map (email only): Cognito rejects a client that cannot.
        read_attributes = (
            cognito.ClientAttributes()
            .with_standard_attributes(
                email=True,
                email_verified=True,
                fullname=True,
                given_name=True,
                family_name=True,
                locale=True,
                timezone=True,
            )
            .with_custom_attributes(auth_contract.TENANT_ATTRIBUTE)
        )
        write_attributes = cognito.ClientAttributes().with_standard_attributes(
            email=True, fullname=True, given_name=True, family_name=True, locale=True, timezone=True
        )
        common: dict[str, Any] = {
            "enable_token_revocation": True,
            "prevent_user_existence_errors": True,
            "access_token_validity": Duration.minutes(identity.access_token_minutes),
            "id_token_validity": Duration.minutes(identity.id_token_minutes),
            "refresh_token_validity": Duration.days(identity.refresh_token_days),
            "auth_session_validity": Duration.minutes(3),
            "read_attributes": read_attributes,
            "write_attributes": write_attributes,
        }
        scope_of = {
            name: cognito.OAuthScope.resource_server(self.resource_server, scope) for name, scope in self.scopes.items()
        }

        self.spa_client = self.user_pool.add_client(
            "SpaClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=identity.allow_password_auth),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE]
                + [scope_of[name] for name in auth_contract.USER_SCOPES],
                callback_urls=list(identity.callback_urls),
                logout_urls=list(identity.logout_urls),
            ),
            supported_identity_providers=supported,
            **common,
        )

        self.alb_client: cognito.UserPoolClient | None = None
        if config.web is not None:
            self.alb_client = self.user_pool.add_client(
                "AlbClient",
                generate_secret=True,
                auth_flows=cognito.AuthFlow(),
                o_auth=cognito.OAuthSettings(
                    flows=cognito.OAuthFlows(authorization_code_grant=True),
                    scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, scope_of[auth_contract.ITEMS_READ]],
                    callback_urls=[f"https://{config.web.domain_name}/oauth2/idpresponse"],
                    logout_urls=[f"https://{config.web.domain_name}/"],
                ),
                supported_identity_providers=supported,
                **common,
            )

        # The platform's own machine client (the web app's /m2m/ paths): in no tenant, so its tokens
        # carry no tenant_id, and its only scope is one no tenant route accepts. Tenants' machine
        # clients are made at run time (lambdas/machine_clients) and get their tenant in every token.
        self.machine_client = self.user_pool.add_client(
            "MachineClient",
            generate_secret=True,
            auth_flows=cognito.AuthFlow(),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(client_credentials=True),
                scopes=[scope_of[name] for name in auth_contract.PLATFORM_MACHINE_SCOPES],
            ),
            # No user signs in through it: no federated providers (CDK's default lists every one).
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            **{
                **common,
                "read_attributes": cognito.ClientAttributes(),
                "write_attributes": cognito.ClientAttributes().with_standard_attributes(email=True),
            },
        )
        for client in self.clients:
            # No user sign-in flow for clients that sign in through OAuth only; Cognito needs
            # refresh allowed whenever the list is set.
            if client is not self.spa_client:
                cast(cognito.CfnUserPoolClient, client.node.default_child).add_property_override(
                    "ExplicitAuthFlows", ["ALLOW_REFRESH_TOKEN_AUTH"]
                )
            for provider in self.identity_providers:
                client.node.add_dependency(provider)

        self.domain = self._domain()

        self._outputs()

    # ------------------------------------------------------------------ parts

    @property
    def clients(self) -> list[cognito.UserPoolClient]:
        return [client for client in (self.spa_client, self.alb_client, self.machine_client) if client is not None]

    @property
    def user_clients(self) -> list[cognito.UserPoolClient]:
        """Clients that act for a signed-in user (the SPA/CLI and the ALB)."""
        return [client for client in (self.spa_client, self.alb_client) if client is not None]

    @property
    def issuer_url(self) -> str:
        return self.user_pool.user_pool_provider_url

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer_url}/.well-known/jwks.json"

    @property
    def managed_login_url(self) -> str:
        return self.domain.base_url()

    def _domain(self) -> cognito.UserPoolDomain:
        identity = self.config.identity
        if identity.custom_domain is not None:
            domain = self.user_pool.add_domain(
                "Domain",
                custom_domain=cognito.CustomDomainOptions(
                    domain_name=identity.custom_domain.domain_name,
                    certificate=acm.Certificate.from_certificate_arn(
                        self, "DomainCertificate", identity.custom_domain.certificate_arn
                    ),
                ),
                managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
            )
        else:
            # The account id makes the prefix unique per account and environment.
            domain = self.user_pool.add_domain(
                "Domain",
                cognito_domain=cognito.CognitoDomainOptions(
                    domain_prefix=f"{identity.domain_prefix}-{cdk.Aws.ACCOUNT_ID}"
                ),
                managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
            )
        # Managed login needs a style for each client that signs users in.
        for client in self.user_clients:
            cognito.CfnManagedLoginBranding(
                self,
                f"{client.node.id}Branding",
                user_pool_id=self.user_pool.user_pool_id,
                client_id=client.user_pool_client_id,
                use_cognito_provided_values=True,
            ).node.add_dependency(domain)
        return domain

    def _send_email_through_ses(self, email: EmailConfig) -> None:
        """Cognito sends verification and recovery mail from the configured SES identity
        (`EmailSendingAccount: DEVELOPER`, "Email settings for Amazon Cognito user pools"). Set on the
        L1 resource: the ARN comes from config as is, even where the identity is in another account."""
        pool = cast(cognito.CfnUserPool, self.user_pool.node.default_child)
        pool.email_configuration = cognito.CfnUserPool.EmailConfigurationProperty(
            email_sending_account="DEVELOPER",
            source_arn=email.ses_identity_arn,
            from_=email.sender,
            reply_to_email_address=email.reply_to,
            configuration_set=email.configuration_set,
        )

    def _federated_identity_providers(self) -> list[cognito.IUserPoolIdentityProvider]:
        federation = self.config.identity.federation
        providers: list[cognito.IUserPoolIdentityProvider] = []
        email = cognito.ProviderAttribute

        # Only email is mapped: a mapped attribute must be writable by the client, so nothing that
        # grants rights can come through a mapping. A federated user's tenant is the one an
        # enterprise OIDC provider is configured for (tenants_by_provider, applied by the pre-token
        # trigger), or the one a tenant admin links them to; Google and Facebook never map to one.
        oidc: OidcProviderConfig
        for oidc in federation.oidc:
            providers.append(
                cognito.UserPoolIdentityProviderOidc(
                    self,
                    f"Oidc{oidc.name}",
                    user_pool=self.user_pool,
                    name=oidc.name,
                    client_id=oidc.client_id,
                    client_secret=cdk.SecretValue.secrets_manager(oidc.client_secret_name).unsafe_unwrap(),
                    issuer_url=oidc.issuer_url,
                    scopes=list(oidc.scopes),
                    attribute_request_method=cognito.OidcAttributeRequestMethod.GET,
                    attribute_mapping=cognito.AttributeMapping(email=email.other("email")),
                )
            )
        if federation.google is not None:
            providers.append(
                cognito.UserPoolIdentityProviderGoogle(
                    self,
                    "Google",
                    user_pool=self.user_pool,
                    client_id=federation.google.client_id,
                    client_secret_value=cdk.SecretValue.secrets_manager(federation.google.client_secret_name),
                    scopes=["openid", "email", "profile"],
                    attribute_mapping=cognito.AttributeMapping(email=email.GOOGLE_EMAIL),
                )
            )
        if federation.facebook is not None:
            providers.append(
                cognito.UserPoolIdentityProviderFacebook(
                    self,
                    "Facebook",
                    user_pool=self.user_pool,
                    client_id=federation.facebook.client_id,
                    client_secret=cdk.SecretValue.secrets_manager(
                        federation.facebook.client_secret_name
                    ).unsafe_unwrap(),
                    scopes=["public_profile", "email"],
                    attribute_mapping=cognito.AttributeMapping(email=email.FACEBOOK_EMAIL),
                )
            )
        return providers

    def _pre_token_lookups(self) -> iam.Policy:
        """What the trigger reads at every sign-in: the calling client's allowed OAuth scopes
        (DescribeUserPoolClient on this pool) and tenants (GetItem on the tenants table).

        A policy of its own, not the role's default policy: the function depends on its default
        policy, the pool depends on the function (its trigger), and this statement names the pool,
        so in the default policy it would close a cycle (pool → function → policy → pool).
        """
        return iam.Policy(
            self,
            "PreTokenGenerationLookups",
            roles=[self.pre_token_function.role],
            statements=[
                iam.PolicyStatement(actions=list(PRE_TOKEN_COGNITO_ACTIONS), resources=[self.user_pool.user_pool_arn]),
                iam.PolicyStatement(actions=list(PRE_TOKEN_TABLE_ACTIONS), resources=[self.tenants_table.table_arn]),
            ],
        )

    def _acknowledge_pool_findings(self) -> None:
        if self.config.identity.feature_plan != "PLUS":
            acknowledge(
                self.user_pool,
                "AwsSolutions-COG8",
                f"the {self.config.name} environment uses the {self.config.identity.feature_plan} feature plan by config "
                "(environments.*.identity.feature_plan): it allows access-token customization; "
                "threat protection needs PLUS, which prod sets",
            )
        if self.config.identity.mfa != "REQUIRED":
            acknowledge(
                self.user_pool,
                "AwsSolutions-COG2",
                f"MFA is {self.config.identity.mfa} in the {self.config.name} environment by config "
                "(environments.*.identity.mfa); production environments must set REQUIRED (enforced by config validation)",
            )
        if self.config.identity.threat_protection != "ENFORCED":
            acknowledge(
                self.user_pool,
                "AwsSolutions-COG3",
                f"threat protection is {self.config.identity.threat_protection} in the {self.config.name} environment: "
                "it needs the Plus feature plan, which this environment does not pay for "
                "(environments.*.identity.threat_protection / feature_plan)",
            )

    def _outputs(self) -> None:
        outputs = {
            "UserPoolId": (self.user_pool.user_pool_id, "Cognito user pool id"),
            "IssuerUrl": (self.issuer_url, "Token issuer (the iss claim)"),
            "JwksUrl": (self.jwks_url, "Public keys that sign the pool's tokens"),
            "SpaClientId": (
                self.spa_client.user_pool_client_id,
                "Public client for the SPA and CLI (code + PKCE, SRP)",
            ),
            "MachineClientId": (
                self.machine_client.user_pool_client_id,
                "The platform's own client-credentials client, in no tenant (secret in the Cognito console/API)",
            ),
            "ManagedLoginUrl": (self.managed_login_url, "Managed login (hosted UI) base URL"),
            "ResourceServerIdentifier": (self.config.identity.resource_server_identifier, "Prefix of the API scopes"),
            "TenantsTableName": (
                self.tenants_table.table_name,
                "Tenants and their members (DynamoDB); change them through the tenant routes",
            ),
        }
        if self.alb_client is not None:
            outputs["AlbClientId"] = (self.alb_client.user_pool_client_id, "Confidential client used by the ALB")
        for name, (value, description) in outputs.items():
            cdk.CfnOutput(self, name, value=value, description=description)
