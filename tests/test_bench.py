"""The benchmark's own logic (no benchmark is run here): the report it writes, the .dockerignore rules
it applies to the container context, the dev files it refuses in assets, its percentiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import SCHEMA_VERSION, parse_args, report, table, write
from bench.artifacts import dev_files, docker_context
from bench.common import ERROR, FAIL, INFO, PASS, UNAVAILABLE, Measurement, percentile, unavailable


def sample() -> list[Measurement]:
    return [
        Measurement(
            row="synth",
            item="synth prod",
            value=4.2,
            unit="s",
            floor=3.0,
            ratio=1.4,
            target="<= 1.5x floor",
            status=PASS,
        ),
        Measurement(
            row="verifiers",
            item="ALB",
            value=5000,
            unit="verif/s",
            floor=15000,
            ratio=0.33,
            target=">= 0.7x raw",
            status=FAIL,
        ),
        unavailable("gateway", "local gateway", "local/stack.py"),
    ]


def test_report_has_schema_machine_git_measurements_and_a_status_summary(tmp_path):
    document = report(sample(), env="prod", started=1_790_000_000.0, machine_info={"nproc": 2}, git={"commit": "abc"})
    assert document["schema"] == SCHEMA_VERSION
    assert document["env"] == "prod"
    assert document["machine"]["nproc"] == 2
    assert len(document["machine"]["load_average_at_end"]) == 3
    assert document["git"] == {"commit": "abc"}
    assert [m["item"] for m in document["measurements"]] == ["synth prod", "ALB", "local gateway"]
    assert document["summary"] == {FAIL: 1, UNAVAILABLE: 1, PASS: 1}
    first = document["measurements"][0]
    assert {"row", "item", "value", "unit", "floor", "ratio", "target", "status", "note", "details"} <= set(first)


def test_report_is_written_under_its_timestamp_and_as_latest(tmp_path):
    document = report(sample(), env="prod", started=1_790_000_000.0, machine_info={}, git={})
    path = write(document, tmp_path)
    assert path.name.endswith(".json") and path.name != "latest.json"
    assert json.loads(path.read_text()) == json.loads((tmp_path / "latest.json").read_text()) == document


def test_unavailable_rows_say_which_module_is_missing_and_carry_no_figure():
    row = unavailable("gateway", "local gateway", "local/stack.py")
    assert row.status == UNAVAILABLE and row.value is None
    assert row.note == "not available yet (module local/stack.py missing)"


def test_table_shows_figure_floor_ratio_and_verdict_of_each_row():
    lines = table(sample()).splitlines()
    assert lines[0].split()[:7] == ["row", "item", "figure", "floor", "ratio", "target", "status"]
    synth_line = next(line for line in lines if line.startswith("synth"))
    assert "4.2 s" in synth_line and "3 s" in synth_line and "1.4x" in synth_line and "PASS" in synth_line
    assert "FAIL" in next(line for line in lines if line.startswith("verifiers"))


def test_unknown_row_is_refused_naming_the_allowed_ones(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--only", "synth,speed"])
    assert "allowed: synth, tests, handlers, verifiers, artifacts, gateway" in capsys.readouterr().err


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7.0


def make_tree(root: Path, files: list[str], dockerignore: str) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    (root / ".dockerignore").write_text(dockerignore)
    return root


def test_docker_context_honours_dockerignore_like_docker(tmp_path):
    tree = make_tree(
        tmp_path,
        [
            "Dockerfile",
            "app.py",
            "devtools.py",
            "pkg/__pycache__/app.cpython-311.pyc",
            "pkg/mod.py",
            "docs/a.md",
            "docs/keep.md",
        ],
        "# comment\n**/__pycache__\n**/*.pyc\ndevtools.py\ndocs\n!docs/keep.md\nDockerfile\n.dockerignore\n",
    )
    sent = {path.as_posix() for path in docker_context(tree)}
    # Docker always sends the Dockerfile and .dockerignore, even when they are listed.
    assert sent == {"Dockerfile", ".dockerignore", "app.py", "pkg/mod.py", "docs/keep.md"}


def test_dev_files_finds_tests_caches_and_byte_code_only():
    files = tuple(
        Path(name)
        for name in (
            "me/handler.py",
            "shared/tests/test_x.py",
            "conftest.py",
            "pkg/test_util.py",
            "a/__pycache__/b.pyc",
            "x.pyc",
            "testing.py",
        )
    )
    assert sorted(dev_files(files)) == sorted(
        ["shared/tests/test_x.py", "conftest.py", "pkg/test_util.py", "a/__pycache__/b.pyc", "x.pyc"]
    )


def test_error_is_a_status_of_its_own():
    assert ERROR not in {PASS, FAIL, UNAVAILABLE}


def _importtime(*entries: tuple[int, str, int]) -> str:
    """`python -X importtime` lines for (depth, module, self µs), children before their parent."""
    lines = ["import time: self [us] | cumulative | imported package"]
    lines += [f"import time: {self_us:>9} | {self_us:>10} | {'  ' * depth}{name}" for depth, name, self_us in entries]
    return "\n".join(lines)


def test_cold_import_split_follows_each_module_up_its_import_chain():
    from bench.handlers import import_split

    stderr = _importtime(
        (0, "json", 7000),  # the worker's own start-up: not counted
        (0, "bench.lambda_env", 100),
        (2, "logging", 2000),  # the standard library, whoever imports it
        (3, "jmespath", 700),  # a dependency pulled in by Powertools: Powertools'
        (2, "aws_lambda_powertools.utilities", 300),
        (1, "aws_lambda_powertools.logging", 3000),
        (0, "aws_lambda_powertools", 1000),
        (0, "typing", 500),
        (4, "urllib3", 4000),  # under botocore, through a standard library module: boto3/botocore's
        (3, "http.client", 1000),
        (2, "botocore.session", 6000),
        (1, "boto3", 1000),
        (2, "cryptography.x509", 1500),
        (1, "jwt", 500),
        (0, "shared.revocation", 2000),
        (0, "me", 300),
    )
    assert import_split(stderr, frozenset({"me"})) == {
        "own": {"powertools": 5.0, "pyjwt/cryptography": 2.0, "boto3/botocore": 11.0, "project": 2.3, "stdlib": 3.5},
        "stdlib_imported_by": {"powertools": 2.0, "pyjwt/cryptography": 0.0, "boto3/botocore": 1.0, "project": 0.5},
    }


# ------------------------------------------------------------------ the handlers row's requests


def test_every_function_has_warm_requests_or_says_where_its_warm_path_is_measured():
    from bench import events
    from bench.handlers import WARM_ELSEWHERE, functions

    assert sorted(events.scenarios()) == sorted(set(functions()) - set(WARM_ELSEWHERE))


def test_each_http_request_is_a_payload_2_0_event_of_its_route_with_one_authorizer_result():
    from bench import events

    for function, requests in events.scenarios().items():
        for label, event, expected in requests:
            if "routeKey" not in event:  # the pre-token trigger, on V3_0
                assert (function, event["version"], expected) == ("pre_token_generation", "3", events.CUSTOMIZED)
                continue
            method, _, route = event["routeKey"].partition(" ")
            path = route
            for name, value in (event.get("pathParameters") or {}).items():
                path = path.replace(f"{{{name}}}", value)
            context = event["requestContext"]
            assert label.partition("?")[0] == event["routeKey"] == context["routeKey"], function
            assert (event["version"], context["http"]["method"]) == ("2.0", method), label
            assert event["rawPath"] == context["http"]["path"] == path, label
            assert len(context["authorizer"]) == 1 and set(context["authorizer"]) <= {"jwt", "lambda"}, label
            assert isinstance(expected, int) and 200 <= expected < 300, label


@pytest.mark.e2e  # the bench's own worker, in a child process
def test_each_request_answers_its_success_status_against_the_stand_ins():
    """What the warm rows measure is the success path: one call of each request, in the worker
    the bench runs (stand-ins installed, no AWS credentials), answers the status it expects."""
    from bench import events
    from bench.common import run_worker
    from bench.handlers import WORKER

    results = run_worker(WORKER, "check", "all")
    answered = {(function, label): result["status"] for function, by in results.items() for label, result in by.items()}
    expected = {(function, s.label): s.expected for function, requests in events.scenarios().items() for s in requests}
    assert answered == expected


def _warm_result(statuses: list, expected: object) -> dict:
    return {
        "handler_us": [100.0] * 20,
        "floor_us": [5.0] * 20,
        "framework_floor_us": [40.0] * 20,
        "statuses": statuses,
        "expected": expected,
    }


def test_a_warm_row_is_an_error_unless_the_handler_answered_exactly_the_status_it_expects(monkeypatch):
    from bench import handlers
    from bench.events import CUSTOMIZED

    results = {
        "machine_clients": {"GET /tenants/{tenantId}/machine-clients": _warm_result([200], 200)},
        "pre_token_generation": {"TokenGeneration_Authentication": _warm_result([CUSTOMIZED], CUSTOMIZED)},
        "tenant_admin": {
            "GET /tenants/{tenantId}/members": _warm_result([403], 200),
            "POST /tenants": _warm_result([201, 500], 201),
        },
    }
    monkeypatch.setattr(handlers, "functions", lambda: sorted(results))
    monkeypatch.setattr(handlers, "run_worker", lambda worker, mode, function: results[function])
    rows = {row.item: row for row in handlers.warm_rows()}
    listed = rows["machine_clients: warm GET /tenants/{tenantId}/machine-clients p50"]
    assert (listed.value, listed.unit, listed.floor, listed.ratio, listed.status) == (100.0, "us", 5.0, 20.0, FAIL)
    assert "status 200" in listed.note and "Powertools-only handler p50 40 us" in listed.note
    assert rows["pre_token_generation: warm TokenGeneration_Authentication p50"].status == FAIL  # 20x the floor
    refused = rows["tenant_admin: warm GET /tenants/{tenantId}/members p50"]
    assert refused.status == ERROR and refused.note.startswith("handler answered [403], not 200: measurement invalid")
    assert rows["tenant_admin: warm POST /tenants p50"].status == ERROR


def test_a_revocation_row_is_an_error_unless_the_handler_answered_the_status_it_expects(monkeypatch):
    from bench import handlers

    def result(statuses: list, expected: int) -> dict:
        samples = {
            f"{name}_us": [value] * 20 for name, value in (("without", 60.0), ("cached", 66.0), ("uncached", 400.0))
        }
        return {"GET /x": {**samples, "reads": 20, "statuses": statuses, "expected": expected}}

    results = {"me": result([200], 200), "tenant_summary": result([401], 200)}
    monkeypatch.setattr(handlers, "run_worker", lambda worker, mode, function: results[function])
    rows = {row.item: row for row in handlers.revocation_rows()}
    cached = rows["me: warm GET /x with the revocation check, cached, p50"]
    assert (cached.value, cached.floor, cached.ratio, cached.status) == (66.0, 60.0, 1.1, INFO)
    refused = rows["tenant_summary: warm GET /x with the revocation check, uncached, p50"]
    assert refused.status == ERROR and refused.note.startswith("handler answered [401], not 200")
