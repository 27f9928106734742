"""Clean scanner verdicts, kept per exact input so that an unchanged template is not scanned again.

cfn-lint and checkov are pure functions of what they read: the template, the scanner's settings
file and the scanner itself. A verdict is kept under `.build/scan/<digest>.json`, where the digest
covers the scanner's name, the template text, the settings file, and the pins the scanner is
installed from (requirements-dev.txt and constraints.txt for cfn-lint in .venv, requirements-scan.txt
for checkov in .venv-scan). Any change to one of them is a different digest, so the scanner runs.

Only clean verdicts are kept (cfn-lint found nothing; checkov failed no check and parsed every
file): a finding is never replayed from the cache, it comes from a fresh run every time. A fresh
clone (CI) has no `.build/`, so every scanner runs there. `JWT_AUTH_SCAN_CACHE=0` ignores the
cache for one run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from tests import build_files

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".build" / "scan"
CACHE_ENV = "JWT_AUTH_SCAN_CACHE"
PINS = {
    "cfn-lint": ("requirements-dev.txt", "constraints.txt", ".cfnlintrc.yaml"),
    "checkov": ("requirements-scan.txt", ".checkov.yaml"),
}


def digest(scanner: str, *inputs: str) -> str:
    """The key of `scanner`'s verdict on `inputs` (template texts), with its settings and pins."""
    hasher = hashlib.sha256(scanner.encode() + b"\0")
    for name in PINS[scanner]:
        hasher.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    for text in inputs:
        hasher.update(hashlib.sha256(text.encode()).digest())
    return hasher.hexdigest()[:32]


def enabled() -> bool:
    return os.environ.get(CACHE_ENV, "1") != "0"


def clean_verdict(key: str) -> dict[str, Any] | None:
    """The clean verdict kept for `key`, if any."""
    if not enabled():
        return None
    verdict = build_files.read_json(CACHE_DIR / f"{key}.json")
    return verdict if isinstance(verdict, dict) else None


def keep_clean_verdict(key: str, verdict: dict[str, Any]) -> None:
    """Keeps `verdict` (call only for a clean one)."""
    build_files.write_json(CACHE_DIR / f"{key}.json", verdict)
