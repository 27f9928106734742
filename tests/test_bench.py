"""The benchmark's own logic (no benchmark is run here): the report it writes, the .dockerignore rules
it applies to the container context, the dev files it refuses in assets, its percentiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import SCHEMA_VERSION, parse_args, report, table, write
from bench.artifacts import dev_files, docker_context
from bench.common import ERROR, FAIL, PASS, UNAVAILABLE, Measurement, percentile, unavailable


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
