# The verbs of this project. Every target sets itself up first (scripts/setup.sh: a supported
# Node, the pinned CDK CLI, the virtualenv), which takes seconds when nothing changed.
ENV ?= dev
VENV := .venv
PYTHON := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
# actionlint from requirements-dev.txt. Its shellcheck/pyflakes hooks are off so that the result
# does not depend on what else a machine has installed.
ACTIONLINT := $(VENV)/bin/actionlint -shellcheck= -pyflakes=
# pytest-xdist: one worker per core, plus one (PYTEST_WORKERS=0 runs in one process). About a third
# of the suite's wall time is waiting, not CPU: fetch deadlines against slow key endpoints, the 2 s
# revocation cache in the end-to-end tests. The extra worker runs tests in those waits (2 cores:
# 74-78 s with 3 workers, 84 s with 2; docs/benchmarks.md). A worker takes a whole test file at a
# time, so a file's module fixtures (the local stack, checkov) start once; files go out in the order
# collected (--no-loadscope-reorder), which tests/schedule.py makes longest first.
PYTEST_WORKERS ?= $(shell python3 -c 'import os; print((os.cpu_count() or 1) + 1)')
PYTEST := $(PYTHON) -m pytest
PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
# The unit tier only computes (nothing to wait for): one worker per core is its best.
UNIT_WORKERS ?= $(if $(filter 0,$(PYTEST_WORKERS)),0,auto)
# Extra `cdk deploy` flags; CI passes --require-approval never (its approval is the GitHub environment).
CDK_DEPLOY_FLAGS ?=

# Use the project's Node 22 when the system one is older (jsii and the CDK CLI need 22+).
SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell [ "$(SYSTEM_NODE_MAJOR)" -lt 22 ] && echo old),old)
export PATH := $(CURDIR)/tools/node22/node_modules/.bin:$(PATH)
endif
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_CLI_NOTICES := false

.PHONY: setup synth test typecheck test-fast test-template test-e2e test-scan test-audit lint format bootstrap diff deploy destroy snapshot-update clean lock bench actionlint deploy-access test-deployed

setup:
	@bash scripts/setup.sh

synth: setup ## synthesize every stack of ENV (no AWS account needed)
	$(CDK) synth --quiet --no-notices -c env=$(ENV)
	@echo "synthesized $(ENV): cdk.out/assembly-jwt-auth-$(ENV)"

test: setup ## lint, format check, type check, workflow check and every test tier (all but the online audit), in parallel
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy
	$(ACTIONLINT)
	$(PYTEST) $(PARALLEL)

# mypy --strict over stacks/, lambdas/, service/, auth_contract/, client/ and jwtcheck/ ([tool.mypy] in
# pyproject.toml). Its cache in .build/mypy makes a run after the first take seconds.
typecheck: setup ## mypy --strict over the project's code (also part of `make test`)
	$(PYTHON) -m mypy

# One tier each (tests/tiers.py decides a test's tier from what it uses; README.md, "Tests").
test-fast: setup ## unit tier: no synth, no child processes, no network (a guard fails a test that tries)
	$(PYTEST) -m unit -n $(UNIT_WORKERS) --dist loadfile --no-loadscope-reorder

test-template: setup ## template tier: synthesized templates, cdk-nag, snapshots, logical IDs
	$(PYTEST) -m template $(PARALLEL)

test-e2e: setup ## local end-to-end tier: the local stack, loopback servers, child processes
	$(PYTEST) -m e2e $(PARALLEL)

test-scan: setup ## scanner tier: cfn-lint and checkov over every synthesized template
	$(PYTEST) -m scan $(PARALLEL)

test-audit: setup ## opt-in, needs PyPI: pip-audit over every pin (CI runs it after make test)
	$(PYTEST) -m audit

bench: setup ## figures vs their floors in one run (synth, tests, handlers, verifiers, artifacts, local gateway)
	$(PYTHON) -m bench

.PHONY: web-local
WEB_PORT ?= 8000
web-local: setup ## the web app on http://127.0.0.1:$(WEB_PORT)/ behind a local ALB stand-in (generated test key; docs/web.md)
	$(PYTHON) -m service.devserver --port $(WEB_PORT)

.PHONY: local
local: setup ## the ENV stacks on 127.0.0.1, no AWS account: issuer, HTTP API, real handlers, demo users (docs/local.md)
	$(PYTHON) -m local --env $(ENV)

lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

actionlint: setup ## check .github/workflows (also part of `make test`)
	$(ACTIONLINT)

deploy-access: setup ## once per account: GitHub OIDC provider + deploy role (context `ci`)
	$(CDK) deploy --no-notices jwt-auth-deploy-access

test-deployed: setup ## the opt-in suite against a real deployment: JWT_AUTH_OUTPUTS=outputs-dev.json
	@test -n "$$JWT_AUTH_OUTPUTS" || { echo "set JWT_AUTH_OUTPUTS to a stack outputs file (make deploy writes outputs-ENV.json); see docs/operations.md"; exit 2; }
	$(PYTHON) -m pytest tests/deployed -v

format: setup
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

snapshot-update: setup ## after reviewing a template change: rewrite the snapshots
	$(PYTHON) -m pytest tests/test_snapshots.py --snapshot-update

bootstrap: setup ## once per account and region: make bootstrap ACCOUNT=123456789012 REGION=eu-west-1
	@test -n "$(ACCOUNT)" -a -n "$(REGION)" || { echo "usage: make bootstrap ACCOUNT=<12-digit id> REGION=<region>"; exit 2; }
	$(CDK) bootstrap --no-notices aws://$(ACCOUNT)/$(REGION)

diff: setup
	$(CDK) diff --no-notices -c env=$(ENV) 'jwt-auth-$(ENV)/*'

deploy: setup
	$(CDK) deploy --no-notices $(CDK_DEPLOY_FLAGS) -c env=$(ENV) 'jwt-auth-$(ENV)/*' --outputs-file outputs-$(ENV).json

destroy: setup
	$(CDK) destroy --no-notices -c env=$(ENV) 'jwt-auth-$(ENV)/*'

lock: setup ## re-pin every transitive Python package after changing requirements*.txt
	$(PYTHON) -m pip freeze --exclude-editable | sed '1i # Full pins of every package in the dev virtualenv (pip freeze). Regenerate with `make lock`.' > constraints.txt

clean:
	rm -rf cdk.out .build .pytest_cache
