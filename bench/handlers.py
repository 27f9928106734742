"""Row 3: each Lambda handler's cold import time and warm per-invocation latency, vs the floor handler
(bench/floor_handler.py: it only returns json.dumps of the claims); and what the revocation check
adds to a warm handler, against the same handler without it."""

from __future__ import annotations

import json
import re
import tempfile
from collections import defaultdict
from pathlib import Path

from bench.common import (
    ERROR,
    LAMBDAS_DIR,
    Measurement,
    error,
    median,
    percentile,
    python,
    run_worker,
    timed_run,
    verdict,
)

COLD_RUNS = 5
COLD_TARGET_MS = 150.0
WARM_TARGET_RATIO = 2.0
WORKER = "bench.handler_worker"
FLOOR_MODULE = "bench.floor_handler"
# Functions whose warm path is measured elsewhere (the authorizer's is signature verification: row 4).
WARM_ELSEWHERE = {
    "tenant_authorizer": "warm path = token verification, see the verifiers row",
    # A store write and a Cognito call per request, once per sign-out: not a per-request cost.
    "sign_out": "one PutItem and (everywhere) one Cognito call per sign-out: network-bound, not measured in-process",
}
_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def functions() -> list[str]:
    return sorted(path.parent.name for path in LAMBDAS_DIR.glob("*/handler.py"))


