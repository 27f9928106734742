"""Snapshots of every stack of every environment. A diff here is a real template change: review
it, then `make snapshot-update` (pytest --snapshot-update) and explain it in the commit message."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.synth import ENVIRONMENTS, normalized, synthesize

STACKS = [(env, stack) for env in ENVIRONMENTS for stack in ("Identity", "Api", "Web")]


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(("env", "stack"), STACKS, ids=[f"{env}-{stack}" for env, stack in STACKS])
def test_template_matches_snapshot(env, stack, json_snapshot):
    templates = synthesize(env).templates
    if stack not in templates:
        assert stack == "Web" and synthesize(env).stage.config.web is None
        assert json_snapshot == {"not synthesized": "environment has no web config"}
        return
    assert json_snapshot == normalized(templates[stack])
