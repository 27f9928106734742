"""cfn-lint on every synthesized template: no errors, no warnings except those ignored by rule,
with a reason, in .cfnlintrc.yaml."""

from __future__ import annotations

import json
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
