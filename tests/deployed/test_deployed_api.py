"""The end-to-end scenario of `make local` (tests/test_e2e_api.py), run against a real
deployment: sign in, call every route, the allow/deny matrix, tenant isolation, tokens of the
wrong kind, the machine client, CORS. The same test functions; only the `stack` fixture
differs (tests/deployed/conftest.py: HTTPS and real Cognito instead of the local stack).
Opt-in: see conftest.py."""

from __future__ import annotations

from tests import test_e2e_api as scenario

# The scenario's tests and the fixtures built on `stack`; `stack` itself comes from conftest.py.
globals().update(
    {
        name: value
        for name, value in vars(scenario).items()
        if name.startswith("test_") or name in ("tokens", "machine", "item")
    }
)
