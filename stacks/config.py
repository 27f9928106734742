"""Typed, validated configuration of one environment, read from cdk.json context.

`load_config(app)` picks the environment named by `-c env=NAME` (default `dev`) from the
`environments` context and turns it into frozen dataclasses. Every value is checked here,
at synth: a bad one raises `ConfigError` naming the key and what is allowed, before any
construct is created. Differences between environments live in this data, never in
`if env == "prod"` branches inside stacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import auth_contract

ENV_CONTEXT_KEY = "env"
DEFAULT_ENV = "dev"

# Cognito's limits for app client token validity.
ACCESS_TOKEN_MINUTES = (5, 24 * 60)
REFRESH_TOKEN_DAYS = (1, 3650)
# Production environments keep access and ID tokens short-lived.
PRODUCTION_MAX_TOKEN_MINUTES = 60

# The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
DOMAIN_PREFIX_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
DOMAIN_NAME_PATTERN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
ACM_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
HOSTED_ZONE_ID_PATTERN = re.compile(r"^Z[A-Z0-9]{1,31}$")
SECRET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
RESOURCE_SERVER_PATTERN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,256}$")
GROUP_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{1,128}$")
# \Z, not $: the reader uses match(), and $ would let "acme\n" through.
TENANT_ID_PATTERN = re.compile(rf"\A{auth_contract.TENANT_ID_PATTERN}\Z")
IDP_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{3,32}$")
CIDR_PATTERN = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")
LOCALHOST_URL_PATTERN = re.compile(r"^http://(localhost|127\.0\.0\.1)(:\d{1,5})?(/.*)?$")
HTTPS_URL_PATTERN = re.compile(r"^https://[^\s/$.?#][^\s]*$")
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$")
SES_IDENTITY_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:ses:(?P<region>[a-z0-9-]+):\d{12}:identity/(?P<identity>[^\s/]+)\Z"
)
SES_CONFIGURATION_SET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
# Where a user pool may send through SES in another region than its own (CDK's UserPoolSESOptions;
# Cognito's full rule: "Email settings for Amazon Cognito user pools" in the Cognito Developer Guide).
SES_ALTERNATE_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")

MFA_MODES = ("OFF", "OPTIONAL", "REQUIRED")
THREAT_PROTECTION_MODES = ("OFF", "AUDIT", "ENFORCED")
# The pre-token trigger runs as V3_0 (a machine client's tenant in its tokens), which Cognito offers
# only on these plans, not on Lite ("Pre token generation Lambda trigger", Cognito developer guide).
FEATURE_PLANS = ("ESSENTIALS", "PLUS")
REMOVAL_POLICIES = ("destroy", "retain")
WEB_AUTH_PROVIDERS = ("cognito", "oidc")
# GitHub's rules for owner (user/org) and repository names; branch and environment names
# are narrowed to characters that never act as wildcards in an IAM condition. `\Z`, not `$`:
# a trailing newline must not pass into a trust policy.
GITHUB_OWNER_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\Z")
GITHUB_REPO_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,100}\Z")
GIT_BRANCH_PATTERN = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*/$)[A-Za-z0-9._/-]{1,200}\Z")
GITHUB_ENVIRONMENT_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,255}\Z")
BOOTSTRAP_QUALIFIER_PATTERN = re.compile(r"^[a-z0-9]{1,10}\Z")
IAM_ROLE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_+=,.@-]{1,64}\Z")
OIDC_PROVIDER_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com\Z"
)
CI_CONTEXT_KEY = "ci"
# The evaluation windows WAF offers for rate-based rules.
WAF_RATE_WINDOWS = (60, 120, 300, 600)
FARGATE_CPU_MEMORY = {256: (512, 1024, 2048), 512: (1024, 2048, 3072, 4096), 1024: tuple(range(2048, 8193, 1024))}


class ConfigError(ValueError):
    """A configuration value is missing or not allowed. The message names the key."""


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class GroupConfig:
    name: str
    precedence: int
    description: str


@dataclass(frozen=True)
class OidcProviderConfig:
    name: str
    issuer_url: str
    client_id: str
    client_secret_name: str
    # An enterprise provider run for exactly one tenant may name it: its users get that tenant
    # (with no role until a tenant admin gives them one). None: its users wait for an invitation.
    tenant_id: str | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class SocialProviderConfig:
    """Google or Facebook: anyone can have an account there, so it never maps to a tenant. Its users
    wait for a tenant admin to link them (`members link`)."""

    client_id: str
    client_secret_name: str


@dataclass(frozen=True)
class FederationConfig:
    oidc: tuple[OidcProviderConfig, ...] = ()
    google: SocialProviderConfig | None = None
    facebook: SocialProviderConfig | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.oidc or self.google or self.facebook)

    @property
    def tenants_by_provider(self) -> dict[str, str]:
        """Cognito's provider name -> the one tenant an enterprise OIDC provider is configured for.

        Only OIDC providers with a `tenant_id` appear: social providers (Google, Facebook) never
        put a user into a tenant, so nobody lands in a tenant shared by strangers."""
        return {provider.name: provider.tenant_id for provider in self.oidc if provider.tenant_id is not None}


@dataclass(frozen=True)
class CustomDomainConfig:
    domain_name: str
    certificate_arn: str


@dataclass(frozen=True)
class EmailConfig:
    """The user pool's sender through Amazon SES (Cognito's `DEVELOPER` e-mail sending account).

    Without it Cognito sends with its own default sender, which has a small daily quota and is meant
    for tests ("Email settings for Amazon Cognito user pools", Cognito Developer Guide)."""

    from_address: str
    ses_identity_arn: str  # a verified SES identity: the from address or its domain
    from_name: str | None = None
    reply_to: str | None = None
    configuration_set: str | None = None

    @property
    def ses_region(self) -> str:
        return _checked_match(SES_IDENTITY_ARN_PATTERN, self.ses_identity_arn)["region"]

    @property
    def sender(self) -> str:
        """The `From` Cognito writes: `Name <address>` or the address."""
        return f"{self.from_name} <{self.from_address}>" if self.from_name else self.from_address


@dataclass(frozen=True)
class IdentityConfig:
    self_sign_up: bool
    mfa: str
    threat_protection: str
    feature_plan: str
    domain_prefix: str
    custom_domain: CustomDomainConfig | None
    resource_server_identifier: str
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...]
    allow_password_auth: bool
    access_token_minutes: int
    id_token_minutes: int
    refresh_token_days: int
    groups: tuple[GroupConfig, ...]
    federation: FederationConfig
    email: EmailConfig | None = None  # None: Cognito's default sender (not for production)


@dataclass(frozen=True)
class ApiConfig:
    cors_origins: tuple[str, ...]
    throttle_rate: float
    throttle_burst: int
    authorizer_cache_seconds: int


@dataclass(frozen=True)
class OidcWebProviderConfig:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    user_info_endpoint: str
    client_id: str
    client_secret_name: str
    # RP-initiated logout; without it /logout only ends the ALB session, not the IdP's.
    end_session_endpoint: str | None = None


@dataclass(frozen=True)
class WebConfig:
    domain_name: str
    certificate_arn: str | None
    hosted_zone_id: str | None
    hosted_zone_name: str | None
    auth_provider: str
    oidc: OidcWebProviderConfig | None
    session_cookie_name: str
    session_timeout_minutes: int
    vpc_cidr: str
    nat_gateways: int
    container_cpu: int
    container_memory_mib: int
    min_tasks: int
    max_tasks: int
    # Off until the environment exists: a protected ALB cannot be deleted, so a failed first create
    # could not roll back (ROLLBACK_FAILED). docs/operations.md, "First deploy".
    deletion_protection: bool = False


@dataclass(frozen=True)
class MonitoringConfig:
    """Alarm thresholds and where alarms go (stacks/monitoring_stack.py)."""

    alarm_email: str | None = None
    server_error_percent: float = 1.0  # 5xx share of the HTTP API's and of the ALB's requests
    client_error_percent: float = 10.0  # 4xx share of the HTTP API's requests
    authorizer_failures: int = 50  # rejected requests per 5 minutes, per authorizer
    lambda_p99_ms: int = 3000
    fargate_cpu_percent: int = 80
    fargate_memory_percent: int = 80
    sign_in_throttles: int = 1  # throttled sign-ins per 5 minutes
    waf_blocked_requests: int = 100  # requests one web ACL blocked per 5 minutes


@dataclass(frozen=True)
class WafConfig:
    """WAFv2 web ACLs on the ALB and the user pool (stacks/waf_stack.py)."""

    enabled: bool = False
    sign_in_rate_limit: int = 300  # requests per client IP per window on sign-in paths
    rate_window_seconds: int = 300


@dataclass(frozen=True)
class CiConfig:
    """Who may deploy from GitHub Actions (stacks/deploy_access_stack.py): one account-wide
    stack, read from the top-level `ci` context, not from an environment."""

    github_owner: str
    github_repo: str
    branches: tuple[str, ...]
    environments: tuple[str, ...]
    regions: tuple[str, ...]
    bootstrap_qualifier: str
    role_name: str
    existing_oidc_provider_arn: str | None

    @property
    def subjects(self) -> tuple[str, ...]:
        """The exact `sub` claims GitHub puts in the OIDC tokens of the allowed workflow jobs."""
        repo = f"repo:{self.github_owner}/{self.github_repo}"
        return tuple(f"{repo}:ref:refs/heads/{branch}" for branch in self.branches) + tuple(
            f"{repo}:environment:{environment}" for environment in self.environments
        )


@dataclass(frozen=True)
class EnvConfig:
    """Everything that differs between environments."""

    project: str
    name: str
    production: bool
    account: str | None
    region: str
    availability_zones: tuple[str, ...]
    removal_policy: str
    log_retention_days: int
    identity: IdentityConfig
    api: ApiConfig
    web: WebConfig | None
    monitoring: MonitoringConfig = MonitoringConfig()
    waf: WafConfig = WafConfig()

    @property
    def retain_data(self) -> bool:
        """RETAIN and deletion protection on stateful resources."""
        return self.removal_policy == "retain"

    @property
    def stage_name(self) -> str:
        return f"{self.project}-{self.name}"

    def qualified_scope(self, scope: str) -> str:
        return auth_contract.qualified_scope(self.identity.resource_server_identifier, scope)


# --------------------------------------------------------------------------- readers


def _checked_match(pattern: re.Pattern[str], value: str) -> re.Match[str]:
    """The match of a value a reader already checked against `pattern`."""
    match = pattern.match(value)
    if match is None:  # unreachable after the reader's check; never index None
        raise ConfigError(f"{value!r} does not match {pattern.pattern}")
    return match


class _Reader:
    """Reads one mapping of raw context values, naming each key by its full path in errors."""

    def __init__(self, raw: Any, path: str) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{path}: expected an object, got {type(raw).__name__}")
        self.raw = raw
        self.path = path
        self._known: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def _get(self, name: str, default: Any = ...) -> Any:
        self._known.add(name)
        if name in self.raw and self.raw[name] is not None:
            return self.raw[name]
        if default is ...:
            raise ConfigError(f"{self.key(name)}: required, but not set")
        return default

    def fail(self, name: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(f"{self.key(name)}={value!r} is not allowed: {allowed}")

    def string(self, name: str, pattern: re.Pattern[str] | None = None, allowed: str = "", default: Any = ...) -> Any:
        value = self._get(name, default)
        if value is None and default is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(name, value, allowed or "a non-empty string")
        if pattern and not pattern.match(value):
            raise self.fail(name, value, allowed or f"a string matching {pattern.pattern}")
        return value

    def choice(self, name: str, choices: Sequence[str], default: Any = ...) -> str:
        value = self._get(name, default)
        if value not in choices:
            raise self.fail(name, value, "one of " + ", ".join(choices))
        return str(value)

    def boolean(self, name: str, default: Any = ...) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, value, "true or false")
        return value

    def integer(self, name: str, low: int, high: int, default: Any = ...) -> int:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(name, value, f"a whole number from {low} to {high}")
        whole: int = value
        return whole

    def number(self, name: str, low: float, high: float, default: Any = ...) -> float:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise self.fail(name, value, f"a number from {low} to {high}")
        return float(value)

    def strings(
        self, name: str, pattern: re.Pattern[str] | None = None, allowed: str = "", default: Any = ...
    ) -> tuple[str, ...]:
        values = self._get(name, default)
        if not isinstance(values, (list, tuple)):
            raise self.fail(name, values, "a list of strings")
        for index, value in enumerate(values):
            if not isinstance(value, str) or (pattern and not pattern.match(value)):
                raise ConfigError(f"{self.key(name)}[{index}]={value!r} is not allowed: {allowed or 'a string'}")
        return tuple(values)

    # A section that is required or has an object as its default is never None (_get treats null
    # as unset); only `default=None` makes it optional.
    @overload
    def child(self, name: str) -> _Reader: ...

    @overload
    def child(self, name: str, default: Mapping[str, Any]) -> _Reader: ...

    @overload
    def child(self, name: str, default: None) -> _Reader | None: ...

    def child(self, name: str, default: Any = ...) -> _Reader | None:
        value = self._get(name, default)
        if value is None:
            return None
        return _Reader(value, self.key(name))

    def children(self, name: str, default: Any = ...) -> list[_Reader]:
        values = self._get(name, default)
        if not isinstance(values, (list, tuple)):
            raise self.fail(name, values, "a list of objects")
        return [_Reader(value, f"{self.key(name)}[{index}]") for index, value in enumerate(values)]

    def done(self) -> None:
        """Rejects keys nobody reads: a typo must not silently fall back to a default."""
        unknown = sorted(set(self.raw) - self._known)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])}: unknown key; allowed keys are {', '.join(sorted(self._known))}")


def _read_groups(r: _Reader) -> tuple[GroupConfig, ...]:
    # Precedence decides which group's IAM role Cognito prefers (lowest first); the operator comes first.
    default = [
        {
            "name": auth_contract.PLATFORM_OPERATOR,
            "precedence": 0,
            "description": "Platform operator: creates and suspends tenants; MFA required; granted only by "
            "`python -m client operators grant` with AWS credentials",
        },
        {"name": auth_contract.ADMIN, "precedence": 1, "description": "Tenant admin: administers their own tenant"},
        {"name": auth_contract.EDITOR, "precedence": 10, "description": "Creates and changes items"},
        {"name": auth_contract.VIEWER, "precedence": 20, "description": "Reads items"},
    ]
    groups = []
    for g in r.children("groups", default):
        groups.append(
            GroupConfig(
                name=g.choice("name", auth_contract.ROLES),
                precedence=g.integer("precedence", 0, 2_000_000_000),
                description=g.string("description", default=""),
            )
        )
        g.done()
    names = [group.name for group in groups]
    if len(set(names)) != len(names):
        raise ConfigError(f"{r.key('groups')}: group names must be unique, got {names}")
    # Every role must exist as a group: the trigger and the tenant-admin function rely on them.
    missing = [role for role in auth_contract.ROLES if role not in names]
    if missing:
        raise ConfigError(f"{r.key('groups')}: every role needs a group; missing {', '.join(missing)}")
    return tuple(groups)


def _read_secret_name(r: _Reader) -> str:
    name: str = r.string(
        "client_secret_name", SECRET_NAME_PATTERN, "the name of a Secrets Manager secret (never the secret itself)"
    )
    return name


def _read_tenant_id(r: _Reader) -> str | None:
    tenant_id: str | None = r.string(
        "tenant_id",
        TENANT_ID_PATTERN,
        f"{auth_contract.TENANT_ID_RULE}: the one tenant every user of this provider belongs to, or null",
        None,
    )
    return tenant_id


def _read_federation(r: _Reader | None) -> FederationConfig:
    if r is None:
        return FederationConfig()
    providers = []
    for p in r.children("oidc", []):
        providers.append(
            OidcProviderConfig(
                name=p.string("name", IDP_NAME_PATTERN, "3-32 letters, digits, '_' or '-'"),
                issuer_url=p.string("issuer_url", HTTPS_URL_PATTERN, "an https:// URL"),
                client_id=p.string("client_id"),
                client_secret_name=_read_secret_name(p),
                tenant_id=_read_tenant_id(p),
                scopes=p.strings("scopes", default=["openid", "email", "profile"]),
            )
        )
        p.done()
    social = {}
    for kind in ("google", "facebook"):
        s = r.child(kind, None)
        if s is not None:
            if "tenant_id" in s.raw:
                raise ConfigError(
                    f"{s.key('tenant_id')}: not allowed: a social provider never maps its users to a tenant "
                    "(anyone can sign up there); they wait until a tenant admin links them (`members link`)"
                )
            social[kind] = SocialProviderConfig(
                client_id=s.string("client_id"),
                client_secret_name=_read_secret_name(s),
            )
            s.done()
    r.done()
    return FederationConfig(oidc=tuple(providers), **social)


def _read_email(r: _Reader | None, production: bool, region: str, path: str) -> EmailConfig | None:
    if r is None:
        if production:
            raise ConfigError(
                f"{path}: required in a production environment: set from_address and ses_identity_arn "
                "(a verified Amazon SES identity); Cognito's default sender is limited to a few e-mails a day"
            )
        return None
    from_address = r.string("from_address", EMAIL_PATTERN, "an e-mail address")
    arn = r.string(
        "ses_identity_arn",
        SES_IDENTITY_ARN_PATTERN,
        "the ARN of a verified SES identity, arn:aws:ses:<region>:<account>:identity/<address or domain>",
    )
    match = _checked_match(SES_IDENTITY_ARN_PATTERN, arn)
    identity = match["identity"].lower()
    domain = from_address.rsplit("@", 1)[1].lower()
    if identity not in (from_address.lower(), domain):
        raise r.fail(
            "ses_identity_arn",
            arn,
            f"an identity that covers from_address {from_address!r}: the address itself or {domain!r}",
        )
    if match["region"] != region and match["region"] not in SES_ALTERNATE_REGIONS:
        raise r.fail(
            "ses_identity_arn",
            arn,
            f"an SES identity in {region} (the pool's region) or in one of " + ", ".join(SES_ALTERNATE_REGIONS),
        )
    config = EmailConfig(
        from_address=from_address,
        ses_identity_arn=arn,
        from_name=r.string(
            "from_name",
            re.compile(r"^[^<>\r\n\"]{1,64}\Z"),
            "1-64 characters without <, >, quotes or line breaks",
            None,
        ),
        reply_to=r.string("reply_to", EMAIL_PATTERN, "an e-mail address", None),
        configuration_set=r.string(
            "configuration_set", SES_CONFIGURATION_SET_PATTERN, "an SES configuration set name", None
        ),
    )
    r.done()
    return config


def _read_identity(r: _Reader, production: bool, region: str) -> IdentityConfig:
    access = r.integer("access_token_minutes", *ACCESS_TOKEN_MINUTES)
    id_token = r.integer("id_token_minutes", *ACCESS_TOKEN_MINUTES)
    refresh = r.integer("refresh_token_days", *REFRESH_TOKEN_DAYS)
    if production:
        for name, minutes in (("access_token_minutes", access), ("id_token_minutes", id_token)):
            if minutes > PRODUCTION_MAX_TOKEN_MINUTES:
                raise r.fail(name, minutes, f"at most {PRODUCTION_MAX_TOKEN_MINUTES} in a production environment")

    url_rule = "https:// URLs" if production else "https:// URLs, or http://localhost URLs outside production"

    def url_ok(url: str) -> bool:
        return bool(HTTPS_URL_PATTERN.match(url) or (not production and LOCALHOST_URL_PATTERN.match(url)))

    urls = {}
    for name in ("callback_urls", "logout_urls"):
        values = r.strings(name)
        if not values:
            raise r.fail(name, values, f"at least one URL; {url_rule}")
        for index, url in enumerate(values):
            if not url_ok(url):
                raise ConfigError(f"{r.key(name)}[{index}]={url!r} is not allowed: {url_rule}")
        urls[name] = values

    mfa = r.choice("mfa", MFA_MODES)
    if production and mfa != "REQUIRED":
        raise r.fail("mfa", mfa, "REQUIRED in a production environment")
    allow_password_auth = r.boolean("allow_password_auth", False)
    if production and allow_password_auth:
        raise r.fail("allow_password_auth", True, "false in a production environment (use SRP or the hosted UI)")
    threat_protection = r.choice("threat_protection", THREAT_PROTECTION_MODES)
    feature_plan = r._get("feature_plan")
    if feature_plan not in FEATURE_PLANS:
        raise r.fail(
            "feature_plan",
            feature_plan,
            "one of " + ", ".join(FEATURE_PLANS) + " (the pre-token trigger's V3_0 event, which puts a machine "
            "client's tenant in its tokens, needs the Essentials or Plus plan)",
        )
    if threat_protection != "OFF" and feature_plan != "PLUS":
        raise r.fail(
            "threat_protection",
            threat_protection,
            "OFF unless feature_plan is PLUS (threat protection is a Plus feature)",
        )

    custom = r.child("custom_domain", None)
    custom_domain = None
    if custom is not None:
        custom_domain = CustomDomainConfig(
            domain_name=custom.string("domain_name", DOMAIN_NAME_PATTERN, "a lower-case DNS name"),
            certificate_arn=custom.string("certificate_arn", ACM_ARN_PATTERN, "an ACM certificate ARN (in us-east-1)"),
        )
        custom.done()

    config = IdentityConfig(
        self_sign_up=r.boolean("self_sign_up"),
        mfa=mfa,
        threat_protection=threat_protection,
        feature_plan=feature_plan,
        domain_prefix=r.string(
            "domain_prefix",
            DOMAIN_PREFIX_PATTERN,
            "lower-case letters, digits and '-', at most 40 characters (the account id is appended)",
        ),
        custom_domain=custom_domain,
        resource_server_identifier=r.string(
            "resource_server_identifier", RESOURCE_SERVER_PATTERN, "1-256 printable characters without '\"' or '\\'"
        ),
        callback_urls=urls["callback_urls"],
        logout_urls=urls["logout_urls"],
        allow_password_auth=allow_password_auth,
        access_token_minutes=access,
        id_token_minutes=id_token,
        refresh_token_days=refresh,
        groups=_read_groups(r),
        federation=_read_federation(r.child("federation", None)),
        email=_read_email(r.child("email", None), production, region, r.key("email")),
    )
    for name in ("aws", "amazon", "cognito"):
        if name in config.domain_prefix:
            raise r.fail("domain_prefix", config.domain_prefix, f"a prefix without the reserved word {name!r}")
    r.done()
    return config


def _read_api(r: _Reader, production: bool) -> ApiConfig:
    origin_rule = (
        "https:// origins" if production else "https:// origins, or http://localhost origins outside production"
    )
    origins = r.strings("cors_origins")
    for index, origin in enumerate(origins):
        ok = HTTPS_URL_PATTERN.match(origin) or (not production and LOCALHOST_URL_PATTERN.match(origin))
        if not ok or origin.endswith("/") or origin == "*":
            raise ConfigError(
                f"{r.key('cors_origins')}[{index}]={origin!r} is not allowed: {origin_rule}, without a trailing '/' (never '*')"
            )
    config = ApiConfig(
        cors_origins=origins,
        throttle_rate=r.number("throttle_rate", 1, 10_000),
        throttle_burst=r.integer("throttle_burst", 1, 5_000),
        authorizer_cache_seconds=r.integer("authorizer_cache_seconds", 0, 3600, 300),
    )
    r.done()
    return config


def _read_web(r: _Reader | None, production: bool, az_count: int, retain_data: bool) -> WebConfig | None:
    if r is None:
        return None
    certificate_arn = r.string("certificate_arn", ACM_ARN_PATTERN, "an ACM certificate ARN", default=None)
    zone_id = r.string(
        "hosted_zone_id", HOSTED_ZONE_ID_PATTERN, "a Route 53 hosted zone id such as Z0123456789ABC", default=None
    )
    zone_name = r.string("hosted_zone_name", DOMAIN_NAME_PATTERN, "a lower-case DNS name", default=None)
    domain_name = r.string("domain_name", DOMAIN_NAME_PATTERN, "a lower-case DNS name such as app.example.com")
    if certificate_arn is None and (zone_id is None or zone_name is None):
        raise ConfigError(
            f"{r.path}: HTTPS needs a certificate: set {r.key('certificate_arn')}, "
            f"or {r.key('hosted_zone_id')} and {r.key('hosted_zone_name')} for a DNS-validated one"
        )
    if zone_name is not None and not (domain_name == zone_name or domain_name.endswith("." + zone_name)):
        raise r.fail("domain_name", domain_name, f"a name inside the hosted zone {zone_name!r}")

    provider = r.choice("auth_provider", WEB_AUTH_PROVIDERS, "cognito")
    oidc_reader = r.child("oidc", None)
    oidc = None
    if provider == "oidc":
        if oidc_reader is None:
            raise ConfigError(f"{r.key('oidc')}: required when {r.key('auth_provider')} is 'oidc'")
        oidc = OidcWebProviderConfig(
            **{
                name: oidc_reader.string(name, HTTPS_URL_PATTERN, "an https:// URL")
                for name in ("issuer", "authorization_endpoint", "token_endpoint", "user_info_endpoint")
            },
            client_id=oidc_reader.string("client_id"),
            client_secret_name=_read_secret_name(oidc_reader),
            end_session_endpoint=oidc_reader.string(
                "end_session_endpoint", HTTPS_URL_PATTERN, "an https:// URL (the IdP's logout endpoint)", None
            ),
        )
        oidc_reader.done()

    cpu = r.integer("container_cpu", 256, 1024, 256)
    if cpu not in FARGATE_CPU_MEMORY:
        raise r.fail("container_cpu", cpu, "one of " + ", ".join(map(str, FARGATE_CPU_MEMORY)))
    memory = r.integer("container_memory_mib", 512, 8192, 512)
    if memory not in FARGATE_CPU_MEMORY[cpu]:
        raise r.fail(
            "container_memory_mib",
            memory,
            f"with {cpu} CPU units, one of {', '.join(map(str, FARGATE_CPU_MEMORY[cpu]))}",
        )
    min_tasks = r.integer("min_tasks", 1, 100)
    max_tasks = r.integer("max_tasks", 1, 100)
    if max_tasks < min_tasks:
        raise r.fail("max_tasks", max_tasks, f"at least min_tasks ({min_tasks})")

    cidr = r.string("vpc_cidr", CIDR_PATTERN, "an IPv4 CIDR block from /16 to /24", "10.0.0.0/16")
    octets = [int(x) for x in _checked_match(CIDR_PATTERN, cidr).groups()]
    if any(o > 255 for o in octets[:4]) or not 16 <= octets[4] <= 24:
        raise r.fail("vpc_cidr", cidr, "an IPv4 CIDR block from /16 to /24")

    config = WebConfig(
        domain_name=domain_name,
        certificate_arn=certificate_arn,
        hosted_zone_id=zone_id,
        hosted_zone_name=zone_name,
        auth_provider=provider,
        oidc=oidc,
        session_cookie_name=r.string(
            "session_cookie_name",
            re.compile(r"^[A-Za-z0-9_-]{1,64}$"),
            "letters, digits, '_' or '-'",
            "AWSELBAuthSessionCookie",
        ),
        session_timeout_minutes=r.integer("session_timeout_minutes", 1, 7 * 24 * 60, 8 * 60),
        vpc_cidr=cidr,
        nat_gateways=r.integer("nat_gateways", 1, az_count),
        container_cpu=cpu,
        container_memory_mib=memory,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        deletion_protection=r.boolean("deletion_protection", False),
    )
    if config.deletion_protection and not retain_data:
        raise r.fail(
            "deletion_protection",
            True,
            "false where removal_policy is destroy (a protected load balancer blocks make destroy)",
        )
    if production and config.nat_gateways < az_count:
        raise r.fail(
            "nat_gateways", config.nat_gateways, f"{az_count} (one per availability zone) in a production environment"
        )
    r.done()
    return config


def _read_monitoring(r: _Reader) -> MonitoringConfig:
    default = MonitoringConfig()
    config = MonitoringConfig(
        alarm_email=r.string("alarm_email", EMAIL_PATTERN, "an e-mail address, or null for no subscription", None),
        server_error_percent=r.number("server_error_percent", 0.1, 100, default.server_error_percent),
        client_error_percent=r.number("client_error_percent", 0.1, 100, default.client_error_percent),
        authorizer_failures=r.integer("authorizer_failures", 1, 1_000_000, default.authorizer_failures),
        lambda_p99_ms=r.integer("lambda_p99_ms", 10, 900_000, default.lambda_p99_ms),
        fargate_cpu_percent=r.integer("fargate_cpu_percent", 1, 100, default.fargate_cpu_percent),
        fargate_memory_percent=r.integer("fargate_memory_percent", 1, 100, default.fargate_memory_percent),
        sign_in_throttles=r.integer("sign_in_throttles", 1, 1_000_000, default.sign_in_throttles),
        waf_blocked_requests=r.integer("waf_blocked_requests", 1, 1_000_000_000, default.waf_blocked_requests),
    )
    r.done()
    return config


def _read_waf(r: _Reader, production: bool) -> WafConfig:
    default = WafConfig()
    enabled = r.boolean("enabled", production)
    if production and not enabled:
        raise r.fail("enabled", enabled, "true in a production environment")
    config = WafConfig(
        enabled=enabled,
        # WAF's bounds for a rate-based rule's limit.
        sign_in_rate_limit=r.integer("sign_in_rate_limit", 10, 2_000_000_000, default.sign_in_rate_limit),
        rate_window_seconds=r.integer("rate_window_seconds", 60, 600, default.rate_window_seconds),
    )
    if config.rate_window_seconds not in WAF_RATE_WINDOWS:
        raise r.fail(
            "rate_window_seconds", config.rate_window_seconds, "one of " + ", ".join(map(str, WAF_RATE_WINDOWS))
        )
    r.done()
    return config


def parse_env_config(project: str, name: str, raw: Mapping[str, Any]) -> EnvConfig:
    """Validates one environment's raw context values into an `EnvConfig`."""
    r = _Reader(raw, f"environments.{name}")
    production = r.boolean("production")
    region = r.string("region", REGION_PATTERN, "an AWS region code such as eu-west-1")
    zones = r.strings("availability_zones")
    if len(zones) < 2 or len(set(zones)) != len(zones):
        raise r.fail("availability_zones", list(zones), "at least two distinct zones of the region")
    for index, zone in enumerate(zones):
        if not re.fullmatch(re.escape(region) + r"[a-z]", zone):
            raise ConfigError(
                f"{r.key('availability_zones')}[{index}]={zone!r} is not allowed: a zone of {region}, such as {region}a"
            )
    removal = r.choice("removal_policy", REMOVAL_POLICIES)
    if production and removal != "retain":
        raise r.fail("removal_policy", removal, "retain in a production environment")
    log_retention = r.integer("log_retention_days", 1, 3653)
    if log_retention not in LOG_RETENTION_DAYS:
        raise r.fail("log_retention_days", log_retention, "one of " + ", ".join(map(str, LOG_RETENTION_DAYS)))
    config = EnvConfig(
        project=project,
        name=name,
        production=production,
        account=r.string("account", ACCOUNT_PATTERN, "a 12-digit AWS account id, or null", default=None),
        region=region,
        availability_zones=zones,
        removal_policy=removal,
        log_retention_days=log_retention,
        identity=_read_identity(r.child("identity"), production, region),
        api=_read_api(r.child("api"), production),
        web=_read_web(r.child("web", None), production, len(zones), removal == "retain"),
        monitoring=_read_monitoring(r.child("monitoring", {})),
        waf=_read_waf(r.child("waf", {}), production),
    )
    r.done()
    return config


