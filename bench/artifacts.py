"""Row 5: what gets shipped. Each Lambda function asset and layer a fresh synth references (zipped
and unzipped), the web app's container build context as Docker would send it (.dockerignore
honoured), and a scan of all of them for test and development files.

The assets are read from the synthesized assembly itself (template `Code.S3Key` → the stack's
assets manifest → the staged folder), so the figures are those of what `cdk deploy` would upload.
"""

from __future__ import annotations

import filecmp
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT, Measurement, error, module_missing, timed_run, toolchain_env, verdict

FUNCTION_TARGET_BYTES = 1024 * 1024
MB = 1024 * 1024
_DEV_DIRS = {"tests", "test", "__pycache__", ".pytest_cache", ".hypothesis"}
_DEV_FILE = re.compile(r"(^test_.*\.py$)|(^.*_test\.py$)|(^conftest\.py$)|(\.py[co]$)")


@dataclass(frozen=True)
class Asset:
    kind: str  # "function", "layer", "container context"
    name: str
    folder: Path
    files: tuple[Path, ...]  # relative to folder


def dev_files(files: tuple[Path, ...]) -> list[str]:
    """Test or development files among `files`: tests/, test_*.py, *_test.py, conftest.py, caches, byte code."""
    found = []
    for path in files:
        if _DEV_DIRS & set(path.parts[:-1]) or path.name in _DEV_DIRS or _DEV_FILE.search(path.name):
            found.append(str(path))
    return found


def _all_files(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(path.relative_to(folder) for path in folder.rglob("*") if path.is_file() or path.is_symlink()))


def sizes(folder: Path, files: tuple[Path, ...]) -> tuple[int, int]:
    """(unzipped bytes, zipped bytes) of `files` under `folder`, zipped with deflate as a Lambda zip would be."""
    unzipped = sum((folder / path).stat().st_size for path in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            archive.write(folder / path, str(path))
    return unzipped, len(buffer.getvalue())


# --------------------------------------------------------------------------- .dockerignore


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex over slash-separated paths."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            index += 2
            if pattern.startswith("/", index):
                index += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out) + r"\Z")


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = line[1:].strip() if negated else line
        line = os.path.normpath(line.lstrip("/")).replace(os.sep, "/")
        rules.append((negated, _pattern_regex(line)))
    return rules


def docker_context(folder: Path) -> tuple[Path, ...]:
    """The files `docker build folder` sends: everything .dockerignore does not exclude, plus the
    Dockerfile and .dockerignore themselves (Docker sends those even when they are listed)."""
    ignore = folder / ".dockerignore"
    rules = dockerignore_rules(ignore.read_text()) if ignore.exists() else []
    sent = []
    for path in _all_files(folder):
        text = path.as_posix()
        prefixes = [str(Path(*path.parts[: depth + 1]).as_posix()) for depth in range(len(path.parts))]
        excluded = False
        for negated, regex in rules:
            if any(regex.match(prefix) for prefix in prefixes):
                excluded = not negated
        if not excluded or text in {"Dockerfile", ".dockerignore"}:
            sent.append(path)
    return tuple(sent)


# --------------------------------------------------------------------------- the assembly


def _fresh_assembly(env_name: str, context: dict[str, Any]) -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="bench-artifacts-"))
    context["cleanup"].append(lambda: shutil.rmtree(scratch, ignore_errors=True))
    env = toolchain_env(CDK_OUTDIR=str(scratch), CDK_CONTEXT_JSON=json.dumps({"env": env_name}))
    _, result = timed_run([str(ROOT / "scripts" / "cdk-app")], env=env)
    if result.returncode != 0:
        raise RuntimeError(f"synth of {env_name} failed: {result.stderr.strip()[-800:]}")
    return scratch


def _manifests(outdir: Path) -> list[Path]:
    return sorted(outdir.rglob("*.assets.json"))


