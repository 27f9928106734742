"""Puts every test in one tier (unit, template, e2e, scan, audit) from what its code uses, and guards the unit tier.

Tiers, lightest first (`make test-fast`, `test-template`, `test-e2e`, `test-scan`, `test-audit`):

- unit: in-process only: no synth, no child process, no socket (moto's in-process mocks are fine);
- template: builds or synthesizes CDK apps (tests/synth.py, aws_cdk, cdk-nag);
- e2e: real servers and child processes: the local stack, loopback HTTP servers, subprocesses;
- scan: the template scanners (cfn-lint, checkov);
- audit: pip-audit's online lookup of the pins (needs PyPI): runs only when asked for
  (`-m audit`, as `make test-audit` does, or JWT_AUTH_AUDIT=1).

A test's tier is the heaviest of: a tier marker on it, its class or its module (which wins over
everything else), else what its code reaches: the test function, every fixture it uses (with their
fixtures), its parameters, and, through them, the project's own functions and classes they name,
followed name by name. Reaching `aws_cdk`/`constructs`/`cdk_nag` or tests/synth.py makes a test
template; reaching a server class, `socket`, `subprocess`, `multiprocessing` or `local.testing`
makes it e2e; reaching `cfnlint` makes it scan. New test files need no list: they are tiered by
what they use. Unit tests then run under a guard (`unit_guard`) that fails a test which opens a
socket, starts a process or builds a CDK app anyway, naming the marker to add.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import socket
import socketserver
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, FunctionType, MethodType, ModuleType
from typing import Any

import pytest

from tests import build_files, schedule

ROOT = Path(__file__).resolve().parent.parent
TIERS = ("unit", "template", "e2e", "scan", "audit")  # lightest first
AUDIT_ENV = "JWT_AUTH_AUDIT"
# Project code is followed name by name; everything else is judged by the module it comes from.
PROJECT_DIRS = tuple(
    str(ROOT / name) + os.sep
    for name in ("tests", "local", "service", "client", "bench", "lambdas", "stacks", "auth_contract", "scripts")
)
MODULE_TIERS = {
    "aws_cdk": "template",
    "constructs": "template",
    "cdk_nag": "template",
    "jsii": "template",
    "tests.synth": "template",
    "socket": "e2e",
    "socketserver": "e2e",
    "http.server": "e2e",
    "subprocess": "e2e",
    "multiprocessing": "e2e",
    "concurrent.futures.process": "e2e",
    "local.testing": "e2e",
    "moto": "e2e",  # emulated AWS services behind the real handlers: integration, and slow to set up
    "cfnlint": "scan",
}


def tier_of_module(name: str) -> str | None:
    """The tier a module (or anything defined in it) puts a test in, by the longest matching package."""
    while name:
        if name in MODULE_TIERS:
            return MODULE_TIERS[name]
        name = name.rpartition(".")[0]
    return None


def heaviest(*tiers: str | None) -> str:
    return max((tier for tier in tiers if tier), key=TIERS.index, default="unit")


def _is_project_file(path: str | None) -> bool:
    return bool(path) and path.startswith(PROJECT_DIRS) and f"{os.sep}.venv" not in path  # type: ignore[union-attr]


class Classifier:
    """What tier the code reachable from a function, class or module needs (memoized per object)."""

    def __init__(self) -> None:
        self._seen: dict[int, str] = {}

    def of_value(self, value: Any, names: frozenset[str] = frozenset()) -> str:
        """The tier `value` brings in; `names` are the other names the referring code uses (its attributes)."""
        if isinstance(value, MethodType):
            value = value.__func__
        if isinstance(value, ModuleType):
            own = tier_of_module(value.__name__)
            if own or not _is_project_file(getattr(value, "__file__", None)):
                return own or "unit"
            # A project module: only the attributes the code uses from it count.
            return heaviest(*(self.of_value(getattr(value, name), names) for name in names if hasattr(value, name)))
        if isinstance(value, type) and issubclass(value, socketserver.BaseServer):
            return "e2e"
        module = getattr(value, "__module__", None)
        if not isinstance(module, str):
            return "unit"
        own = tier_of_module(module)
        if own:
            return own
        if isinstance(value, FunctionType | type) and _is_project_file(_source_file(value)):
            return self._follow(value)
        return "unit"

    def _follow(self, value: FunctionType | type) -> str:
        key = id(value)
        if key in self._seen:
            return self._seen[key]
        self._seen[key] = "unit"  # a cycle adds nothing
        if isinstance(value, type):
            tier = heaviest(
                *(self.of_value(base) for base in value.__mro__[1:] if base is not object),
                *(self._follow(member) for member in _functions_of(value)),
            )
        else:
            function = inspect.unwrap(value)
            tier = heaviest(
                self._of_code(function.__code__, function.__globals__),
                *(self.of_value(value) for value in _cells(function)),
                *(self.of_value(default) for default in function.__defaults__ or ()),
            )
        self._seen[key] = tier
        return tier

    def _of_code(self, code: CodeType, namespace: dict[str, Any]) -> str:
        names = frozenset(code.co_names)
        tiers = [self.of_value(namespace[name], names) for name in names if name in namespace]
        tiers += [tier_of_module(name) or "unit" for name in names]  # `import x` inside a function
        tiers += [self._of_code(const, namespace) for const in code.co_consts if isinstance(const, CodeType)]
        return heaviest(*tiers)

    def of_item(self, item: pytest.Item) -> str:
        """The tier of a collected test: a tier marker, else what its function, fixtures and parameters reach."""
        marked = [mark.name for mark in item.iter_markers() if mark.name in TIERS]
        if marked:
            return heaviest(*marked)
        roots: list[Any] = [getattr(item, "function", None), getattr(item, "cls", None)]
        inner = getattr(getattr(roots[0], "hypothesis", None), "inner_test", None)
        roots.append(inner)
        info = getattr(item, "_fixtureinfo", None)
        for name in getattr(item, "fixturenames", ()):
            for definition in info.name2fixturedefs.get(name, ()) if info else ():
                roots.append(definition.func)
        callspec = getattr(item, "callspec", None)
        roots += list(callspec.params.values()) if callspec else []
        if _asks_for_fixtures_by_name(roots[0]):
            roots += _visible_fixtures(item)
        return heaviest(*(self.of_value(root) for root in roots if root is not None))


def _asks_for_fixtures_by_name(test: Any) -> bool:
    """`request.getfixturevalue(name)`: the test may use any fixture it can see."""
    code = getattr(inspect.unwrap(test), "__code__", None) if test is not None else None
    return code is not None and "getfixturevalue" in code.co_names


def _visible_fixtures(item: pytest.Item) -> list[Any]:
    """The fixture functions of the test's module and of every conftest.py of the project."""
    modules = [getattr(item, "module", None)]
    modules += [module for name, module in sys.modules.items() if name.rpartition(".")[2] == "conftest"]
    functions = []
    for module in modules:
        if module is None or not _is_project_file(getattr(module, "__file__", None)):
            continue
        functions += [
            value._fixture_function  # a @pytest.fixture definition: the function it wraps
            for value in vars(module).values()
            if callable(getattr(value, "_fixture_function", None))
        ]
    return functions