def parse_ci_config(raw: Any) -> CiConfig:
    """Validates the top-level `ci` context. A wildcard can never reach the role's trust policy:
    every name must match GitHub's own characters, and `*`/`?` are rejected by name."""
    r = _Reader(raw, CI_CONTEXT_KEY)

    def exact(name: str, value: Any, index: int | None = None) -> None:
        if isinstance(value, str) and ("*" in value or "?" in value):
            key = r.key(name) if index is None else f"{r.key(name)}[{index}]"
            raise ConfigError(
                f"{key}={value!r} is not allowed: no wildcards ('*', '?'): the deploy role trusts "
                "exactly one repository and exact branch or environment names"
            )

    for name in ("github_owner", "github_repo"):
        exact(name, raw.get(name) if isinstance(raw, Mapping) else None)
    owner = r.string("github_owner", GITHUB_OWNER_PATTERN, "a GitHub user or organization name")
    repo = r.string("github_repo", GITHUB_REPO_PATTERN, "a GitHub repository name (letters, digits, '.', '_', '-')")
    names = {}
    for name, pattern, allowed in (
        ("branches", GIT_BRANCH_PATTERN, "exact branch names (letters, digits, '.', '_', '-', '/')"),
        ("environments", GITHUB_ENVIRONMENT_PATTERN, "exact GitHub environment names (letters, digits, '.', '_', '-')"),
    ):
        raw_values = r._get(name, [])
        if isinstance(raw_values, (list, tuple)):
            for index, value in enumerate(raw_values):
                exact(name, value, index)
        names[name] = r.strings(name, pattern, allowed, [])
        if len(set(names[name])) != len(names[name]):
            raise r.fail(name, list(names[name]), "names without repeats")
    if not names["branches"] and not names["environments"]:
        raise ConfigError(
            f"{r.key('branches')} / {r.key('environments')}: set at least one branch or GitHub environment "
            "whose workflow jobs may assume the deploy role"
        )
    regions = r.strings("regions", REGION_PATTERN, "AWS region codes such as eu-west-1")
    if not regions:
        raise r.fail("regions", list(regions), "at least one AWS region code (where the CDK is bootstrapped)")
    config = CiConfig(
        github_owner=owner,
        github_repo=repo,
        branches=names["branches"],
        environments=names["environments"],
        regions=regions,
        bootstrap_qualifier=r.string(
            "bootstrap_qualifier", BOOTSTRAP_QUALIFIER_PATTERN, "1-10 lower-case letters or digits", "hnb659fds"
        ),
        role_name=r.string("role_name", IAM_ROLE_NAME_PATTERN, "an IAM role name (1-64 of letters, digits, +=,.@_-)"),
        existing_oidc_provider_arn=r.string(
            "existing_oidc_provider_arn",
            OIDC_PROVIDER_ARN_PATTERN,
            "the ARN of the account's token.actions.githubusercontent.com OIDC provider, or null to create it",
            None,
        ),
    )
    r.done()
    return config


def load_ci_config(context: Any) -> CiConfig | None:
    """The `ci` context (GitHub repository allowed to deploy), or None where it is not set."""
    raw = context.try_get_context(CI_CONTEXT_KEY)
    return None if raw is None else parse_ci_config(raw)


def load_config(context: Any) -> EnvConfig:
    """The configuration for the environment selected with `-c env=NAME`.

    `context` is anything with `try_get_context` (an App or a Construct's node).
    """
    project = context.try_get_context("project") or "jwt-auth"
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,20}", project):
        raise ConfigError(f"project={project!r} is not allowed: 2-21 lower-case letters, digits or '-'")
    environments = context.try_get_context("environments") or {}
    name = context.try_get_context(ENV_CONTEXT_KEY) or DEFAULT_ENV
    if name not in environments:
        allowed = ", ".join(sorted(environments)) or "none defined in cdk.json"
        raise ConfigError(f"env={name!r} is not a known environment: allowed values are {allowed}")
    return parse_env_config(project, name, environments[name])
