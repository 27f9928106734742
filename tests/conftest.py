"""Shared fixtures: synthesized environments (one synth each per session) and templates; test tiers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests import library_costs, schedule, tiers

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

    from tests.synth import Synthesized

# tests.synth (and with it the CDK) is imported inside the fixtures: the unit tier never loads it.


@pytest.fixture(scope="session")
def test_env() -> Synthesized:
    """The `test` environment: every optional feature on (federation, web stack)."""
    from tests.synth import synthesize

    return synthesize("test")


@pytest.fixture(scope="session")
def dev_env() -> Synthesized:
    from tests.synth import synthesize

    return synthesize("dev")


@pytest.fixture(scope="session")
def prod_env() -> Synthesized:
    from tests.synth import synthesize

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


# ------------------------------------------------------------------------------------- tiers


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test gets its tier's marker before `-m` selects (tests/tiers.py)."""
    tiers.assign(config, items)


def pytest_ignore_collect(collection_path, config: pytest.Config) -> bool | None:
    """With one tier selected (`-m unit`), a test file known to hold none of it is not even imported."""
    return True if tiers.file_index(config).skips(collection_path) else None


@pytest.fixture(autouse=True)
def unit_tier_guard(request: pytest.FixtureRequest):
    """A unit-tier test that opens a socket, starts a process or builds a CDK app fails, naming the marker to add."""
    if request.node.stash.get(tiers.TIER_KEY, None) != "unit":
        yield
        return
    with tiers.unit_guard(request.node.nodeid) as violations:
        yield
    if violations:
        pytest.fail(violations[0], pytrace=False)


# ------------------------------------------------------------------------- terminal summary

ATTACK_REPORT = "attack_report"


def _attack_report() -> list[str]:
    import sys

    return list(getattr(sys.modules.get("tests.attacks"), "REPORT", []))


_durations = schedule.Recorder()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Each file's time, for the order of the next run (tests/schedule.py)."""
    _durations.add(report)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Keeps the tiers of the files collected; under xdist a worker hands its attack-corpus report lines to the controller."""
    if not hasattr(session.config, "workerinput") or session.config.workerinput.get("workerid") == "gw0":
        tiers.file_index(session.config).save()
    if not hasattr(session.config, "workerinput"):  # the controller (or the only process): it saw every report
        _durations.save(session.config)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[ATTACK_REPORT] = _attack_report()


_worker_reports: list[str] = []


@pytest.hookimpl(optionalhook=True)  # an xdist hook: the controller collects its workers' lines
def pytest_testnodedown(node, error) -> None:
    _worker_reports.extend(getattr(node, "workeroutput", {}).get(ATTACK_REPORT, []))


def pytest_terminal_summary(terminalreporter) -> None:
    """Lines the security tests report (tests/attacks.py: the size of the attack corpus)."""
    for line in _attack_report() + _worker_reports:
        terminalreporter.write_line(line)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """botocore's loader and moto's pool key, shared by every test of this process (tests/library_costs.py).
    A hook, not a fixture: it is no part of what a test reaches, so it leaves every test's tier as it was."""
    library_costs.share_when_loaded()
