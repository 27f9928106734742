"""local.templates.synthesize: the cloud assembly it synthesizes into never outlives the call.

Each `make local` synthesizes the app into a temporary folder (~20 MB with the staged assets);
it must be gone once the templates are read, and also when synth fails.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from local import templates


class FakeStack:
    def __init__(self, construct_id: str) -> None:
        self.node = types.SimpleNamespace(id=construct_id)
        self.artifact_id = f"artifact-{construct_id}"
        self.stack_name = f"jwt-auth-dev-{construct_id.lower()}"


def fake_app_builder(monkeypatch: pytest.MonkeyPatch, outdirs: list[Path], *, fail: bool = False) -> None:
    """Stands in for stacks.app_builder: writes an assembly-sized file into `outdir`, like synth."""

    def build_app(context: dict[str, Any], outdir: str) -> tuple[Any, Any]:
        outdirs.append(Path(outdir))
        stage = types.SimpleNamespace(
            stage_name="dev", stacks=[FakeStack("Api")], config=types.SimpleNamespace(region="eu-west-1", account="1")
        )

        def synth() -> Any:
            (Path(outdir) / "asset.bin").write_bytes(b"\0" * 1024 * 1024)
            if fail:
                raise RuntimeError("synth failed")
            artifact = types.SimpleNamespace(template={"Resources": {}})
            nested = types.SimpleNamespace(get_stack_artifact=lambda artifact_id: artifact)
            return types.SimpleNamespace(get_nested_assembly=lambda name: nested)

        return types.SimpleNamespace(synth=synth), stage

    monkeypatch.setitem(sys.modules, "stacks.app_builder", types.SimpleNamespace(build_app=build_app))


def test_the_synth_folder_is_removed_once_the_templates_are_read(monkeypatch):
    outdirs: list[Path] = []
    fake_app_builder(monkeypatch, outdirs)
    assembly = templates.synthesize("dev")
    assert assembly.stack("Api").template == {"Resources": {}}
    assert len(outdirs) == 1 and not outdirs[0].exists()


def test_the_synth_folder_is_removed_when_synth_fails(monkeypatch):
    outdirs: list[Path] = []
    fake_app_builder(monkeypatch, outdirs, fail=True)
    with pytest.raises(RuntimeError):
        templates.synthesize("dev")
    assert len(outdirs) == 1 and not outdirs[0].exists()
