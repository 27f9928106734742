"""CDK values derived from an environment's config, shared by every stack."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

from stacks.config import EnvConfig

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS, 2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}  # fmt: skip


def log_retention(config: EnvConfig) -> logs.RetentionDays:
    """How long every log group of the environment keeps its events."""
    return _RETENTION[config.log_retention_days]


def data_removal_policy(config: EnvConfig) -> cdk.RemovalPolicy:
    """For stateful resources (user pool, tables, buckets): RETAIN where the environment keeps data."""
    return cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY


def revocation_ttl_seconds(config: EnvConfig) -> int:
    """How long a revocation must be kept: the longest access or ID token lifetime (then every token
    it can refuse has expired). Every function that reads or writes the store gets it as
    `REVOCATION_TTL_SECONDS`."""
    return 60 * max(config.identity.access_token_minutes, config.identity.id_token_minutes)
