"""Row 2: the whole test suite's wall time and the share of it spent synthesizing apps.

Runs the suite as `make test` runs it after set-up and lint (`python -m pytest -q -n auto --dist
loadfile`: pytest-xdist, one worker per core) with the bench.pytest_timing plugin, which times
tests/synth.py's `synthesize` and counts every App.synth() by configuration.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench.common import PYTEST_TIMING_OUT_ENV, Measurement, error, python, timed_run, toolchain_env, verdict

TARGET_SECONDS = 90.0
SUITE = ["-m", "pytest", "-q", "-n", "auto", "--dist", "loadfile"]  # what `make test` runs
SUITE_TEXT = "python " + " ".join(SUITE)
MAX_SYNTHS_PER_CONFIGURATION = 1


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as scratch:
        out = Path(scratch) / "timing.json"
        env = toolchain_env(**{PYTEST_TIMING_OUT_ENV: str(out)})
        try:
            wall, result = timed_run([python(), *SUITE, "-p", "bench.pytest_timing"], env=env, timeout=280)
        except Exception as failure:  # noqa: BLE001 (a hung or broken suite is a row, not a crash)
            return [error("tests", SUITE_TEXT, str(failure))]
        if not out.exists():
            return [
                error(
                    "tests",
                    SUITE_TEXT,
                    f"the suite did not finish ({result.returncode}): {result.stdout.strip()[-600:]}",
                )
            ]
        timing = json.loads(out.read_text())
    outcomes = timing["outcomes"]
    summary = ", ".join(
        f"{count} {name}"
        for name, count in sorted(outcomes.items())
        if name in {"passed", "failed", "error", "skipped", "xfailed", "xpassed"}
    )
    synth_seconds = sum(timing["synthesize_seconds"].values())
    share = synth_seconds / wall
    suite_ok = wall < TARGET_SECONDS
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
        Measurement(
            row="tests",
            item=f"{SUITE_TEXT} (wall)",
            value=round(wall, 1),
            unit="s",
            floor=round(synth_seconds, 1),
            ratio=round(share, 2),
            target=f"< {TARGET_SECONDS:.0f} s",
            status=verdict(suite_ok),
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
