"""Row 1: synthesizing every stack of one environment vs an empty app (the jsii floor).

Both run as the CDK CLI would run them: a fresh interpreter through `scripts/cdk-app` (Node 22
first on PATH), the environment chosen by CDK_CONTEXT_JSON, the assembly written to a temporary
CDK_OUTDIR. Runs alternate (app, floor, app, floor, ...) so that load from other processes hits
both alike; one untimed warm-up of each first builds any changed Lambda asset under .build/.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, Measurement, error, median, python, run_worker, timed_run, toolchain_env, verdict

TARGET_RATIO = 1.5


def _synth_app(env_name: str, outdir: Path) -> float:
    env = toolchain_env(CDK_OUTDIR=str(outdir), CDK_CONTEXT_JSON=json.dumps({"env": env_name}))
    seconds, result = timed_run([str(ROOT / "scripts" / "cdk-app")], env=env)
    if result.returncode != 0:
        raise RuntimeError(f"synth of {env_name} failed: {result.stderr.strip()[-800:]}")
    return seconds


def _synth_empty(outdir: Path) -> float:
    seconds, result = timed_run([python(), "-m", "bench.empty_app", str(outdir)])
    if result.returncode != 0:
        raise RuntimeError(f"empty app synth failed: {result.stderr.strip()[-800:]}")
    return seconds


def run(env_name: str, runs: int, context: dict[str, Any]) -> list[Measurement]:
    """Also leaves the last assembly's directory in `context["assembly"]` for the artifacts row."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    context["cleanup"].append(lambda: shutil.rmtree(scratch, ignore_errors=True))
    item = f"synth {env_name} (median of {runs})"
    try:
        _synth_app(env_name, scratch / "warmup-app")
        _synth_empty(scratch / "warmup-empty")
        app_times, empty_times = [], []
        for index in range(runs):
            app_times.append(_synth_app(env_name, scratch / f"app-{index}"))
            empty_times.append(_synth_empty(scratch / f"empty-{index}"))
    except Exception as failure:  # noqa: BLE001 (a broken synth is a row in the table, not a crash)
        return [error("synth", item, str(failure))]
    context["assembly"] = scratch / f"app-{runs - 1}"
    figure, floor = median(app_times), median(empty_times)
    ratio = figure / floor
    try:
        phases = run_worker("bench.synth_worker", env_name)
    except Exception as failure:  # noqa: BLE001 (the breakdown is a note; the figure stands without it)
        phases = {"error": str(failure)[-300:]}
    nag = phases.get("warm build + synth", 0) - phases.get("warm build + synth without cdk-nag", 0)
    breakdown = (
        f"in-process: import aws_cdk {phases['import aws_cdk']:.1f} s, import stacks {phases['import stacks']:.1f} s, "
        f"build {phases['build app']:.1f} s, app.synth() {phases['app.synth()']:.1f} s (cdk-nag ~{nag:.1f} s of a warm build+synth)"
        if "error" not in phases
        else f"phase breakdown failed: {phases['error']}"
    )
    return [
        Measurement(
            row="synth",
            item=item,
            value=round(figure, 3),
            unit="s",
            floor=round(floor, 3),
            ratio=round(ratio, 2),
            target=f"<= {TARGET_RATIO}x floor",
            status=verdict(ratio <= TARGET_RATIO),
            note=f"floor: one empty stack, same Python/jsii/Node; {breakdown}",
            details={
                "app_runs_s": [round(t, 3) for t in app_times],
                "floor_runs_s": [round(t, 3) for t in empty_times],
                "phases_s": phases,
            },
        ),
    ]
