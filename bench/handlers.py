"""Row 3: each Lambda handler's cold import time and warm per-invocation latency, vs the floor handler
(bench/floor_handler.py: it only returns json.dumps of the claims); and what the revocation check
adds to a warm handler, against the same handler without it.

Each cold-import row also splits the import (one run with -X importtime) between Powertools,
PyJWT/cryptography, boto3/botocore, the project's own modules and the standard library
(`import_split`). A module moved from import time to first use leaves this figure but not the
cold start: lambdas/shared/revocation.py says why boto3 stays imported at module level."""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
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


# The groups of the cold-import split, by top-level package; the project's own packages are added
# from lambdas/ (every function, shared) by _group().
IMPORT_GROUPS = {
    "aws_lambda_powertools": "powertools",
    "jwt": "pyjwt/cryptography",
    "cryptography": "pyjwt/cryptography",
    "boto3": "boto3/botocore",
    "botocore": "boto3/botocore",
    "s3transfer": "boto3/botocore",
}
PROJECT_PACKAGES = frozenset({"shared", "auth_contract", "jwtcheck"})
PROJECT = "project"
STDLIB = "stdlib"


@dataclass
class _Import:
    name: str
    depth: int
    self_us: int
    children: list[_Import] = field(default_factory=list)


def _imports(stderr: str, start_after: str = "bench.lambda_env") -> list[_Import]:
    """The import tree that `-X importtime` printed after `start_after` (its roots, in order).

    Each module's line comes after those of the imports it made, indented one step deeper, so the
    lines just before a module that are deeper than it are its children.
    """
    started = False
    stack: list[_Import] = []
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if not match:
            continue
        name = match.group(4)
        if not started:
            started = name == start_after  # everything before is the worker's own start-up
            continue
        node = _Import(name, len(match.group(3)) // 2, int(match.group(1)))
        while stack and stack[-1].depth > node.depth:
            node.children.insert(0, stack.pop())
        stack.append(node)
    return stack


def _group(module: str, functions: frozenset[str]) -> str | None:
    top = module.partition(".")[0]
    if top in PROJECT_PACKAGES or top in functions:
        return PROJECT
    if top in IMPORT_GROUPS:
        return IMPORT_GROUPS[top]
    return STDLIB if top in sys.stdlib_module_names else None


def import_split(stderr: str, functions: frozenset[str] = frozenset()) -> dict[str, dict[str, float]]:
    """Self times (ms) of everything imported, by group (`own`: powertools, pyjwt/cryptography,
    boto3/botocore, project, stdlib), and the standard library's by the group that imported it
    first (`stdlib_imported_by`).

    Standard library modules count as `stdlib`, whoever imports them (which group comes first to
    `logging` is an accident of import order). Any other module counts for the group of the nearest
    module up its import chain that has one (itself first): urllib3 and dateutil are boto3's,
    jmespath is Powertools' or botocore's, whichever needs it first. python -X importtime does not
    time a module loaded by importlib.import_module (the handler itself), so its direct imports are
    the roots of the tree and count as the project's.
    """
    groups = (*dict.fromkeys(IMPORT_GROUPS.values()), PROJECT)
    own = dict.fromkeys((*groups, STDLIB), 0.0)
    stdlib_by = dict.fromkeys(groups, 0.0)

    def add(node: _Import, inherited: str) -> None:
        group = _group(node.name, functions) or inherited
        own[group] += node.self_us / 1000
        if group == STDLIB:
            stdlib_by[inherited] += node.self_us / 1000
        for child in node.children:
            add(child, inherited if group == STDLIB else group)

    for root in _imports(stderr):
        add(root, PROJECT)
    return {
        "own": {group: round(ms, 1) for group, ms in own.items()},
        "stdlib_imported_by": {group: round(ms, 1) for group, ms in stdlib_by.items()},
    }


def _heaviest(stderr: str, count: int = 4) -> dict[str, float]:
    """The packages whose own modules cost the import the most, in ms (self times by top-level
    package, so boto3 shows as boto3/botocore even when it comes in through shared/)."""
    own: dict[str, float] = defaultdict(float)

    def add(node: _Import) -> None:
        own[node.name.partition(".")[0]] += node.self_us / 1000
        for child in node.children:
            add(child)

    for root in _imports(stderr):
        add(root)
    return {name: round(ms, 1) for name, ms in sorted(own.items(), key=lambda pair: -pair[1])[:count]}


def _import_profile(module: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """One run of `module`'s cold import with -X importtime: its heaviest packages and the split."""
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        _, result = timed_run(
            [python(), "-X", "importtime", "-m", WORKER, str(Path(scratch) / "out.json"), "cold", module]
        )
    return _heaviest(result.stderr), import_split(result.stderr, frozenset(functions()))


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
        heaviest, split = _import_profile(f"{name}.handler")
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
                note=f"CPU {median(cpu[name]):.0f} ms, fastest run {min(samples[name]):.0f} ms; split (-X importtime): "
                + ", ".join(f"{group} {ms:.0f} ms" for group, ms in split["own"].items())
                + " (stdlib first imported by "
                + ", ".join(f"{group} {ms:.0f}" for group, ms in split["stdlib_imported_by"].items() if ms >= 0.5)
                + "); heaviest (own modules): "
                + ", ".join(f"{package} {ms:.0f} ms" for package, ms in heaviest.items()),
                details={
                    "runs_ms": [round(s, 1) for s in samples[name]],
                    "cpu_runs_ms": [round(s, 1) for s in cpu[name]],
                    "floor_runs_ms": [round(s, 2) for s in floor_runs],
                    "heaviest_imports_ms": heaviest,
                    "import_split_ms": split,
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
            statuses, expected = result["statuses"], result["expected"]
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
                    "expected_status": expected,
                },
            )
            if statuses != [expected]:
                # A refusal is not the success path being measured: the event, not the speed, is wrong.
                row.status = ERROR
                row.note = f"handler answered {statuses}, not {expected}: measurement invalid; " + row.note
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
            statuses, expected = result["statuses"], result["expected"]
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
                        "expected_status": expected,
                    },
                )
                if statuses != [expected]:
                    row.status = ERROR
                    row.note = f"handler answered {statuses}, not {expected}: measurement invalid; " + row.note
                rows.append(row)
    return rows


def run() -> list[Measurement]:
    return cold_rows() + warm_rows() + revocation_rows()


def _debug() -> None:  # pragma: no cover - manual use
    print(json.dumps([row.as_dict() for row in run()], indent=2))
