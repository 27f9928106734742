"""Snapshots of every stack of every environment. A diff here is a real template change: review
it, then `make snapshot-update` (pytest --snapshot-update) and explain it in the commit message."""

from __future__ import annotations

import json

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.synth import ENVIRONMENTS, normalized, synthesize

STACKS = [(env, stack) for env in ENVIRONMENTS for stack in ("Identity", "Api", "Web", "Waf", "Monitoring")]
# Outside every stage, once per app (stacks/app_builder.py): the same in every environment's synth.
ACCOUNT_STACKS = ["jwt-auth-deploy-access"]


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(("env", "stack"), STACKS, ids=[f"{env}-{stack}" for env, stack in STACKS])
def test_template_matches_snapshot(env, stack, json_snapshot):
    templates = synthesize(env).templates
    if stack == "Waf" and stack not in templates:
        assert not synthesize(env).config.waf.enabled
        assert json_snapshot == {"not synthesized": "environment has WAF off"}
        return
    if stack not in templates:
        assert stack == "Web" and synthesize(env).config.web is None
        assert json_snapshot == {"not synthesized": "environment has no web config"}
        return
    assert json_snapshot == normalized(templates[stack])


@pytest.mark.parametrize("stack", ACCOUNT_STACKS)
def test_account_stack_template_matches_snapshot(stack, json_snapshot):
    template = json.loads((synthesize("test").outdir / f"{stack}.template.json").read_text())
    assert json_snapshot == normalized(template)
