"""Row 2: `make test` and `make test-fast` wall times (median of --runs each), and synthesis in the suite.

`make test` is timed whole, as a contributor runs it: set-up check, ruff, the format check, mypy
(warm cache), actionlint and pytest (workers and order as the Makefile sets them). `make test-fast`
is the unit tier. Then one more `make test` with the bench.pytest_timing plugin added through
PYTEST_ADDOPTS (it imports the CDK in every worker, so it is kept out of the timed runs) times
tests/synth.py's `synthesize` and counts every App.synth() by configuration.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench.common import (
    PYTEST_TIMING_OUT_ENV,
    Measurement,
    error,
    median,
    timed_run,
    toolchain_env,
    verdict,
)

TARGET_SECONDS = 90.0
FAST_TARGET_SECONDS = 15.0
MAKE_TEST = ["make", "test"]
MAKE_TEST_FAST = ["make", "test-fast"]
TIMING_PLUGIN = "-p bench.pytest_timing"
TIMING_TEXT = f"make test with PYTEST_ADDOPTS={TIMING_PLUGIN!r}"
MAX_SYNTHS_PER_CONFIGURATION = 1


def _timed_make(argv: list[str], runs: int) -> tuple[list[float], str]:
    """Wall times of `runs` runs of a make target; the last run's summary line ("N passed in ...")."""
    walls, summary = [], ""
    for _ in range(runs):
        wall, result = timed_run(argv, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stdout.strip()[-600:]}")
        walls.append(wall)
        lines = [line for line in result.stdout.splitlines() if " passed" in line]
        summary = lines[-1].strip(" =") if lines else ""
    return walls, summary


def _wall_rows(runs: int) -> list[Measurement]:
    rows = []
    for argv, target, what in (
        (MAKE_TEST, TARGET_SECONDS, "lint, format check, mypy, actionlint, every tier but audit"),
        (MAKE_TEST_FAST, FAST_TARGET_SECONDS, "unit tier: no synth, no child process, no network"),
    ):
        item = f"{' '.join(argv)} (wall, median of {runs})"
        try:
            walls, summary = _timed_make(argv, runs)
        except Exception as failure:  # noqa: BLE001 (a broken run is a row, not a crash)
            rows.append(error("tests", item, str(failure)))
            continue
        value = median(walls)
        rows.append(
            Measurement(
                row="tests",
                item=item,
                value=round(value, 1),
                unit="s",
                target=f"< {target:.0f} s",
                status=verdict(value < target),
                note=f"{what}; runs: {', '.join(f'{wall:.1f}' for wall in walls)} s; {summary}",
                details={"runs_seconds": [round(wall, 2) for wall in walls], "summary": summary},
            )
        )
    return rows


def run(runs: int = 3) -> list[Measurement]:
    rows = _wall_rows(runs)
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as scratch:
        out = Path(scratch) / "timing.json"
        env = toolchain_env(**{PYTEST_TIMING_OUT_ENV: str(out), "PYTEST_ADDOPTS": TIMING_PLUGIN})
        try:
            wall, result = timed_run(MAKE_TEST, env=env, timeout=600)
        except Exception as failure:  # noqa: BLE001 (a hung or broken suite is a row, not a crash)
            return [*rows, error("tests", TIMING_TEXT, str(failure))]
        if not out.exists():
            return [
                *rows,
                error(
                    "tests",
                    TIMING_TEXT,
                    f"the suite did not finish ({result.returncode}): {result.stdout.strip()[-600:]}",
                ),
            ]
        timing = json.loads(out.read_text())  # inside: the folder goes when the block ends
    outcomes = timing["outcomes"]
    summary = ", ".join(
        f"{count} {name}"
        for name, count in sorted(outcomes.items())
        if name in {"passed", "failed", "error", "skipped", "xfailed", "xpassed"}
    )
    synth_seconds = sum(timing["synthesize_seconds"].values())
    share = synth_seconds / wall
    slowest = list(timing["seconds_by_file"].items())[:4]
    note = f"{summary}; floor = time in tests.synth.synthesize; slowest files: " + ", ".join(
        f"{Path(path).name} {seconds:.0f} s" for path, seconds in slowest
    )
    if timing["exitstatus"] != 0:
        note += f"; pytest exit status {timing['exitstatus']} (the suite is red: figures still stand, the verdict is about time)"
    per_configuration = timing["app_synth_calls"]
    worst = max(per_configuration.values(), default=0)
    repeated = {config: count for config, count in per_configuration.items() if count > MAX_SYNTHS_PER_CONFIGURATION}
    return [
        *rows,
        Measurement(
            row="tests",
            item=f"{TIMING_TEXT} (wall, one run)",
            value=round(wall, 1),
            unit="s",
            floor=round(synth_seconds, 1),
            ratio=round(share, 2),
            note=note,
            details={
                "synthesize_seconds_by_env": {env: round(s, 2) for env, s in timing["synthesize_seconds"].items()},
                "synthesize_calls_by_env": timing["synthesize_calls"],
                "app_synth_seconds": round(timing["app_synth_seconds"], 2),
                "outcomes": outcomes,
                "exitstatus": timing["exitstatus"],
                "seconds_by_file": {path: round(seconds, 2) for path, seconds in timing["seconds_by_file"].items()},
                "slowest_tests": {test: round(seconds, 2) for test, seconds in timing["slowest_tests"].items()},
            },
        ),
        Measurement(
            row="tests",
            item="synths per app configuration (max)",
            value=worst,
            unit="synths",
            target=f"<= {MAX_SYNTHS_PER_CONFIGURATION}",
            status=verdict(not repeated),
            note=("repeated: " + "; ".join(f"{config} x{count}" for config, count in repeated.items()))
            if repeated
            else f"{len(per_configuration)} app configurations, each synthesized once: "
            + "; ".join(sorted(config for config in per_configuration if not config.startswith("own app")))
            + f"; {sum(1 for config in per_configuration if config.startswith('own app'))} tests' own apps",
            details={"app_synth_calls_by_configuration": per_configuration},
        ),
    ]
