"""JSON files the test run keeps in `.build/` (the tier index, file durations, scanner verdicts).

Several pytest workers may write the same file at once, so a file is written whole beside its
place and renamed there; a reader sees the old file or the new one, never half of one. A file
that is missing or unreadable reads as absent: each is a cache, rebuilt by the next run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def read_json(path: Path) -> Any:
    """The file's JSON value; None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, value: Any, **dump: Any) -> None:
    """Writes `value` to `path` whole, then renames it into place (`dump`: json.dump's options)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump(value, out, **dump)
    os.replace(temporary, path)
