"""Synthesizes each environment once per test session and hands out its templates."""

from __future__ import annotations

import copy
import functools
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aws_cdk.assertions import Template

from stacks.app_builder import CDK_JSON, build_app
from stacks.stage import AuthStage

ENVIRONMENTS = ("dev", "prod", "test")
_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


@dataclass(frozen=True)
class Synthesized:
    """One environment's synthesized cloud assembly."""

    stage: AuthStage
    outdir: Path
    templates: dict[str, dict]  # by stack construct id: "Identity", "Api", "Web"

    def template(self, stack: str) -> Template:
        return Template.from_json(self.templates[stack])


@functools.cache
def synthesize(env: str) -> Synthesized:
    """The app for `env`, synthesized (cdk-nag runs as a validation plugin: findings fail here)."""
    return _synthesize({"env": env})


def synthesize_changed(
    env: str, change: Callable[[dict], None], before_synth: Callable[[AuthStage], None] | None = None
) -> Synthesized:
    """`env` synthesized afresh after `change` edits a copy of its cdk.json config (and, when given,
    `before_synth` changes the built stage): for tests of a config path or of how one stack's
    change shows in another's template. Not cached; about 4 s each (2 cores)."""
    environments = copy.deepcopy(json.loads(CDK_JSON.read_text())["context"]["environments"])
    change(environments[env])
    return _synthesize({"env": env, "environments": environments}, before_synth)


def _synthesize(context: dict, before_synth: Callable[[AuthStage], None] | None = None) -> Synthesized:
    env = context["env"]
    outdir = Path(tempfile.mkdtemp(prefix=f"cdk-{env}-"))
    app, stage = build_app(context, outdir=str(outdir))
    if before_synth is not None:
        before_synth(stage)
    assembly = app.synth()
    stage_assembly = assembly.get_nested_assembly(f"assembly-{stage.stage_name}")
    templates = {stack.node.id: stage_assembly.get_stack_artifact(stack.artifact_id).template for stack in stage.stacks}
    return Synthesized(stage=stage, outdir=outdir, templates=templates)


def normalized(template: dict) -> dict:
    """The template with asset hashes masked, so a snapshot diff means a real template change."""
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))
