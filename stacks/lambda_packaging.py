"""Builds Lambda assets without Docker: function code staged with the shared modules, and a
dependencies layer installed from ARM64 wheels; and stages the web app's image context.

Both are content-addressed folders under `.build/`: they are made once and reused by every
later synth while their sources are unchanged, so synth stays fast and needs no Docker.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = ROOT / "lambdas"
BUILD_DIR = ROOT / ".build"
# Code every function gets beside its own folder: the claims/HTTP helpers, the contract, and the
# token checks every verifier shares (the web app's image gets those too: service_image_dir).
JWTCHECK_DIR = ROOT / "jwtcheck"
SHARED_SOURCES = (LAMBDAS_DIR / "shared", ROOT / "auth_contract", JWTCHECK_DIR)
SERVICE_DIR = ROOT / "service"
# Local tools stay out of the web app's image (the files service/.dockerignore lists).
SERVICE_LOCAL_ONLY = ("devtools.py", "devserver.py", ".dockerignore")
LAYER_REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
# The runtime the layer's wheels are chosen for: see PythonFunction.
LAYER_PYTHON_VERSION = "3.14"
LAYER_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "test_*.py", "*_test.py", ".pytest_cache")


def _source_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc" and "tests" not in path.parts
    )


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _publish(target: Path, build: Callable[[Path], None]) -> Path:
    """Builds into a temporary folder beside `target` and renames it into place, so that
    concurrent synths never see a half-written asset."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(work)
        try:
            os.rename(work, target)
        except OSError:
            if not target.exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def function_code_dir(function: str) -> Path:
    """A folder with `lambdas/<function>/`, `lambdas/shared/` and `auth_contract/`, ready to zip.

    The handler is addressed as `<function>.handler.lambda_handler`.
    """
    source = LAMBDAS_DIR / function
    if not (source / "handler.py").is_file():
        raise FileNotFoundError(f"no Lambda function at {source}/handler.py")
    folders = (source, *SHARED_SOURCES)
    files = [path for folder in folders for path in _source_files(folder)]

    def build(work: Path) -> None:
        for folder in folders:
            shutil.copytree(folder, work / folder.name, ignore=_IGNORED)

    return _publish(BUILD_DIR / "functions" / f"{function}-{_digest(files)}", build)


def service_image_dir() -> Path:
    """The web app's Docker build context: `Dockerfile`, `service/` and `jwtcheck/`.

    The web app imports the shared token checks (`jwtcheck`), which live beside it rather than
    inside it, so the context is staged here instead of being `service/` itself.
    """
    service_files = [
        path for path in _source_files(SERVICE_DIR) if path.relative_to(SERVICE_DIR).parts[0] not in SERVICE_LOCAL_ONLY
    ]
    files = [*service_files, *_source_files(JWTCHECK_DIR)]

    def build(work: Path) -> None:
        for path in service_files:
            target = work / "service" / path.relative_to(SERVICE_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        shutil.move(work / "service" / "Dockerfile", work / "Dockerfile")
        shutil.copytree(JWTCHECK_DIR, work / JWTCHECK_DIR.name, ignore=_IGNORED)

    return _publish(BUILD_DIR / "images" / f"service-{_digest(files)}", build)


def dependencies_layer_dir() -> Path:
    """A layer folder (`python/...`) with `lambdas/requirements.txt` installed from ARM64 wheels.

    Made once per version of the requirements file with pip's cross-platform download, so
    no Docker and no compiler are needed; `make setup` runs it ahead of the first synth.
    """

    def build(work: Path) -> None:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--only-binary=:all:", "--implementation", "cp",
            "--python-version", LAYER_PYTHON_VERSION,
            *(arg for platform in LAYER_PLATFORMS for arg in ("--platform", platform)),
            "--target", str(work / "python"), "-r", str(LAYER_REQUIREMENTS),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (fixed argv, no shell)
        if result.returncode != 0:
            raise RuntimeError(f"building the Lambda dependencies layer failed:\n{result.stderr}")
        for junk in (work / "python").glob("*/tests"):
            shutil.rmtree(junk)
        for cache in (work / "python").rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)

    return _publish(BUILD_DIR / "layers" / f"dependencies-{_digest([LAYER_REQUIREMENTS])}", build)


if __name__ == "__main__":
    print(dependencies_layer_dir())
