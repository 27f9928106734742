"""The claim rules every verifier applies the same way: numeric dates, audience, scopes.

- Numeric dates (`exp`, `nbf`, `iat`, and the ALB header's `exp`) must be JSON numbers (RFC 7519
  section 2, "NumericDate"): not strings, not booleans, finite, and between 0 and the end of
  year 9999. Anything else is a refusal, never a conversion. (The claims API Gateway passes to a
  Lambda are all strings: that is another layer, read by lambdas/shared/claims.py, which never
  decides on dates.)
- Audience, as API Gateway's JWT authorizer checks it: `aud` when the token has one (a string or
  a list; one entry must be allowed), `client_id` only when it has none.
- Scopes: RFC 6749 section 3.3, scope-tokens separated by single spaces. Tabs and other
  whitespace separate nothing, and a token holding a character outside the grammar is no scope.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

# 9999-12-31T23:59:59Z: later dates are not dates any verifier could mean.
MAX_NUMERIC_DATE = 253_402_300_799
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


class ClaimRuleError(ValueError):
    """A claim breaks one of the rules. The message names the claim, never its value."""


def numeric_date(value: Any, name: str) -> int | float:
    """`value` if it is a NumericDate: a finite JSON number in [0, MAX_NUMERIC_DATE]."""
    # bool is a subclass of int: `true` is not a date.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ClaimRuleError(f"{name}: not a JSON number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ClaimRuleError(f"{name}: not a finite number")
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise ClaimRuleError(f"{name}: out of range")
    number: int | float = value
    return number


def check_times(
    claims: Mapping[str, Any], now: float, *, required: Iterable[str] = ("exp",), leeway: float = 0
) -> None:
    """`exp` after now, `nbf` and `iat` not after now (each within `leeway` seconds), as API Gateway checks.

    Names in `required` must be present; `exp`, `nbf` and `iat` are checked whenever present.
    """
    for name in required:
        if name not in claims:
            raise ClaimRuleError(f"{name}: missing")
    if "exp" in claims and numeric_date(claims["exp"], "exp") <= now - leeway:
        raise ClaimRuleError("exp: expired")
    for name in ("nbf", "iat"):
        if name in claims and numeric_date(claims[name], name) > now + leeway:
            raise ClaimRuleError(f"{name}: in the future")


def check_audience(claims: Mapping[str, Any], allowed: Collection[str]) -> str:
    """The allowed audience the token names: `aud` when present (any entry), else `client_id`.

    From "Controlling access to HTTP APIs with JWT authorizers" (API Gateway developer guide):
    "aud or client_id - Must match one of the audience entries that's configured for the
    authorizer. API Gateway validates client_id only if aud is not present."
    """
    if "aud" in claims:
        value, name = claims["aud"], "aud"
        candidates = value if isinstance(value, list) else [value]
    else:
        value, name = claims.get("client_id"), "client_id"
        candidates = [value]
    for candidate in candidates:
        # A list or object would make the lookup raise TypeError instead of a refusal.
        if isinstance(candidate, str) and candidate in allowed:
            return candidate
    raise ClaimRuleError(f"{name}: not an allowed audience")


def scope_list(value: Any) -> tuple[str, ...]:
    """The scopes of a `scope` claim: split on single spaces, only well-formed scope-tokens kept."""
    if not isinstance(value, str):
        return ()
    return tuple(token for token in value.split(" ") if SCOPE_TOKEN.fullmatch(token))
