#!/usr/bin/env bash
# Installs what the project needs into the project itself, once: a supported Node
# (only when the one on PATH is older than 22), the pinned CDK CLI, the Python virtualenv and
# the scanners' virtualenv. Each part is skipped while the hash of its lock files is unchanged.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

NODE_MIN_MAJOR=22
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

log() { printf 'setup: %s\n' "$*" >&2; }

# fresh <stamp> <files...>: true when the stamp holds the current hash of the files.
fresh() {
  local stamp=$1
  shift
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(cat "$@" | sha256sum | cut -d' ' -f1)" ]
}
stamp() {
  local stamp=$1
  shift
  cat "$@" | sha256sum | cut -d' ' -f1 >"$stamp"
}
quietly() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    log "failed: $*"
    exit 1
  fi
}

node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# 1. Node: keep the system one if it is new enough, else a pinned Node 22 in tools/node22.
if [ "$(node_major)" -lt "$NODE_MIN_MAJOR" ] && ! { [ -x tools/node22/node_modules/.bin/node ] &&
  fresh tools/node22/.stamp tools/node22/package-lock.json; }; then
  command -v npm >/dev/null || { log "npm is required (Debian: apt-get install npm)"; exit 1; }
  log "node $(node --version 2>/dev/null || echo none) is older than $NODE_MIN_MAJOR: installing Node 22 into tools/node22"
  quietly npm ci --prefix tools/node22 --no-audit --no-fund
  stamp tools/node22/.stamp tools/node22/package-lock.json
fi
if [ -x tools/node22/node_modules/.bin/node ] && [ "$(node_major)" -lt "$NODE_MIN_MAJOR" ]; then
  export PATH="$root/tools/node22/node_modules/.bin:$PATH"
fi

# 2. The CDK CLI, pinned by package-lock.json.
if ! { [ -x node_modules/.bin/cdk ] && fresh node_modules/.stamp package-lock.json; }; then
  log "installing the CDK CLI (npm ci)"
  quietly npm ci --no-audit --no-fund
  stamp node_modules/.stamp package-lock.json
fi

# 3. Python virtualenv with the pinned synth and dev requirements.
locks=(requirements.txt requirements-dev.txt constraints.txt)
if ! { [ -x "$VENV/bin/python" ] && fresh "$VENV/.stamp" "${locks[@]}"; }; then
  log "creating $VENV and installing pinned requirements"
  [ -x "$VENV/bin/python" ] || quietly "$PYTHON" -m venv "$VENV"
  quietly "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r requirements-dev.txt -c constraints.txt
  stamp "$VENV/.stamp" "${locks[@]}"
fi

# 4. The scanners (checkov, pip-audit) in their own virtualenv: checkov's dependencies would
#    conflict with the pins above. tests/test_template_scanners.py runs them from here.
SCAN_VENV=${SCAN_VENV:-.venv-scan}
if ! { [ -x "$SCAN_VENV/bin/checkov" ] && [ -x "$SCAN_VENV/bin/pip-audit" ] && fresh "$SCAN_VENV/.stamp" requirements-scan.txt; }; then
  log "creating $SCAN_VENV and installing the pinned scanners"
  [ -x "$SCAN_VENV/bin/python" ] || quietly "$PYTHON" -m venv "$SCAN_VENV"
  quietly "$SCAN_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt
  stamp "$SCAN_VENV/.stamp" requirements-scan.txt
fi
