"""Longest test files first, from how long each took in earlier runs (`.build/test-durations.json`).

`make test` runs pytest-xdist with `--dist loadfile --no-loadscope-reorder`: a worker takes a whole
file at a time, in the order collected, and asks for the next one when it is done. A long file that
starts last leaves the other workers idle while it runs, so files are ordered by the wall time
they took last time, longest first (longest-processing-time-first scheduling). A file with no
record (a new one, or a fresh clone) goes first, by its tier, heaviest first. A run of the whole
suite (no `-m` or `-k` selection) records what it measured, so the order settles after one run.

Only the order changes: every collected test still runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import build_files

ROOT = Path(__file__).resolve().parent.parent
DURATIONS = ROOT / ".build" / "test-durations.json"


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def recorded() -> dict[str, float]:
    data = build_files.read_json(DURATIONS)
    if not isinstance(data, dict):
        return {}
    return {path: float(seconds) for path, seconds in data.items() if isinstance(seconds, int | float)}


def order(items: list[pytest.Item], weight: Callable[[str], int]) -> None:
    """Sorts `items` in place, whole files: unrecorded files first, by `weight` (heavier first), then
    the recorded ones by their seconds (longest first); collection order within a file and on ties."""
    seconds = recorded()
    position = {item.nodeid: index for index, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[int, float, int]:
        path = file_of(item.nodeid)
        if path in seconds:
            return (1, -seconds[path], position[item.nodeid])
        return (0, -weight(path), position[item.nodeid])

    items.sort(key=key)


class Recorder:
    """Adds up setup, call and teardown time per file as reports arrive (on the xdist controller,
    from every worker), and merges them into the record at the end of a run of whole files."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def add(self, report: pytest.TestReport) -> None:
        self.seconds[file_of(report.nodeid)] += report.duration

    def save(self, config: pytest.Config) -> None:
        """Not after a run that selected tests inside files (`-m`, `-k`): its times are not a file's."""
        if not self.seconds or config.getoption("markexpr", "") or config.getoption("keyword", ""):
            return
        merged = {**recorded(), **{path: round(value, 2) for path, value in self.seconds.items()}}
        build_files.write_json(DURATIONS, dict(sorted(merged.items())), indent=1)