def _heaviest_imports(module: str, count: int = 4) -> dict[str, float]:
    """The packages whose own modules cost `module`'s import the most (one run with -X importtime), in ms.

    Self times summed by top-level package, so boto3 shows as boto3/botocore even when it comes in
    through shared/.
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        _, result = timed_run(
            [python(), "-X", "importtime", "-m", WORKER, str(Path(scratch) / "out.json"), "cold", module]
        )
    started = False
    own: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if not match:
            continue
        name = match.group(4)
        if name == "bench.lambda_env":
            started = True  # everything before is the worker's own start-up
            continue
        if started:
            own[name.partition(".")[0]] += int(match.group(1)) / 1000
    return {name: round(ms, 1) for name, ms in sorted(own.items(), key=lambda pair: -pair[1])[:count]}


def cold_rows() -> list[Measurement]:
    rows = []
    names = functions()
    floor_runs = []
    samples: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    failures: dict[str, str] = {}
    for _ in range(COLD_RUNS):
        floor_runs.append(run_worker(WORKER, "cold", FLOOR_MODULE)["import_s"] * 1000)
        for name in names:
            if name in failures:
                continue
            try:
                result = run_worker(WORKER, "cold", f"{name}.handler")
                samples[name].append(result["import_s"] * 1000)
                cpu[name].append(result["import_cpu_s"] * 1000)
            except Exception as failure:  # noqa: BLE001 (a handler that cannot import is a row, not a crash)
                failures[name] = str(failure)
    floor = median(floor_runs)
    for name in names:
        item = f"{name}: cold import"
        if name in failures:
            rows.append(error("handlers", item, failures[name]))
            continue
        figure = median(samples[name])
        heaviest = _heaviest_imports(f"{name}.handler")
        rows.append(
            Measurement(
                row="handlers",
                item=item,
                value=round(figure, 1),
                unit="ms",
                floor=round(floor, 2),
                ratio=round(figure / floor, 1),
                target=f"<= {COLD_TARGET_MS:.0f} ms",
                status=verdict(figure <= COLD_TARGET_MS),
                note=f"CPU {median(cpu[name]):.0f} ms, fastest run {min(samples[name]):.0f} ms; heaviest (own modules): "
                + ", ".join(f"{package} {ms:.0f} ms" for package, ms in heaviest.items()),
                details={
                    "runs_ms": [round(s, 1) for s in samples[name]],
                    "cpu_runs_ms": [round(s, 1) for s in cpu[name]],
                    "floor_runs_ms": [round(s, 2) for s in floor_runs],
                    "heaviest_imports_ms": heaviest,
                },
            )
        )
    return rows


def warm_rows() -> list[Measurement]:
    rows = []
    for name in functions():
        if name in WARM_ELSEWHERE:
            continue
        try:
            results = run_worker(WORKER, "warm", name)
        except Exception as failure:  # noqa: BLE001
            rows.append(error("handlers", f"{name}: warm", str(failure)))
            continue
        for label, result in results.items():
            handler_us, floor_us = result["handler_us"], result["floor_us"]
            p50, p99 = percentile(handler_us, 0.5), percentile(handler_us, 0.99)
            floor50, floor99 = percentile(floor_us, 0.5), percentile(floor_us, 0.99)
            ratio = p50 / floor50
            framework50 = percentile(result["framework_floor_us"], 0.5) if result["framework_floor_us"] else None
            framework_note = f"; Powertools-only handler p50 {framework50:.0f} us" if framework50 is not None else ""
            statuses = result["statuses"]
            ok_statuses = all(isinstance(s, int) and s < 300 for s in statuses)
            row = Measurement(
                row="handlers",
                item=f"{name}: warm {label} p50",
                value=round(p50, 1),
                unit="us",
                floor=round(floor50, 1),
                ratio=round(ratio, 1),
                target=f"<= {WARM_TARGET_RATIO:.0f}x floor",
                status=verdict(ratio <= WARM_TARGET_RATIO),
                note=f"p99 {p99:.0f} us (floor p99 {floor99:.0f} us); {len(handler_us)} calls; status {','.join(map(str, statuses))}{framework_note}",
                details={
                    "p50_us": p50,
                    "p99_us": p99,
                    "floor_p50_us": floor50,
                    "floor_p99_us": floor99,
                    "framework_floor_p50_us": framework50,
                    "calls": len(handler_us),
                    "statuses": statuses,
                },
            )
            if not ok_statuses:
                # A refusal is not the success path being measured: the event, not the speed, is wrong.
                row.status = ERROR
                row.note = f"handler answered {statuses}, not a success: measurement invalid; " + row.note
            rows.append(row)
    return rows


# One handler behind each kind of authorizer: the check reads its caller from either.
REVOCATION_FUNCTIONS = ("me", "tenant_summary")


def revocation_rows() -> list[Measurement]:
    rows = []
    for name in REVOCATION_FUNCTIONS:
        try:
            results = run_worker(WORKER, "revocation", name)
        except Exception as failure:  # noqa: BLE001
            rows.append(error("handlers", f"{name}: revocation check", str(failure)))
            continue
        for label, result in results.items():
            without = result["without_us"]
            base50, base99 = percentile(without, 0.5), percentile(without, 0.99)
            statuses = result["statuses"]
            for variant, what in (
                ("cached", "answered from the per-instance cache (steady state: one read per key per 2 s)"),
                ("uncached", "cache off: every call builds, signs and parses a BatchGetItem (network not included)"),
            ):
                samples = result[f"{variant}_us"]
                p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
                row = Measurement(
                    row="handlers",
                    item=f"{name}: warm {label} with the revocation check, {variant}, p50",
                    value=round(p50, 1),
                    unit="us",
                    floor=round(base50, 1),
                    ratio=round(p50 / base50, 2),
                    target="figure only",
                    note=(
                        f"added p50 {p50 - base50:+.0f} us, p99 {p99 - base99:+.0f} us (p99 {p99:.0f} vs {base99:.0f} us); "
                        f"floor = the same handler without the check; {what}; {len(samples)} calls"
                    ),
                    details={
                        "p50_us": p50,
                        "p99_us": p99,
                        "without_p50_us": base50,
                        "without_p99_us": base99,
                        "store_reads": result["reads"] if variant == "uncached" else None,
                        "statuses": statuses,
                    },
                )
                if statuses != [200]:
                    row.status = ERROR
                    row.note = f"handler answered {statuses}, not a success: measurement invalid; " + row.note
                rows.append(row)
    return rows


def run() -> list[Measurement]:
    return cold_rows() + warm_rows() + revocation_rows()


def _debug() -> None:  # pragma: no cover - manual use
    print(json.dumps([row.as_dict() for row in run()], indent=2))