def _source_file(value: Any) -> str | None:
    with contextlib.suppress(TypeError, OSError):
        return inspect.getsourcefile(value)
    return None


def _functions_of(cls: type) -> Iterator[FunctionType]:
    for member in vars(cls).values():
        member = getattr(member, "__func__", member)
        if isinstance(member, property):
            member = member.fget
        if isinstance(member, FunctionType):
            yield member


def _cells(function: FunctionType) -> list[Any]:
    """The values a closure captured (an empty cell has none)."""
    values = []
    for cell in function.__closure__ or ():
        with contextlib.suppress(ValueError):
            values.append(cell.cell_contents)
    return values


def audit_requested(config: pytest.Config) -> bool:
    return "audit" in (config.getoption("markexpr", "") or "") or os.environ.get(AUDIT_ENV, "") not in ("", "0")


def assign(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks every item with its tier, drops the audit tier unless asked for, and puts long files first.

    Long files first (tests/schedule.py): with `--dist loadfile` a worker takes one file at a time,
    so the files that take longest start while the short ones fill the other workers. Files with
    no recorded time go first, heaviest tier first.
    """
    classifier = Classifier()
    tiers = {}
    for item in items:
        tier = classifier.of_item(item)
        tiers[item.nodeid] = tier
        item.add_marker(tier)
        item.stash[TIER_KEY] = tier
    file_index(config).record(items, tiers)
    if not audit_requested(config):
        dropped = [item for item in items if tiers[item.nodeid] == "audit"]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if tiers[item.nodeid] != "audit"]
    weight: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        weight[path] = max(weight.get(path, 0), TIERS.index(tiers[item.nodeid]))
    schedule.order(items, weight.__getitem__)


TIER_KEY = pytest.StashKey[str]()

# ---------------------------------------------------------------------------- skipping whole files
# `-m unit` still imports every test file to find its unit tests, and importing is most of the
# unit tier's time (the CDK, moto, cfn-lint). Which tiers each file holds is kept per state of the
# sources, so a run that selects one tier skips the files that hold none of it.

INDEX_DIR = ROOT / ".build" / "tiers"
# Everything a classification depends on: the tests and the project code they reach.
CLASSIFIED_SOURCES = ("tests", "local", "service", "client", "bench", "lambdas", "stacks", "auth_contract")
INDEX_KEY = pytest.StashKey["FileIndex"]()


class FileIndex:
    """The tiers each test file holds, for this state of the sources (`.build/tiers/<hash>.json`)."""

    def __init__(self, config: pytest.Config) -> None:
        expression = (config.getoption("markexpr", "") or "").strip()
        self.selected = expression if expression in TIERS else None
        digest = hashlib.sha256(sys.version.encode())
        for folder in CLASSIFIED_SOURCES:
            for path in sorted((ROOT / folder).rglob("*.py")):
                if "__pycache__" not in path.parts:
                    digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
        self.path = INDEX_DIR / f"{digest.hexdigest()[:16]}.json"
        self.files: dict[str, list[str]] = build_files.read_json(self.path) or {}
        self.seen: dict[str, set[str]] = {}

    def skips(self, path: Path) -> bool:
        """Whether a run that selects one tier can leave this test file out: it is known to hold none."""
        if self.selected is None or not path.name.startswith("test_") or path.suffix != ".py":
            return False
        known = self.files.get(path.relative_to(ROOT).as_posix()) if path.is_relative_to(ROOT) else None
        return known is not None and self.selected not in known

    def record(self, items: list[pytest.Item], tiers: dict[str, str]) -> None:
        for item in items:
            self.seen.setdefault(item.nodeid.split("::", 1)[0], set()).add(tiers[item.nodeid])

    def save(self) -> None:
        """Adds what this run collected (written whole, then renamed: concurrent workers write the same)."""
        files = {**self.files, **{path: sorted(tiers) for path, tiers in self.seen.items()}}
        if not self.seen or files == self.files:
            return
        build_files.write_json(self.path, files, indent=1, sort_keys=True)
        older = sorted(INDEX_DIR.glob("*.json"), key=lambda index: index.stat().st_mtime, reverse=True)[3:]
        for stale in older:  # indexes of earlier source states
            stale.unlink(missing_ok=True)


def file_index(config: pytest.Config) -> FileIndex:
    if INDEX_KEY not in config.stash:
        config.stash[INDEX_KEY] = FileIndex(config)
    return config.stash[INDEX_KEY]


class TierViolation(RuntimeError):
    """A unit-tier test did what only a heavier tier may."""


@contextlib.contextmanager
def unit_guard(test: str) -> Iterator[list[str]]:
    """While active: creating a socket, starting a process or building/synthesizing a CDK app raises.

    Yields the list of violations (kept even if the code under test swallows the exception).
    """
    violations: list[str] = []

    def refuse(what: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            message = (
                f"{test} is in the unit tier (no synth, no child processes, no network) but {what}: "
                "mark it @pytest.mark.template, @pytest.mark.e2e or @pytest.mark.scan (tests/tiers.py)"
            )
            violations.append(message)
            raise TierViolation(message)

        return refused

    patches: list[tuple[Any, str, Any]] = [
        (socket.socket, "__init__", refuse("created a socket")),
        (subprocess.Popen, "__init__", refuse("started a child process")),
        (os, "fork", refuse("forked")),
        (os, "posix_spawn", refuse("started a child process")),
        (os, "posix_spawnp", refuse("started a child process")),
        (os, "system", refuse("ran a shell command")),
    ]
    cdk = sys.modules.get("aws_cdk")
    if cdk is not None:
        patches += [
            (cdk.App, "__init__", refuse("built a CDK app")),
            (cdk.Stage, "synth", refuse("synthesized a CDK app")),
        ]
    synth = sys.modules.get("tests.synth")
    if synth is not None:
        patches.append((synth, "synthesize", refuse("synthesized an environment")))
    saved = [
        (target, name, target.__dict__[name] if name in vars(target) else getattr(target, name))
        for target, name, _ in patches
    ]
    try:
        for target, name, replacement in patches:
            setattr(target, name, replacement)
        yield violations
    finally:
        for target, name, original in reversed(saved):
            setattr(target, name, original)
