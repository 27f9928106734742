"""The pre-token-generation event (V2_0/V3_0 shape) through Powertools' data class.

Powertools' `PreTokenGenerationV2TriggerEvent` (Event Source Data Classes, "Cognito User Pool":
https://docs.powertools.aws.dev/lambda/python/latest/utilities/data_classes/) reads the event
lazily, and some of its properties index it directly: `caller_context` is
`CallerContext(event["callerContext"])`, `request.group_configuration` is
`GroupOverrideDetails(request["groupConfiguration"])`, `user_pool_id` is `event["userPoolId"]`:
an absent field is a KeyError there, and a null one (or a string where an object belongs) a
TypeError or, through the wrapper's own `get`, an AttributeError further in. Cognito sends every one
of them (Cognito developer guide, "Pre token generation Lambda trigger":
https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html),
and the trigger has always read a missing one as empty, so that only its own refusals stop a
token: `optional` keeps that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
    ClaimsAndScopeOverrideDetails,
    PreTokenGenerationV2TriggerEvent,
)

T = TypeVar("T")

__all__ = ["PreTokenGenerationV2TriggerEvent", "optional", "response_overrides"]


def optional(read: Callable[[], T]) -> T | None:
    """`read()`, one of the data class's properties, or None when the event lacks what it indexes."""
    try:
        return read()
    except (KeyError, TypeError, AttributeError):  # absent, or null or not an object
        return None


def response_overrides(event: PreTokenGenerationV2TriggerEvent) -> ClaimsAndScopeOverrideDetails:
    """The response's `claimsAndScopeOverrideDetails`, empty, for the trigger to fill in.

    Cognito sends `"response": {"claimsAndScopeOverrideDetails": null}`. Powertools' `response`
    indexes `event["response"]`, and its `claims_scope_override_details` fills in the object
    already there rather than replacing it: both start empty here, so the answer holds exactly
    what the trigger sets, whatever came in.
    """
    raw = event.raw_event
    if not isinstance(raw.get("response"), dict):
        raw["response"] = {}
    raw["response"]["claimsAndScopeOverrideDetails"] = None
    return event.response.claims_scope_override_details
