"""Synthesizes each environment once per source state, shared by every test process, and hands out its templates.

The cloud assembly of an environment is kept under `.build/synth/<source hash>/<env>/`: the first
process that needs it (one xdist worker, or a later `pytest` run) synthesizes it while holding a
file lock, writes it beside its final place and renames it there; the others wait on the lock and
read it. The hash covers every file that can change a synth (SYNTH_SOURCES), so an edit to the
stacks, the functions, the service, the contract, cdk.json or the pins gives a new folder. The
stage's constructs, which some tests inspect, are built (not synthesized) on first use in a
process that read the assembly from the cache.
"""

from __future__ import annotations

import copy
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

    from stacks.stage import AuthStage

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("dev", "prod", "test")
_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
CACHE_DIR = ROOT / ".build" / "synth"
CACHE_KEEP = 3  # source states kept (the newest); older ones are removed when a new one is made
# Everything a synth reads: the stacks, what they package (functions, contract, service image
# context), the app and its context, the pins (aws-cdk-lib, cdk-nag) and this file.
SYNTH_SOURCES = (
    "app.py",
    "auth_contract",
    "cdk.json",
    "constraints.txt",
    "jwtcheck",
    "lambdas",
    "requirements.txt",
    "requirements-dev.txt",
    "service",
    "stacks",
    "tests/synth.py",
)


@dataclass
class Synthesized:
    """One environment's synthesized cloud assembly."""

    env: str
    outdir: Path
    templates: dict[str, dict]  # by stack construct id: "Identity", "Api", "Web"
    _stage: AuthStage | None = field(default=None, repr=False)

    @property
    def stage(self) -> AuthStage:
        """The environment's stage (its constructs), built here if this process read the assembly from the cache."""
        if self._stage is None:
            from stacks.app_builder import build_app

            _, self._stage = build_app({"env": self.env}, outdir=tempfile.mkdtemp(prefix=f"cdk-{self.env}-"))
        return self._stage

    def template(self, stack: str) -> Template:
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[stack])


def source_hash() -> str:
    """A digest of every file in SYNTH_SOURCES (path and content), and the Python version."""
    digest = hashlib.sha256(sys.version.encode())
    for name in SYNTH_SOURCES:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc" or ".pytest_cache" in file.parts:
                continue
            digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def synthesize(env: str) -> Synthesized:
    """The app for `env`, synthesized (cdk-nag runs as a validation plugin: findings fail here) or read from the cache."""
    folder = CACHE_DIR / source_hash()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / env
    with open(folder / f"{env}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held until the assembly is in place: other processes wait, then read
        stage = None if (final / "templates.json").is_file() else _synthesize_into(env, folder, final)
    templates = json.loads((final / "templates.json").read_text())
    if stage is None:
        os.utime(folder)  # most recently used, for the pruning below
    else:
        _prune(keep=folder)
    return Synthesized(env=env, outdir=final / "cdk.out", templates=templates, _stage=stage)


def synthesize_changed(
    env: str, change: Callable[[dict], None], before_synth: Callable[[AuthStage], None] | None = None
) -> Synthesized:
    """`env` synthesized afresh after `change` edits a copy of its cdk.json config (and, when given,
    `before_synth` changes the built stage): for tests of a config path or of how one stack's
    change shows in another's template. Never cached; about 4 s each (2 cores)."""
    from stacks.app_builder import CDK_JSON, build_app

    environments = copy.deepcopy(json.loads(CDK_JSON.read_text())["context"]["environments"])
    change(environments[env])
    outdir = Path(tempfile.mkdtemp(prefix=f"cdk-{env}-"))
    app, stage = build_app({"env": env, "environments": environments}, outdir=str(outdir))
    if before_synth is not None:
        before_synth(stage)
    assembly = app.synth()
    stage_assembly = assembly.get_nested_assembly(f"assembly-{stage.stage_name}")
    templates = {stack.node.id: stage_assembly.get_stack_artifact(stack.artifact_id).template for stack in stage.stacks}
    return Synthesized(env=env, outdir=outdir, templates=templates, _stage=stage)


def _synthesize_into(env: str, folder: Path, final: Path) -> Any:
    from stacks.app_builder import build_app

    work = Path(tempfile.mkdtemp(prefix=f".{env}-", dir=folder))
    try:
        app, stage = build_app({"env": env}, outdir=str(work / "cdk.out"))
        assembly = app.synth()
        stage_assembly = assembly.get_nested_assembly(f"assembly-{stage.stage_name}")
        templates = {
            stack.node.id: stage_assembly.get_stack_artifact(stack.artifact_id).template for stack in stage.stacks
        }
        (work / "templates.json").write_text(json.dumps(templates))
        shutil.rmtree(final, ignore_errors=True)  # a partial folder from an interrupted run
        os.rename(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return stage


def _prune(keep: Path) -> None:
    """Removes all but the CACHE_KEEP most recently used source states (never `keep`)."""
    states = sorted((p for p in CACHE_DIR.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [state for state in states if state != keep][CACHE_KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def normalized(template: dict) -> dict:
    """The template with asset hashes masked, so a snapshot diff means a real template change."""
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))
