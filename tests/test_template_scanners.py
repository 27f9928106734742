"""Scanners on every synthesized template: cfn-lint (no errors, no warnings except those ignored by
rule, with a reason, in .cfnlintrc.yaml) and checkov (no failed check except those skipped, with a
reason, in .checkov.yaml). pip-audit over the pins needs PyPI: tests/test_dependency_audit.py.

A clean verdict on byte-identical input (template, settings, scanner pins) is reused from
`.build/scan` (tests/scan_cache.py); findings always come from a fresh run."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from tests import scan_cache
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


def cfn_lint(template: str) -> list[str]:
    """cfn-lint's findings on `template` (text), with the project's settings; none when a clean
    verdict on the same input is kept."""
    key = scan_cache.digest("cfn-lint", template)
    if scan_cache.clean_verdict(key) is not None:
        return []
    matches = [
        str(match)
        for match in lint(
            template, config=ManualArgs(regions=SETTINGS["regions"], ignore_checks=SETTINGS["ignore_checks"])
        )
    ]
    if not matches:
        scan_cache.keep_clean_verdict(key, {"matches": []})
    return matches


@pytest.mark.parametrize(("env", "stack"), TEMPLATES, ids=[f"{env}-{stack}" for env, stack in TEMPLATES])
def test_cfn_lint_finds_nothing(env, stack):
    assert cfn_lint(json.dumps(synthesize(env).templates[stack])) == []


def test_cfn_lint_finds_nothing_in_the_deploy_access_stack():
    template = (synthesize("test").outdir / "jwt-auth-deploy-access.template.json").read_text()
    assert cfn_lint(template) == []


def test_a_kept_verdict_is_only_for_the_same_input(tmp_path, monkeypatch):
    """Another template, setting or pin is another key; a finding is never kept."""
    monkeypatch.setattr(scan_cache, "CACHE_DIR", tmp_path)
    template = json.dumps(synthesize("test").templates["Identity"])
    assert scan_cache.digest("cfn-lint", template) == scan_cache.digest("cfn-lint", template)
    assert scan_cache.digest("cfn-lint", template) != scan_cache.digest("cfn-lint", template + " ")
    assert scan_cache.digest("cfn-lint", template) != scan_cache.digest("checkov", template)
    broken = json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"NoSuchProperty": 1}}}})
    assert cfn_lint(broken) != []
    assert scan_cache.clean_verdict(scan_cache.digest("cfn-lint", broken)) is None
    assert cfn_lint(template) == []
    assert scan_cache.clean_verdict(scan_cache.digest("cfn-lint", template)) == {"matches": []}
    monkeypatch.setenv(scan_cache.CACHE_ENV, "0")
    assert scan_cache.clean_verdict(scan_cache.digest("cfn-lint", template)) is None


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


CheckovResult = tuple[int, dict[str, Any], str]  # exit status, the CloudFormation report, stderr


def _cloudformation_report(stdout: str) -> dict[str, Any]:
    reports = json.loads(stdout)
    reports = reports if isinstance(reports, list) else [reports]
    [report] = [r for r in reports if r["check_type"] == "cloudformation"]
    return report


@pytest.fixture(scope="module", autouse=True)
def checkov_run(template_dir: Path) -> Iterator[tuple[str, Callable[[], CheckovResult]]]:
    """checkov, started with this module's first test: it runs while cfn-lint does (unless a clean
    verdict on the same templates is kept). Yields the verdict's key and a function that waits for it."""
    files = sorted(template_dir.glob("*.json"))
    key = scan_cache.digest("checkov", *(f"{path.name}\n{path.read_text()}" for path in files))
    kept = scan_cache.clean_verdict(key)
    if kept is not None:
        yield key, lambda: (0, kept, "")
        return
    command = [_scanner("checkov"), "--config-file", str(CHECKOV_CONFIG), "-d", str(template_dir), "-o", "json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603

    def finish() -> CheckovResult:
        stdout, stderr = process.communicate(timeout=600)
        return process.returncode, _cloudformation_report(stdout), stderr

    yield key, finish
    if process.poll() is None:
        process.kill()


def test_checkov_finds_no_failed_check_in_any_template(checkov_run: tuple[str, Callable[[], CheckovResult]]) -> None:
    key, finish = checkov_run
    returncode, report, stderr = finish()
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['file_path']} {check['resource']}" for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] > 0 and summary["passed"] > 0, "checkov scanned nothing"
    assert returncode == 0, stderr[-2000:]
    clean = {"check_type": report["check_type"], "summary": summary, "results": {"failed_checks": []}}
    scan_cache.keep_clean_verdict(key, clean)


def test_every_checkov_skip_is_commented_with_a_reason() -> None:
    lines = CHECKOV_CONFIG.read_text().splitlines()
    skips = [index for index, line in enumerate(lines) if line.strip().startswith("- CKV")]
    assert skips, "no skip-check entries found"
    for index in skips:
        assert lines[index - 1].strip().startswith("#"), f"{lines[index].strip()}: no reason written above it"
