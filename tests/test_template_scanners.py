"""Scanners on every synthesized template and on the pins: cfn-lint (no errors, no warnings except
those ignored by rule, with a reason, in .cfnlintrc.yaml), checkov (no failed check except those
skipped, with a reason, in .checkov.yaml) and pip-audit (no known vulnerability in a pinned
requirement)."""

from __future__ import annotations

import atexit
import json
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from tests.synth import ENVIRONMENTS, synthesize

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


# --------------------------------------------------------------------------- checkov and pip-audit
# Both run from their own virtualenv (.venv-scan, made by scripts/setup.sh from requirements-scan.txt):
# checkov's dependencies would conflict with the project's pins.

SCAN_BIN = ROOT / ".venv-scan" / "bin"
CHECKOV_CONFIG = ROOT / ".checkov.yaml"
PINNED_REQUIREMENTS = ("constraints.txt", "lambdas/requirements.txt", "service/requirements.txt")
PYPI = "https://pypi.org/pypi"
# Pins older than the newest release on PyPI (see test_pip_audit_...): each with why it stays.
OLDER_PINS_EXPLAINED = {
    "aws-cdk.asset-awscli-v1": "aws-cdk-lib 2.275.0 requires exactly 2.2.292",
    "boto3": "pinned in requirements-dev.txt with the tests' moto; the Lambda runtime brings its own boto3",
    "hypothesis": "test-only, pinned in requirements-dev.txt; upgraded deliberately, not by a scan",
    "mpmath": "sympy (moto's) requires mpmath<1.4; test-only",
    "networkx": "3.7 needs Python 3.12 and the project supports 3.11; test-only (cfn-lint)",
    "python-dateutil": "botocore requires python-dateutil<3",
    "ruff": "lint-only, pinned in requirements-dev.txt; upgraded deliberately, not by a scan",
    "typeguard": "jsii (the CDK's Python runtime) requires exactly typeguard 2.13.3",
}


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


class _PipAudit:
    """pip-audit, then PyPI's project document for each pin it could not look up, in the background.

    Started when this module is collected: it mostly waits on PyPI while the rest of the suite runs.
    Any failure (no network included) is kept and raised by the test.
    """

    def __init__(self) -> None:
        self.returncode: int | None = None
        self.stdout = self.stderr = ""
        self.projects: dict[str, dict] = {}
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._process: subprocess.Popen | None = None
        if (SCAN_BIN / "pip-audit").is_file():
            command = [_scanner("pip-audit"), "--disable-pip", "--no-deps", "--progress-spinner", "off", "-f", "json"]
            for name in PINNED_REQUIREMENTS:
                command += ["-r", str(ROOT / name)]
            self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
            atexit.register(self._kill)
            self._thread.start()

    def _run(self) -> None:
        try:
            assert self._process is not None
            self.stdout, self.stderr = self._process.communicate(timeout=600)
            self.returncode = self._process.returncode
            if not self.stdout.strip():
                return
            report = json.loads(self.stdout)
            audited = {dep["name"].lower() for dep in report["dependencies"] if "skip_reason" not in dep}
            unaudited = sorted(package for package in _pins() if package not in audited)
            with ThreadPoolExecutor(max_workers=16) as pool:
                self.projects = dict(zip(unaudited, pool.map(_pypi_project, unaudited), strict=True))
        except BaseException as error:  # noqa: BLE001 (kept for the test to raise)
            self.error = error

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()

    def result(self) -> _PipAudit:
        assert self._process is not None, f"{SCAN_BIN / 'pip-audit'} is missing: run `make setup`"
        self._thread.join(timeout=900)
        assert not self._thread.is_alive(), "pip-audit did not finish"
        if self.error is not None:
            raise self.error
        return self


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


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for name in PINNED_REQUIREMENTS:
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                package, _, version = line.partition("==")
                assert version, f"{name}: {line!r} is not pinned with =="
                pins[package.split("[")[0].strip().lower().replace("_", "-")] = version.strip()
    return pins


def _pypi_project(package: str) -> dict:
    """The newest release and its advisories (`vulnerabilities`) from PyPI's project document."""
    with urllib.request.urlopen(f"{PYPI}/{package}/json", timeout=30) as response:  # noqa: S310 (fixed https URL)
        document = json.loads(response.read())
    return {"info": {"version": document["info"]["version"]}, "vulnerabilities": document["vulnerabilities"]}


def test_pip_audit_finds_no_known_vulnerability_in_the_pinned_requirements() -> None:
    """pip-audit on every pin; no network means a failure, not a pass.

    pip-audit asks PyPI for each pinned version's advisories (`/pypi/<name>/<version>/json`). A
    registry that serves only the project document (`/pypi/<name>/json`, advisories of the newest
    release) leaves pip-audit unable to look a pin up: such pins are checked here against that
    document instead, and a pin older than the newest release must be explained above.
    """
    audit = _PIP_AUDIT.result()
    assert audit.stdout.strip(), f"pip-audit gave no report (network down?):\n{audit.stderr[-2000:]}"
    report = json.loads(audit.stdout)
    vulnerable = {dep["name"]: dep["vulns"] for dep in report["dependencies"] if dep.get("vulns")}
    assert vulnerable == {}
    assert audit.returncode == 0, audit.stderr[-2000:]

    pins = _pins()
    unexplained = []
    for package, project in sorted(audit.projects.items()):
        version, newest = pins[package], project["info"]["version"]
        if version == newest:
            assert project["vulnerabilities"] == [], f"{package}=={version}: {project['vulnerabilities']}"
        elif package not in OLDER_PINS_EXPLAINED and package.replace("-", ".") not in OLDER_PINS_EXPLAINED:
            unexplained.append(f"{package}=={version} (newest {newest})")
    assert unexplained == [], "pins that could not be audited: upgrade them or explain them in OLDER_PINS_EXPLAINED"


# Last, so that everything its thread calls is defined.
_PIP_AUDIT = _PipAudit()
