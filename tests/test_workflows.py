"""The GitHub workflows: valid (actionlint), every action pinned to a commit on a Node runtime
GitHub still runs, and the deploy jobs able to build the web image for its arm64 platform."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacks.lambda_packaging import SERVICE_DIR

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?:\s*#\s*(?P<comment>.*))?$")
# The first major of each action whose action.yml says `using: node24` (read from each action's
# repository at its release tag). Earlier majors run on Node 20, which GitHub has retired from its
# runners ("Deprecation of Node 20 on GitHub Actions runners", GitHub changelog).
NODE24_SINCE = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/setup-node": 5,
    "aws-actions/configure-aws-credentials": 6,
}
# What builds a linux/arm64 image on a runner: an arm64 runner, or QEMU + buildx set up first.
ARM64_RUNNER = re.compile(r"-arm\b")
EMULATION_ACTIONS = {"docker/setup-qemu-action", "docker/setup-buildx-action"}


def pinned_actions() -> list[tuple[str, str, str, str]]:
    """(workflow, action, ref, comment) of every `uses:` of a remote action."""
    found = []
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            match = USES.match(line)
            if match and not match["action"].startswith("./"):
                found.append((workflow.name, match["action"], match["ref"], match["comment"] or ""))
    return found


def jobs() -> list[tuple[str, str, dict]]:
    return [
        (workflow.name, name, job)
        for workflow in WORKFLOWS
        for name, job in (yaml.safe_load(workflow.read_text()).get("jobs") or {}).items()
    ]


def test_actionlint_accepts_the_workflows():
    actionlint = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    # As `make actionlint`: without its shellcheck/pyflakes hooks, so the result does not depend
    # on what else the machine has installed.
    result = subprocess.run(  # noqa: S603 (the pinned linter from requirements-dev.txt)
        [actionlint, "-shellcheck=", "-pyflakes="], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version():
    assert pinned_actions()
    for workflow, action, ref, comment in pinned_actions():
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{workflow}: {action}@{ref} is not a commit SHA"
        assert re.fullmatch(r"v\d+(\.\d+){0,2}", comment.strip()), f"{workflow}: {action} lacks its version comment"


@pytest.mark.parametrize("action", sorted(NODE24_SINCE))
def test_actions_run_on_a_node_version_github_still_supports(action):
    versions = [comment for _, used, _, comment in pinned_actions() if used == action]
    assert versions, f"{action} is not used: drop it from NODE24_SINCE"
    for version in versions:
        major = int(version.strip().lstrip("v").split(".")[0])
        assert major >= NODE24_SINCE[action], f"{action} {version} runs on Node 20"


def test_every_action_in_use_is_known_to_run_on_node24():
    assert {action for _, action, _, _ in pinned_actions()} <= set(NODE24_SINCE) | EMULATION_ACTIONS


def test_jobs_that_deploy_can_build_the_arm64_web_image():
    # `cdk deploy` builds service/Dockerfile for linux/arm64 with the runner's Docker.
    assert "linux/arm64" in (SERVICE_DIR / "Dockerfile").read_text()
    deploying = [
        (workflow, name, job)
        for workflow, name, job in jobs()
        if any("make deploy" in step.get("run", "") for step in job.get("steps", []))
    ]
    assert {name for _, name, _ in deploying} == {"deploy-dev", "deploy-prod"}
    for workflow, name, job in deploying:
        actions = {step.get("uses", "").split("@")[0] for step in job["steps"]}
        native = bool(ARM64_RUNNER.search(str(job["runs-on"])))
        assert native or actions >= EMULATION_ACTIONS, (
            f"{workflow} {name} runs on {job['runs-on']}: an x86 runner without QEMU cannot run the "
            "image's RUN steps for arm64 (exec format error)"
        )
