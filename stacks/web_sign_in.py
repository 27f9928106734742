"""How the ALB signs people and machines in: the listener actions, and what the app must expect.

Users: `authenticate-cognito` with the identity stack's pool, ALB client and domain, or
`authenticate-oidc` with any OIDC provider from config (client secret from Secrets Manager,
resolved by CloudFormation, never in the template). Scopes include the API's read scope so the
access token the ALB forwards can be relayed to the HTTP API. Machines: the ALB's JWT validation
against the pool's issuer and JWKS, narrowed to the machine client's access tokens.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_actions as elbv2_actions

import auth_contract
from stacks.config import EnvConfig, OidcWebProviderConfig
from stacks.identity_stack import IdentityStack

USER_SCOPES = ("openid", "email")


class WebSignIn:
    """Builds the listener's authentication actions for one environment."""

    def __init__(self, *, config: EnvConfig, identity: IdentityStack) -> None:
        if config.web is None:
            raise ValueError("the web sign-in needs config.web")
        self.config = config
        self.web = config.web
        self.identity = identity
        if self.web.auth_provider == "cognito" and identity.alb_client is None:
            raise ValueError("the identity stack has no ALB client: it is created only when config.web is set")

    @property
    def _oidc(self) -> OidcWebProviderConfig:
        """The OIDC provider's settings, which config requires unless the provider is Cognito."""
        if self.web.oidc is None:
            raise ValueError("the web sign-in needs config.web.oidc when web.auth_provider is not cognito")
        return self.web.oidc

    @property
    def _alb_client(self) -> cognito.UserPoolClient:
        """The identity stack's ALB client (__init__ checked it exists when the provider is Cognito)."""
        if self.identity.alb_client is None:
            raise ValueError("the identity stack has no ALB client: it is created only when config.web is set")
        return self.identity.alb_client

    @property
    def scope(self) -> str:
        """What the ALB asks the IdP for. For Cognito: the API's read scope too (token relay)."""
        if self.web.auth_provider == "cognito":
            return " ".join((*USER_SCOPES, self.config.qualified_scope(auth_contract.ITEMS_READ)))
        return " ".join(USER_SCOPES)

    @property
    def issuer(self) -> str:
        """The `iss` the ALB writes into x-amzn-oidc-data: the IdP's issuer."""
        if self.web.auth_provider == "cognito":
            return self.identity.issuer_url
        return self._oidc.issuer

    @property
    def client_id(self) -> str:
        """The `client` the ALB writes into x-amzn-oidc-data."""
        if self.web.auth_provider == "cognito":
            return self._alb_client.user_pool_client_id
        return self._oidc.client_id

    @property
    def logout_url(self) -> str | None:
        """Where /logout sends the browser after expiring the ALB session cookie (None: nowhere)."""
        back = quote(f"https://{self.web.domain_name}/", safe="")
        if self.web.auth_provider == "cognito":
            return f"{self.identity.domain.base_url()}/logout?client_id={self.client_id}&logout_uri={back}"
        if self._oidc.end_session_endpoint is None:
            return None
        return f"{self._oidc.end_session_endpoint}?client_id={quote(self.client_id, safe='')}&post_logout_redirect_uri={back}"

    def authenticate(
        self,
        next_action: elbv2.ListenerAction,
        *,
        on_unauthenticated: elbv2.UnauthenticatedAction = elbv2.UnauthenticatedAction.AUTHENTICATE,
    ) -> elbv2.ListenerAction:
        """Sign the user in (or, with DENY, answer 401), then `next_action`."""
        common: dict[str, Any] = {
            "next": next_action,
            "scope": self.scope,
            "session_cookie_name": self.web.session_cookie_name,
            "session_timeout": Duration.minutes(self.web.session_timeout_minutes),
            "on_unauthenticated_request": on_unauthenticated,
            # The load balancer's security group opens 443 to the IdP itself, once and explained.
            "allow_https_outbound": False,
        }
        if self.web.auth_provider == "cognito":
            return elbv2_actions.AuthenticateCognitoAction(
                user_pool=self.identity.user_pool,
                user_pool_client=self._alb_client,
                user_pool_domain=self.identity.domain,
                **common,
            )
        oidc = self._oidc
        return elbv2.ListenerAction.authenticate_oidc(
            issuer=oidc.issuer,
            authorization_endpoint=oidc.authorization_endpoint,
            token_endpoint=oidc.token_endpoint,
            user_info_endpoint=oidc.user_info_endpoint,
            client_id=oidc.client_id,
            client_secret=cdk.SecretValue.secrets_manager(oidc.client_secret_name),
            **common,
        )

    def validate_machine_token(self, next_action: elbv2.ListenerAction) -> elbv2.ListenerAction:
        """The ALB's JWT validation (signature, iss, exp, nbf/iat) against the user pool."""
        return elbv2.ListenerAction.authenticate_jwt(
            issuer=self.identity.issuer_url, jwks_endpoint=self.identity.jwks_url, next=next_action
        )

    def machine_claims(self) -> list[dict[str, Any]]:
        """Claims the JWT validation also requires: the machine client's access tokens only."""
        return [
            {
                "Format": "single-string",
                "Name": "client_id",
                "Values": [self.identity.machine_client.user_pool_client_id],
            },
            {"Format": "single-string", "Name": "token_use", "Values": ["access"]},
        ]

    @property
    def machine_scope(self) -> str:
        return self.config.qualified_scope(auth_contract.PLATFORM_MACHINE_SCOPE)
