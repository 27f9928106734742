"""Scanners on every synthesized template: cfn-lint (no errors, no warnings except those ignored by
rule, with a reason, in .cfnlintrc.yaml) and checkov (no failed check except those skipped, with a
reason, in .checkov.yaml). pip-audit over the pins needs PyPI: tests/test_dependency_audit.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from tests.synth import ENVIRONMENTS, synthesize

pytestmark = pytest.mark.scan

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = yaml.safe_load((ROOT / ".cfnlintrc.yaml").read_text())
_ENVIRONMENTS = json.loads((ROOT / "cdk.json").read_text())["context"]["environments"]
# Every stack each environment has (an environment without web config has no web stack).
TEMPLATES = [
    (env, stack)
    for env in ENVIRONMENTS
    for stack in ("Identity", "Api", "Web", "Waf", "Monitoring")
    if stack != "Web" or _ENVIRONMENTS[env].get("web")
    if stack != "Waf" or _ENVIRONMENTS[env].get("waf", {}).get("enabled", _ENVIRONMENTS[env]["production"])
]


@pytest.mark.parametrize(("env", "stack"), TEMPLATES, ids=[f"{env}-{stack}" for env, stack in TEMPLATES])
def test_cfn_lint_finds_nothing(env, stack):
    matches = lint(
        json.dumps(synthesize(env).templates[stack]),
        config=ManualArgs(regions=SETTINGS["regions"], ignore_checks=SETTINGS["ignore_checks"]),
    )
    assert [str(match) for match in matches] == []


def test_cfn_lint_finds_nothing_in_the_deploy_access_stack():
    template = (synthesize("test").outdir / "jwt-auth-deploy-access.template.json").read_text()
    matches = lint(template, config=ManualArgs(regions=SETTINGS["regions"], ignore_checks=SETTINGS["ignore_checks"]))
    assert [str(match) for match in matches] == []


# ------------------------------------------------------------------------------------------ checkov
# checkov runs from its own virtualenv (.venv-scan, made by scripts/setup.sh from requirements-scan.txt):
# its dependencies would conflict with the project's pins.

SCAN_BIN = ROOT / ".venv-scan" / "bin"
CHECKOV_CONFIG = ROOT / ".checkov.yaml"


def _scanner(name: str) -> str:
    path = SCAN_BIN / name
    assert path.is_file(), f"{path} is missing: run `make setup` (scripts/setup.sh makes .venv-scan)"
    return str(path)


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every synthesized template of every environment, plus the deploy-access stack, as files."""
    folder = tmp_path_factory.mktemp("templates")
    for env, stack in TEMPLATES:
        (folder / f"{env}-{stack}.template.json").write_text(json.dumps(synthesize(env).templates[stack]))
    deploy_access = synthesize("test").outdir / "jwt-auth-deploy-access.template.json"
    (folder / "deploy-access.template.json").write_text(deploy_access.read_text())
    return folder


@pytest.fixture(scope="module", autouse=True)
def checkov_run(template_dir: Path) -> Iterator[subprocess.Popen]:
    """checkov, started with this module's first test: it runs while cfn-lint does."""
    command = [_scanner("checkov"), "--config-file", str(CHECKOV_CONFIG), "-d", str(template_dir), "-o", "json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
    yield process
    if process.poll() is None:
        process.kill()


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=600)
    return process.returncode, stdout, stderr


def test_checkov_finds_no_failed_check_in_any_template(checkov_run: subprocess.Popen) -> None:
    returncode, stdout, stderr = _finish(checkov_run)
    reports = json.loads(stdout)
    reports = reports if isinstance(reports, list) else [reports]
    [report] = [r for r in reports if r["check_type"] == "cloudformation"]
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['file_path']} {check['resource']}" for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] > 0 and summary["passed"] > 0, "checkov scanned nothing"
    assert returncode == 0, stderr[-2000:]


def test_every_checkov_skip_is_commented_with_a_reason() -> None:
    lines = CHECKOV_CONFIG.read_text().splitlines()
    skips = [index for index, line in enumerate(lines) if line.strip().startswith("- CKV")]
    assert skips, "no skip-check entries found"
    for index in skips:
        assert lines[index - 1].strip().startswith("#"), f"{lines[index].strip()}: no reason written above it"
