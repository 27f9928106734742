"""pip-audit over every pin (no known vulnerability in a pinned requirement): the audit tier.

It asks PyPI, so it is not part of `make test` (which needs no network): `make test-audit` runs
it (`-m audit`; JWT_AUTH_AUDIT=1 adds it to any run), and CI (.ci/run) runs that after `make test`.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.audit

ROOT = Path(__file__).resolve().parent.parent
# pip-audit runs from the scanners' virtualenv (.venv-scan, made by scripts/setup.sh from
# requirements-scan.txt): its dependencies would conflict with the project's pins.
PIP_AUDIT = ROOT / ".venv-scan" / "bin" / "pip-audit"
PINNED_REQUIREMENTS = ("constraints.txt", "lambdas/requirements.txt", "service/requirements.txt")
PYPI = "https://pypi.org/pypi"
# Pins older than the newest release on PyPI (see test_pip_audit_...): each with why it stays.
OLDER_PINS_EXPLAINED = {
    "aws-cdk.asset-awscli-v1": "aws-cdk-lib 2.275.0 requires exactly 2.2.292",
    "boto3": "pinned in requirements-dev.txt with the tests' moto; the Lambda runtime brings its own boto3",
    "hypothesis": "test-only, pinned in requirements-dev.txt; upgraded deliberately, not by a scan",
    "mypy": "type-check-only, pinned in requirements-dev.txt; upgraded deliberately (a release can add errors), not by a scan",
    "mpmath": "sympy (moto's) requires mpmath<1.4; test-only",
    "networkx": "3.7 needs Python 3.12 and the project supports 3.11; test-only (cfn-lint)",
    "python-dateutil": "botocore requires python-dateutil<3",
    "ruff": "lint-only, pinned in requirements-dev.txt; upgraded deliberately, not by a scan",
    "typeguard": "jsii (the CDK's Python runtime) requires exactly typeguard 2.13.3",
}


def _run_pip_audit() -> subprocess.CompletedProcess[str]:
    assert PIP_AUDIT.is_file(), f"{PIP_AUDIT} is missing: run `make setup` (scripts/setup.sh makes .venv-scan)"
    command = [str(PIP_AUDIT), "--disable-pip", "--no-deps", "--progress-spinner", "off", "-f", "json"]
    for name in PINNED_REQUIREMENTS:
        command += ["-r", str(ROOT / name)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603


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
    audit = _run_pip_audit()
    assert audit.stdout.strip(), f"pip-audit gave no report (network down?):\n{audit.stderr[-2000:]}"
    report = json.loads(audit.stdout)
    vulnerable = {dep["name"]: dep["vulns"] for dep in report["dependencies"] if dep.get("vulns")}
    assert vulnerable == {}
    assert audit.returncode == 0, audit.stderr[-2000:]

    audited = {dep["name"].lower() for dep in report["dependencies"] if "skip_reason" not in dep}
    unaudited = sorted(package for package in _pins() if package not in audited)
    with ThreadPoolExecutor(max_workers=16) as pool:
        projects = dict(zip(unaudited, pool.map(_pypi_project, unaudited), strict=True))

    pins = _pins()
    unexplained = []
    for package, project in sorted(projects.items()):
        version, newest = pins[package], project["info"]["version"]
        if version == newest:
            assert project["vulnerabilities"] == [], f"{package}=={version}: {project['vulnerabilities']}"
        elif package not in OLDER_PINS_EXPLAINED and package.replace("-", ".") not in OLDER_PINS_EXPLAINED:
            unexplained.append(f"{package}=={version} (newest {newest})")
    assert unexplained == [], "pins that could not be audited: upgrade them or explain them in OLDER_PINS_EXPLAINED"
