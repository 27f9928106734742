"""Shared fixtures: synthesized environments (one synth each per session) and templates."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from tests.synth import Synthesized, synthesize


@pytest.fixture(scope="session")
def test_env() -> Synthesized:
    """The `test` environment: every optional feature on (federation, web stack)."""
    return synthesize("test")


@pytest.fixture(scope="session")
def dev_env() -> Synthesized:
    return synthesize("dev")


@pytest.fixture(scope="session")
def prod_env() -> Synthesized:
    return synthesize("prod")


@pytest.fixture(scope="session")
def identity_template(test_env: Synthesized) -> Template:
    return test_env.template("Identity")


@pytest.fixture(scope="session")
def api_template(test_env: Synthesized) -> Template:
    return test_env.template("Api")


@pytest.fixture(scope="session")
def web_template(test_env: Synthesized) -> Template:
    return test_env.template("Web")


def pytest_terminal_summary(terminalreporter) -> None:
    """Lines the security tests report (tests/attacks.py: the size of the attack corpus)."""
    import sys

    attacks = sys.modules.get("tests.attacks")
    for line in getattr(attacks, "REPORT", []):
        terminalreporter.write_line(line)
