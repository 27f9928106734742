"""The token cache: one JSON file only its owner can read, under $XDG_CACHE_HOME (or ~/.cache)."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

CACHE_DIR_NAME = "jwt-auth"


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / CACHE_DIR_NAME / "tokens.json"


class TokenCache:
    """Tokens by profile (issuer and client), kept in a 0600 file in a 0700 directory."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_file()

    def _read(self) -> dict[str, Any]:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return {}
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Someone widened the permissions: tighten them before trusting the file.
            os.chmod(self.path, 0o600)
        try:
            data = json.loads(self.path.read_text())
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tokens-", suffix=".json")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, profile: str) -> dict[str, Any] | None:
        entry = self._read().get(profile)
        return entry if isinstance(entry, dict) else None

    def put(self, profile: str, entry: dict[str, Any]) -> None:
        data = self._read()
        data[profile] = entry
        self._write(data)

    def update(self, profile: str, **values: Any) -> dict[str, Any]:
        entry = {**(self.get(profile) or {}), **values}
        self.put(profile, entry)
        return entry

    def delete(self, profile: str) -> None:
        data = self._read()
        if data.pop(profile, None) is not None:
            self._write(data)