def assets_of(outdir: Path) -> list[Asset]:
    """Each function, layer and container image the assembly's templates reference, once."""
    found: dict[Path, Asset] = {}
    for manifest in _manifests(outdir):
        stack_dir = manifest.parent
        entries = json.loads(manifest.read_text())
        files = {
            key: (stack_dir / entry["source"]["path"]).resolve()
            for key, entry in entries.get("files", {}).items()
            if entry["source"].get("packaging") == "zip"
        }
        template_path = stack_dir / manifest.name.replace(".assets.json", ".template.json")
        template = json.loads(template_path.read_text()) if template_path.exists() else {"Resources": {}}
        for logical_id, resource in template.get("Resources", {}).items():
            properties = resource.get("Properties", {})
            code = properties.get("Code") or properties.get("Content") or {}
            key = code.get("S3Key") if isinstance(code, dict) else None
            folder = files.get(key.removesuffix(".zip")) if isinstance(key, str) else None
            if folder is None or folder in found:
                continue
            if resource["Type"] == "AWS::Lambda::Function":
                handler = str(properties.get("Handler", ""))
                # The project's functions are named by their folder; anything else (a CDK-provided
                # custom resource provider) by its logical id.
                name = (
                    handler.removesuffix(".handler.lambda_handler")
                    if handler.endswith(".handler.lambda_handler")
                    else f"{logical_id[:32]} ({handler or 'no handler'})"
                )
                found[folder] = Asset("function", name, folder, _all_files(folder))
            elif resource["Type"] == "AWS::Lambda::LayerVersion":
                found[folder] = Asset("layer", logical_id, folder, _all_files(folder))
        for image in entries.get("dockerImages", {}).values():
            folder = (stack_dir / image["source"]["directory"]).resolve()
            if folder not in found:
                found[folder] = Asset(
                    "container context", f"as CDK stages it ({folder.name[:18]})", folder, docker_context(folder)
                )
    return sorted(found.values(), key=lambda asset: (asset.kind, asset.name))


def _build_source(asset: Asset) -> str | None:
    """The .build/ folder the staged asset was copied from (same files, same bytes), for the project's own assets."""
    if asset.kind == "function":
        candidates = sorted((ROOT / ".build" / "functions").glob(f"{asset.name}-*"))
    elif asset.kind == "layer":
        candidates = sorted((ROOT / ".build" / "layers").glob("*"))
    else:
        return None
    for folder in candidates:
        if _all_files(folder) == asset.files and all(
            filecmp.cmp(folder / path, asset.folder / path, shallow=False) for path in asset.files
        ):
            return str(folder.relative_to(ROOT))
    return None


def run(env_name: str, context: dict[str, Any]) -> list[Measurement]:
    rows: list[Measurement] = []
    try:
        outdir = context.get("assembly") or _fresh_assembly(env_name, context)
        assets = assets_of(Path(outdir))
    except Exception as failure:  # noqa: BLE001 (a broken synth is a row, not a crash)
        return [error("artifacts", f"assets of a fresh {env_name} synth", str(failure))]
    missing = module_missing("service/Dockerfile")
    if missing is None:
        service = ROOT / "service"
        assets.append(Asset("container context", "service/ (.dockerignore)", service, docker_context(service)))
    offenders: dict[str, list[str]] = {}
    for asset in assets:
        unzipped, zipped = sizes(asset.folder, asset.files)
        found = dev_files(asset.files)
        if found:
            offenders[f"{asset.kind} {asset.name}"] = found
        is_function = asset.kind == "function"
        source = _build_source(asset)
        rows.append(
            Measurement(
                row="artifacts",
                item=f"{asset.kind}: {asset.name}",
                value=round(unzipped / MB, 3),
                unit="MB",
                target=f"<= {FUNCTION_TARGET_BYTES / MB:.0f} MB unzipped" if is_function else "",
                status=verdict(unzipped <= FUNCTION_TARGET_BYTES) if is_function else "info",
                note=f"zipped {zipped / MB:.3f} MB; {len(asset.files)} files"
                + (f"; built as {source}" if source else ""),
                details={
                    "source": source,
                    "unzipped_bytes": unzipped,
                    "zipped_bytes": zipped,
                    "files": len(asset.files),
                    "folder": str(asset.folder),
                },
            )
        )
    if missing is not None:
        rows.append(
            Measurement(
                row="artifacts",
                item="container context",
                status="n/a",
                note=f"not available yet (module {missing} missing)",
            )
        )
    rows.append(
        Measurement(
            row="artifacts",
            item="container image",
            status="n/a",
            note="not built: no Docker engine here (the build context above is what `docker build` would receive)",
        )
    )
    rows.append(
        Measurement(
            row="artifacts",
            item="test/dev files in any asset",
            value=sum(len(found) for found in offenders.values()),
            unit="files",
            target="0",
            status=verdict(not offenders),
            note="; ".join(f"{name}: {', '.join(found[:5])}" for name, found in offenders.items())
            or f"checked {len(assets)} assets",
            details={"offenders": offenders},
        )
    )
    return rows
