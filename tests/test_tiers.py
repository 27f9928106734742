"""The test tiers: every test is in exactly one, chosen from what it uses, and the unit tier cannot synth, spawn or connect."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys

import pytest

from tests import tiers
from tests.synth import synthesize


def test_every_collected_test_is_in_exactly_one_tier(request: pytest.FixtureRequest) -> None:
    for item in request.session.items:
        marked = [mark.name for mark in item.iter_markers() if mark.name in tiers.TIERS]
        assert item.stash[tiers.TIER_KEY] in tiers.TIERS, item.nodeid
        # An explicit marker can only add a heavier tier; the heaviest is the one `-m` selects by.
        assert tiers.heaviest(*marked) == item.stash[tiers.TIER_KEY], item.nodeid


def test_every_unit_test_runs_under_the_guard(request: pytest.FixtureRequest) -> None:
    units = [item for item in request.session.items if item.stash[tiers.TIER_KEY] == "unit"]
    assert units or request.config.getoption("markexpr"), "no unit-tier test collected"
    for item in units:
        assert "unit_tier_guard" in item.fixturenames, item.nodeid


def test_the_guard_refuses_sockets_processes_and_cdk_apps() -> None:
    import aws_cdk as cdk

    attempts = {
        "created a socket": lambda: socket.socket(),
        "created a socket (connection)": lambda: socket.create_connection(("127.0.0.1", 9), timeout=1),
        "started a child process": lambda: subprocess.run(["true"], check=False),  # noqa: S607
        "forked": lambda: os.fork(),
        "ran a shell command": lambda: os.system("true"),  # noqa: S605, S607
        "built a CDK app": cdk.App,
        "synthesized an environment": lambda: sys.modules["tests.synth"].synthesize("dev"),
    }
    for what, attempt in attempts.items():
        with (
            tiers.unit_guard("tests/x.py::test_y") as violations,
            pytest.raises(tiers.TierViolation, match="is in the unit tier"),
        ):
            attempt()
        assert violations and "mark it @pytest.mark." in violations[0], what
    # Outside the guard everything works again.
    socket.socket().close()
    assert subprocess.run(["true"], check=False).returncode == 0  # noqa: S607


def test_a_swallowed_refusal_is_still_recorded() -> None:
    with tiers.unit_guard("tests/x.py::test_y") as violations, contextlib.suppress(Exception):
        socket.socket()  # code under test that hides errors
    assert violations


# What the classifier infers from code, without running it.


def _synthesizes() -> None:
    synthesize("dev")


def _helper_that_synthesizes() -> None:
    _synthesizes()


def _spawns() -> None:
    subprocess.run(["true"], check=False)  # noqa: S607


def _imports_inside() -> None:
    import subprocess as inner

    inner.run(["true"], check=False)  # noqa: S607


def _pure() -> int:
    return len("pure")


class _Server:
    def start(self) -> None:
        _spawns()


@pytest.mark.parametrize(
    ("code", "tier"),
    [
        (_pure, "unit"),
        (_synthesizes, "template"),
        (_helper_that_synthesizes, "template"),
        (_spawns, "e2e"),
        (_imports_inside, "e2e"),
        (_Server, "e2e"),
        (tiers.heaviest, "unit"),
    ],
    ids=["pure", "synth", "synth via a helper", "subprocess", "import inside", "class", "project helper"],
)
def test_the_classifier_follows_what_the_code_reaches(code, tier) -> None:
    assert tiers.Classifier().of_value(code) == tier


def test_the_heaviest_tier_wins() -> None:
    assert tiers.heaviest("unit", "e2e", "template") == "e2e"
    assert tiers.heaviest() == "unit"
    assert tiers.heaviest("scan", "audit") == "audit"


def test_a_run_of_one_tier_skips_only_the_files_known_to_hold_none_of_it() -> None:
    index = object.__new__(tiers.FileIndex)
    index.files = {"tests/test_templates_only.py": ["template"], "tests/test_mixed.py": ["e2e", "unit"]}
    index.selected = "unit"
    assert index.skips(tiers.ROOT / "tests" / "test_templates_only.py")
    assert not index.skips(tiers.ROOT / "tests" / "test_mixed.py")
    assert not index.skips(tiers.ROOT / "tests" / "test_new_file.py")  # not classified yet: collected
    assert not index.skips(tiers.ROOT / "tests" / "helpers.py")
    index.selected = None  # no tier selected (or an expression such as "unit or e2e"): nothing skipped
    assert not index.skips(tiers.ROOT / "tests" / "test_templates_only.py")
