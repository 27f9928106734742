"""Synthesizes each environment once per test session and hands out its templates."""

from __future__ import annotations

import functools
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aws_cdk.assertions import Template

from stacks.app_builder import build_app
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
    outdir = Path(tempfile.mkdtemp(prefix=f"cdk-{env}-"))
    app, stage = build_app({"env": env}, outdir=str(outdir))
    assembly = app.synth()
    stage_assembly = assembly.get_nested_assembly(f"assembly-{stage.stage_name}")
    templates = {stack.node.id: stage_assembly.get_stack_artifact(stack.artifact_id).template for stack in stage.stacks}
    return Synthesized(stage=stage, outdir=outdir, templates=templates)


def normalized(template: dict) -> dict:
    """The template with asset hashes masked, so a snapshot diff means a real template change."""
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))
