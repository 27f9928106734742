"""Synthesizes each environment once per source state, shared by every test process, and hands out its templates.

The cloud assembly of an environment is kept under `.build/synth/<source hash>/<env>/`: the first
process that needs it (one xdist worker, or a later `pytest` run) synthesizes it while holding a
file lock, writes it beside its final place and renames it there; the others wait on the lock and
read it. The hash covers every file that can change a synth (SYNTH_SOURCES), so an edit to the
stacks, the functions, the service, the contract, cdk.json or the pins gives a new folder. The
stage's constructs, which some tests inspect, are built (not synthesized) on first use in a
process that read the assembly from the cache; what the local stack needs (stack names, region,
account, kept beside the templates) and the environment's configuration are read without them.
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

    from local.templates import Assembly
    from stacks.config import EnvConfig
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
    # region, account and each stack's name (by construct id): what the local stack needs besides the templates
    layout: dict[str, Any] = field(default_factory=dict, repr=False)
    # the app's context beyond cdk.json's (`env`, and a changed `environments` block)
    context: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def stage(self) -> AuthStage:
        """The environment's stage (its constructs), built here if this process read the assembly from the cache."""
        if self._stage is None:
            from stacks.app_builder import build_app

            context = self.context or {"env": self.env}
            _, self._stage = build_app(context, outdir=tempfile.mkdtemp(prefix=f"cdk-{self.env}-"))
        return self._stage

    def assembly(self, only: tuple[str, ...] | None = None) -> Assembly:
        """The templates as the local stack reads them (local/templates.py), without building the
        stage's constructs: from the layout kept beside the templates. `only` keeps those stacks."""
        from local.templates import Assembly, StackTemplate

        layout = self.layout or _layout(self.stage)
        return Assembly(
            env=self.env,
            region=layout["region"],
            account=layout["account"],
            stacks={
                key: StackTemplate(construct_id=key, stack_name=name, template=self.templates[key])
                for key, name in layout["stacks"].items()
                if key in self.templates and (only is None or key in only)
            },
        )

    @functools.cached_property
    def config(self) -> EnvConfig:
        """The environment's configuration (stacks/config.py), read the way the app reads it,
        without building the stage when this process read the assembly from the cache."""
        if self._stage is not None:
            return self._stage.config
        import aws_cdk as cdk

        from stacks.app_builder import CDK_JSON
        from stacks.config import load_config

        context = {**json.loads(CDK_JSON.read_text())["context"], **(self.context or {"env": self.env})}
        return load_config(cdk.App(context=context, outdir=tempfile.mkdtemp(prefix=f"cdk-{self.env}-")).node)

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
    return _cached(env, env, {"env": env})


def _cached(env: str, name: str, context: dict[str, Any]) -> Synthesized:
    """The app for `context`, synthesized into `.build/synth/<source hash>/<name>` or read from there."""
    folder = CACHE_DIR / source_hash()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    with open(folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held until the assembly is in place: other processes wait, then read
        stage = None if (final / "templates.json").is_file() else _synthesize_into(env, context, folder, final)
    templates = json.loads((final / "templates.json").read_text())
    layout = json.loads((final / "layout.json").read_text())
    if stage is None:
        os.utime(folder)  # most recently used, for the pruning below
    else:
        _prune(keep=folder)
    return Synthesized(
        env=env, outdir=final / "cdk.out", templates=templates, _stage=stage, layout=layout, context=context
    )


def _layout(stage: AuthStage) -> dict[str, Any]:
    from local.templates import DEFAULT_ACCOUNT

    return {
        "region": stage.config.region,
        "account": stage.config.account or DEFAULT_ACCOUNT,
        "stacks": {stack.node.id: stack.stack_name for stack in stage.stacks},
    }


def synthesize_changed(
    env: str, change: Callable[[dict], None], before_synth: Callable[[AuthStage], None] | None = None
) -> Synthesized:
    """`env` synthesized after `change` edits a copy of its cdk.json config (and, when given,
    `before_synth` changes the built stage): for tests of a config path or of how one stack's
    change shows in another's template. A config change alone is cached like an environment, under
    a name from the changed config (the same change, the same assembly); with `before_synth` (code,
    which has no such name) it is synthesized afresh each time, about 4 s (2 cores)."""
    from stacks.app_builder import CDK_JSON, build_app

    environments = copy.deepcopy(json.loads(CDK_JSON.read_text())["context"]["environments"])
    change(environments[env])
    context = {"env": env, "environments": environments}
    if before_synth is None:
        name = f"{env}-changed-" + hashlib.sha256(json.dumps(environments, sort_keys=True).encode()).hexdigest()[:12]
        return _cached(env, name, context)
    outdir = Path(tempfile.mkdtemp(prefix=f"cdk-{env}-"))
    app, stage = build_app(context, outdir=str(outdir))
    before_synth(stage)
    assembly = app.synth()
    stage_assembly = assembly.get_nested_assembly(f"assembly-{stage.stage_name}")
    templates = {stack.node.id: stage_assembly.get_stack_artifact(stack.artifact_id).template for stack in stage.stacks}
    return Synthesized(env=env, outdir=outdir, templates=templates, _stage=stage, context=context)


def _synthesize_into(env: str, context: dict[str, Any], folder: Path, final: Path) -> Any:
    from stacks.app_builder import build_app

    work = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=folder))
    try:
        app, stage = build_app(context, outdir=str(work / "cdk.out"))
        assembly = app.synth()
        stage_assembly = assembly.get_nested_assembly(f"assembly-{stage.stage_name}")
        templates = {
            stack.node.id: stage_assembly.get_stack_artifact(stack.artifact_id).template for stack in stage.stacks
        }
        (work / "templates.json").write_text(json.dumps(templates))
        (work / "layout.json").write_text(json.dumps(_layout(stage)))
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
