"""`python -m bench [--env prod] [--runs 3] [--only synth,tests,...]`: every row, one table, one JSON.

Writes bench-results/<UTC timestamp>.json and bench-results/latest.json (gitignored) so that two
commits can be compared. Exits 1 when a measurement itself broke (status `error`); a missed
target is a finding, not a failure of the benchmark, and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ERROR, ROOT, Measurement, error, toolchain_env

RESULTS_DIR = ROOT / "bench-results"
SCHEMA_VERSION = 1
ROWS = ("synth", "tests", "handlers", "verifiers", "artifacts", "gateway")


def _command_output(argv: list[str]) -> str:
    try:
        result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            argv, cwd=ROOT, env=toolchain_env(), capture_output=True, text=True, timeout=20, check=False
        )
    except OSError:
        return ""
    return result.stdout.strip()


def machine() -> dict[str, Any]:
    cpu_model = ""
    memory_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.partition(":")[2].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "node": _command_output(["node", "--version"]),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def git_state() -> dict[str, Any]:
    return {
        "commit": _command_output(["git", "rev-parse", "HEAD"]),
        "uncommitted_changes": bool(_command_output(["git", "status", "--porcelain", "--untracked-files=normal"])),
    }


def _format(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value)}"
    return f"{value:g}"


def table(measurements: list[Measurement]) -> str:
    header = ("row", "item", "figure", "floor", "ratio", "target", "status", "note")
    lines = [
        (
            m.row,
            m.item,
            f"{_format(m.value)} {m.unit}".strip() if m.value is not None else "-",
            f"{_format(m.floor)} {m.unit}".strip() if m.floor is not None else "-",
            f"{m.ratio:g}x" if m.ratio is not None else "-",
            m.target or "-",
            m.status.upper(),
            m.note,
        )
        for m in measurements
    ]
    widths = [max(len(str(line[index])) for line in [header, *lines]) for index in range(len(header) - 1)]
    rendered = []
    for line in [header, *lines]:
        rendered.append(
            "  ".join(str(cell).ljust(width) for cell, width in zip(line[:-1], widths, strict=True)) + "  " + line[-1]
        )
        if line is header:
            rendered.append("  ".join("-" * width for width in widths) + "  " + "-" * 4)
    return "\n".join(rendered)


def report(
    measurements: list[Measurement], *, env: str, started: float, machine_info: dict[str, Any], git: dict[str, Any]
) -> dict[str, Any]:
    """The JSON document a run writes (schema 1)."""
    return {
        "schema": SCHEMA_VERSION,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 1),
        "env": env,
        "machine": {**machine_info, "load_average_at_end": [round(load, 2) for load in os.getloadavg()]},
        "git": git,
        "measurements": [m.as_dict() for m in measurements],
        "summary": {
            status: sum(1 for m in measurements if m.status == status)
            for status in sorted({m.status for m in measurements})
        },
    }


def write(document: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = document["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    path = directory / f"{stamp}.json"
    text = json.dumps(document, indent=2) + "\n"
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    return path


def row_runners(args: argparse.Namespace, context: dict[str, Any]) -> dict[str, Callable[[], list[Measurement]]]:
    from bench import artifacts, gateway, handlers, suite, synth, verifiers

    return {
        "synth": lambda: synth.run(args.env, args.runs, context),
        "tests": lambda: suite.run(args.runs),
        "handlers": handlers.run,
        "verifiers": verifiers.run,
        "artifacts": lambda: artifacts.run(args.env, context),
        "gateway": gateway.run,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env", default="prod", help="the environment whose stacks are synthesized (default: prod, every stack)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="runs of each timed command (synth, its floor, make test, make test-fast), median taken (default: 3)",
    )
    parser.add_argument(
        "--only", default=",".join(ROWS), help=f"comma-separated rows to run (default: all of {','.join(ROWS)})"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory for the JSON results")
    args = parser.parse_args(argv)
    args.rows = [row.strip() for row in args.only.split(",") if row.strip()]
    unknown = sorted(set(args.rows) - set(ROWS))
    if unknown:
        parser.error(f"--only: unknown row {unknown[0]!r}; allowed: {', '.join(ROWS)}")
    if args.runs < 1:
        parser.error("--runs: must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    machine_info, git = machine(), git_state()
    context: dict[str, Any] = {"cleanup": []}
    measurements: list[Measurement] = []
    try:
        runners = row_runners(args, context)
        for row in args.rows:
            print(f"bench: {row} ...", file=sys.stderr, flush=True)
            row_started = time.perf_counter()
            try:
                measurements += runners[row]()
            except Exception as failure:  # noqa: BLE001 (one broken row must not hide the others)
                measurements.append(error(row, row, f"{type(failure).__name__}: {failure}"))
            print(f"bench: {row} done in {time.perf_counter() - row_started:.1f} s", file=sys.stderr, flush=True)
    finally:
        for cleanup in context["cleanup"]:
            cleanup()
    document = report(measurements, env=args.env, started=started, machine_info=machine_info, git=git)
    print(table(measurements))
    path = write(document, args.out)
    m = document["machine"]
    print(
        f"\n{m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}, Node {m['node']}; "
        f"load {m['load_average_at_start']} -> {m['load_average_at_end']}; {document['duration_s']} s; written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
    )
    return 1 if any(m.status == ERROR for m in measurements) else 0


if __name__ == "__main__":
    sys.exit(main())
