"""The synthesized templates the local stack is built from: synthesized in-process, or read from a file."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class StackTemplate:
    construct_id: str  # "Identity", "Api", "Web"
    stack_name: str  # "jwt-auth-dev-identity"
    template: dict[str, Any]


@dataclass(frozen=True)
class Assembly:
    """One environment's stacks, as the CDK app synthesizes them."""

    env: str
    region: str
    account: str
    stacks: dict[str, StackTemplate]  # by construct id

    def stack(self, construct_id: str) -> StackTemplate | None:
        return self.stacks.get(construct_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "region": self.region,
            "account": self.account,
            "stacks": {
                key: {"stackName": stack.stack_name, "template": stack.template} for key, stack in self.stacks.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Assembly:
        return cls(
            env=data["env"],
            region=data["region"],
            account=data.get("account") or DEFAULT_ACCOUNT,
            stacks={
                key: StackTemplate(construct_id=key, stack_name=value["stackName"], template=value["template"])
                for key, value in data["stacks"].items()
            },
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()))

    @classmethod
    def read(cls, path: Path) -> Assembly:
        return cls.from_json(json.loads(Path(path).read_text()))


def from_stage(env: str, stage: Any, templates: dict[str, dict[str, Any]]) -> Assembly:
    """An assembly from an `AuthStage` and its templates by construct id (what tests/synth.py holds).

    Stacks missing from `templates` are left out.
    """
    return Assembly(
        env=env,
        region=stage.config.region,
        account=stage.config.account or DEFAULT_ACCOUNT,
        stacks={
            stack.node.id: StackTemplate(
                construct_id=stack.node.id, stack_name=stack.stack_name, template=templates[stack.node.id]
            )
            for stack in stage.stacks
            if stack.node.id in templates
        },
    )


def synthesize(env: str) -> Assembly:
    """Synthesizes the app for `env` the way `cdk synth` does (cdk-nag included) and returns its templates.

    The cloud assembly (~20 MB with its staged assets) goes to a temporary folder that is removed
    once the templates are read, also when synth fails or is interrupted.
    """
    from stacks.app_builder import build_app  # imported here: the CDK and jsii load only when needed

    with tempfile.TemporaryDirectory(prefix=f"cdk-local-{env}-") as outdir:
        app, stage = build_app({"env": env}, outdir=outdir)
        cloud_assembly = app.synth()
        nested = cloud_assembly.get_nested_assembly(f"assembly-{stage.stage_name}")
        templates = {
            stack.node.id: json.loads(json.dumps(nested.get_stack_artifact(stack.artifact_id).template))
            for stack in stage.stacks
        }
        return from_stage(env, stage, templates)


def synthesize_in_child(env: str) -> Assembly:
    """`synthesize(env)` in a child process, so the CDK's Node process never lives in this one."""
    with tempfile.TemporaryDirectory(prefix="cdk-local-") as directory:
        target = Path(directory) / "assembly.json"
        command = [sys.executable, "-m", "local.templates", env, str(target)]
        result = subprocess.run(command, check=False)  # noqa: S603 - this interpreter, fixed arguments
        if result.returncode != 0:
            raise SystemExit(result.returncode)
        return Assembly.read(target)


def main(argv: list[str]) -> int:
    from stacks.config import ConfigError

    env, target = argv
    try:
        synthesize(env).write(Path(target))
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
