"""Row 6: requests per second through the local gateway (JWT validation + the real handler) on
loopback, under a bounded load: a fixed number of requests from a few client threads."""

from __future__ import annotations

from bench.common import Measurement, module_missing, unavailable

TARGET = "figure only (no target in the issue)"


def run() -> list[Measurement]:
    missing = module_missing(
        "local/__init__.py", "local/gateway.py", "local/httpserver.py", "local/jwt_authorizer.py", "local/lambdas.py"
    )
    if missing:
        return [unavailable("gateway", "local gateway: GET /me through JWT authorizer", missing)]
    return [
        unavailable(
            "gateway",
            "local gateway: GET /me through JWT authorizer",
            "local (its start-up API is not wired into the bench yet)",
        )
    ]
