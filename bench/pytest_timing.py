"""A pytest plugin (`-p bench.pytest_timing`) that measures the suite's synthesis without touching tests/.

Loaded before conftest.py, it puts a timed wrapper under `tests.synth.synthesize` (same per-process
cache, so the suite behaves as always; the time includes reading an assembly that another worker
or an earlier run synthesized) and counts every `aws_cdk.App.synth()` by the app's configuration
(its context beyond cdk.json), also synths made outside tests/synth.py. Under pytest-xdist each
worker hands its figures to the controller. At the end the controller writes what it saw as JSON
to the file named by BENCH_PYTEST_TIMING_OUT.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import tests.synth as synth_module
from bench.common import PYTEST_TIMING_OUT_ENV
from stacks.app_builder import CDK_JSON

_BASE_CONTEXT = json.loads(CDK_JSON.read_text())["context"]

synthesize_seconds: dict[str, float] = {}
synthesize_calls: Counter[str] = Counter()  # calls of the cached function, hits included
app_synth_calls: Counter[str] = Counter()  # real App.synth() calls, by configuration
app_synth_seconds = 0.0
_app_configuration: dict[int, str] = {}


def _configuration(context: Any) -> str:
    """The app's context beyond cdk.json's, as text (`{"env": "test"}`).

    An app built without the project's context is a test's own app (a construct under test): each
    test that makes one makes a different app, so it is named by that test.
    """
    if isinstance(context, dict) and not set(_BASE_CONTEXT) - set(context):
        parts = []
        for key in sorted(context):
            if _BASE_CONTEXT.get(key, object()) == context[key]:
                continue
            text = json.dumps(context[key], sort_keys=True, default=str)
            # A long override (a changed `environments` block) by a digest: equal blocks, equal names.
            shown = text if len(text) <= 40 else f"<changed {hashlib.sha256(text.encode()).hexdigest()[:8]}>"
            parts.append(f"{key}={shown}")
        return " ".join(parts) or "cdk.json as is"
    test = os.environ.get("PYTEST_CURRENT_TEST", "outside a test").rsplit(" ", 1)[0]
    return f"own app of {test}"


_uncached = synth_module.synthesize.__wrapped__


def _timed_synthesize(env: str):
    start = time.perf_counter()
    try:
        return _uncached(env)
    finally:
        synthesize_seconds[env] = synthesize_seconds.get(env, 0.0) + time.perf_counter() - start


_cached = functools.cache(_timed_synthesize)


@functools.wraps(_uncached)
def synthesize(env: str):
    synthesize_calls[env] += 1
    return _cached(env)


synthesize.cache_clear = _cached.cache_clear  # type: ignore[attr-defined]
synthesize.__wrapped__ = _timed_synthesize  # type: ignore[attr-defined]
synth_module.synthesize = synthesize

_original_init = cdk.App.__init__
_original_synth = cdk.App.synth


def _init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    _app_configuration[id(self)] = _configuration(kwargs.get("context"))


def _synth(self, *args, **kwargs):
    global app_synth_seconds
    app_synth_calls[_app_configuration.get(id(self)) or _configuration(None)] += 1
    start = time.perf_counter()
    try:
        return _original_synth(self, *args, **kwargs)
    finally:
        app_synth_seconds += time.perf_counter() - start


cdk.App.__init__ = _init
cdk.App.synth = _synth


seconds_by_file: dict[str, float] = {}
seconds_by_test: dict[str, float] = {}


def pytest_runtest_logreport(report) -> None:
    """Setup, call and teardown time of every test, summed by test and by test file."""
    path = report.nodeid.split("::", 1)[0]
    seconds_by_file[path] = seconds_by_file.get(path, 0.0) + report.duration
    seconds_by_test[report.nodeid] = seconds_by_test.get(report.nodeid, 0.0) + report.duration


_SYNTH_FIGURES = "bench_synth_figures"


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_testnodedown(node, error) -> None:
    """Under pytest-xdist the controller adds up what each worker measured (test reports reach it anyway)."""
    global app_synth_seconds
    figures = getattr(node, "workeroutput", {}).get(_SYNTH_FIGURES)
    if not figures:
        return
    for env, seconds in figures["synthesize_seconds"].items():
        synthesize_seconds[env] = synthesize_seconds.get(env, 0.0) + seconds
    synthesize_calls.update(figures["synthesize_calls"])
    app_synth_calls.update(figures["app_synth_calls"])
    app_synth_seconds += figures["app_synth_seconds"]


def pytest_sessionfinish(session, exitstatus) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the figures to the controller, which writes the file
        workeroutput[_SYNTH_FIGURES] = {
            "synthesize_seconds": synthesize_seconds,
            "synthesize_calls": dict(synthesize_calls),
            "app_synth_calls": dict(app_synth_calls),
            "app_synth_seconds": app_synth_seconds,
        }
        return
    out = os.environ.get(PYTEST_TIMING_OUT_ENV)
    if not out:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    outcomes = {key: len(value) for key, value in (reporter.stats.items() if reporter else ()) if key}
    Path(out).write_text(
        json.dumps(
            {
                "exitstatus": int(exitstatus),
                "outcomes": outcomes,
                "synthesize_seconds": synthesize_seconds,
                "synthesize_calls": dict(synthesize_calls),
                "app_synth_calls": dict(app_synth_calls),
                "app_synth_seconds": app_synth_seconds,
                "seconds_by_file": dict(sorted(seconds_by_file.items(), key=lambda pair: -pair[1])),
                "slowest_tests": dict(sorted(seconds_by_test.items(), key=lambda pair: -pair[1])[:15]),
            },
            indent=2,
        )
    )
