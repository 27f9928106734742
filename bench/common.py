"""What every benchmark row shares: the result record, statistics, and running a fresh interpreter
with the project's toolchain (the venv's Python, Node 22 first on PATH)."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = ROOT / "lambdas"
NODE22_BIN = ROOT / "tools" / "node22" / "node_modules" / ".bin"
VENV_BIN = ROOT / ".venv" / "bin"

PASS = "pass"  # noqa: S105 (a verdict, not a password)
FAIL = "fail"
INFO = "info"  # a figure with no target of its own
UNAVAILABLE = "n/a"  # the part it measures has not landed yet
ERROR = "error"  # the measurement itself broke: the bench exits non-zero

# Where bench.pytest_timing writes what it saw (set by the tests row).
PYTEST_TIMING_OUT_ENV = "BENCH_PYTEST_TIMING_OUT"


@dataclass
class Measurement:
    """One line of the table: a figure, its floor measured in the same run, and the verdict."""

    row: str
    item: str
    value: float | None = None
    unit: str = ""
    floor: float | None = None
    ratio: float | None = None
    target: str = ""
    status: str = INFO
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def unavailable(row: str, item: str, missing: str, target: str = "") -> Measurement:
    return Measurement(
        row=row, item=item, target=target, status=UNAVAILABLE, note=f"not available yet (module {missing} missing)"
    )


def error(row: str, item: str, message: str) -> Measurement:
    return Measurement(row=row, item=item, status=ERROR, note=message[-500:])


def verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p50 = 0.5, p99 = 0.99) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def toolchain_env(**extra: str) -> dict[str, str]:
    """The environment a fresh interpreter gets: Node 22 and the venv first on PATH, no version checks."""
    env = dict(os.environ)
    path = [str(VENV_BIN)]
    if (NODE22_BIN / "node").exists():
        path.insert(0, str(NODE22_BIN))
    env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_CLI_NOTICES"] = "false"
    env.update(extra)
    return env


def python() -> str:
    venv_python = VENV_BIN / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def timed_run(
    argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 240
) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of one subprocess, and its result (output captured)."""
    start = time.perf_counter()
    result = subprocess.run(  # noqa: S603 (argv built here, no shell)
        argv, cwd=ROOT, env=env or toolchain_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    return time.perf_counter() - start, result


def run_worker(module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 240) -> dict[str, Any]:
    """Runs `python -m <module> <out.json> <args>` in a fresh interpreter and returns what it wrote.

    Workers write their results to a file, so that whatever the code under test prints (JSON logs)
    goes nowhere near the numbers.
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        out = Path(scratch) / "result.json"
        _, result = timed_run([python(), "-m", module, str(out), *args], env=env, timeout=timeout)
        if result.returncode != 0 or not out.exists():
            raise RuntimeError(
                f"{module} {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()[-800:]}"
            )
        return json.loads(out.read_text())


def rate(function: Callable[[], Any], *, seconds: float = 1.0, batch: int = 50) -> float:
    """Calls per second of `function`, run in batches for about `seconds`."""
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            function()
        calls += batch
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def interleaved_rates(
    functions: dict[str, Callable[[], Any]], *, rounds: int = 5, seconds: float = 0.3
) -> dict[str, float]:
    """Median rate of each function over `rounds` rounds, taking turns so that drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            samples[name].append(rate(function, seconds=seconds))
    return {name: median(values) for name, values in samples.items()}


def module_missing(*relative_paths: str) -> str | None:
    """The first of `relative_paths` (under the repository root) that does not exist, if any."""
    for relative in relative_paths:
        if not (ROOT / relative).exists():
            return relative
    return None
