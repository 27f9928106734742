"""Runs in a fresh interpreter for the handlers row: `python -m bench.handler_worker <out.json> cold <module>`,
`... warm <function>`, `... revocation <function>` or `... check <function>|all`.

Cold: the time to import one handler module (lambdas/ on sys.path, as in the Lambda asset), with
nothing of the project imported before. Warm: per-invocation latency of each of the function's
requests against the floor handler, in alternating blocks, with what the handler reaches AWS
through replaced by in-memory stand-ins at the seams the handlers use (their module-level
factories: `items_table()`, `tenants_table()`, `machine_clients()`, `aws_directory()`; see
bench/events.py `stand_ins`). Check: each request once, and what it answered (tests/test_bench.py).

No AWS credentials reach the worker: a call that escaped the stand-ins fails at once (botocore
finds no credentials) instead of reaching AWS.

Standard output goes to /dev/null: the handlers' JSON logs are written (their cost is real) but
never mixed with the results, which go to <out.json>.
"""

import importlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"
WARMUP_CALLS = 200
BLOCKS = 6
CALLS_PER_BLOCK = 250

# Where botocore looks for credentials in the environment: none of them reaches the worker.
NO_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def _prepare(function: str = "bench") -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.path.insert(0, str(LAMBDAS))
    from bench.lambda_env import HANDLER_ENVIRONMENT

    for name in NO_CREDENTIALS:
        os.environ.pop(name, None)
    # Nor from files or the instance metadata service (botocore's credential chain).
    os.environ.update(
        {"AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_CONFIG_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
    )
    os.environ.update(HANDLER_ENVIRONMENT)
    os.environ["POWERTOOLS_SERVICE_NAME"] = function


def cold(module: str) -> dict:
    _prepare(module.partition(".")[0])
    start, cpu_start = time.perf_counter(), time.process_time()
    importlib.import_module(module)
    return {"import_s": time.perf_counter() - start, "import_cpu_s": time.process_time() - cpu_start}


def _sample(call, event_copies) -> list[float]:
    samples = []
    for event in event_copies:
        start = time.perf_counter_ns()
        call(event)
        samples.append((time.perf_counter_ns() - start) / 1e3)
    return samples


def _framework_floor(route_key: str):
    """A Powertools handler (logger with request context, HTTP resolver, one route) that only returns
    json.dumps of the claims: what the framework costs before any of the project's code runs."""
    import re

    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from aws_lambda_powertools.logging import correlation_paths

    logger = Logger(service="framework-floor")
    app = APIGatewayHttpResolver()
    method, _, route = route_key.partition(" ")

    @app.route(re.sub(r"\{(\w+)\}", r"<\1>", route), method)
    def claims(**_):
        authorizer = app.current_event.raw_event["requestContext"]["authorizer"]
        found = (authorizer.get("jwt") or {}).get("claims") or authorizer.get("lambda")
        return Response(status_code=200, content_type="application/json", body=json.dumps(found))

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def lambda_handler(event, context):
        return app.resolve(event, context)

    return lambda_handler


def _handler(function: str):
    """The function's handler module, its AWS-facing factories replaced by their stand-ins."""
    from bench import events

    handler = importlib.import_module(f"{function}.handler")
    events.install_stand_ins(function, handler)
    return handler


def warm(function: str) -> dict:
    _prepare(function)
    from bench import events, floor_handler

    handler = _handler(function)
    events.install_revocation_store()
    context = events.LambdaContext()
    results = {}
    for label, event, expected in events.scenarios()[function]:
        statuses = set()

        def call(e, statuses=statuses):
            statuses.add(events.status_of(handler.lambda_handler(e, context)))

        def floor(e):
            floor_handler.lambda_handler(e, context)

        framework = _framework_floor(event["routeKey"]) if "routeKey" in event else None

        def framework_floor(e, framework=framework):
            framework(e, context)

        for _ in range(WARMUP_CALLS):
            call(events.fresh(event))
            floor(events.fresh(event))
            if framework:
                framework_floor(events.fresh(event))
        handler_us, floor_us, framework_us = [], [], []
        for _ in range(BLOCKS):
            handler_us += _sample(call, [events.fresh(event) for _ in range(CALLS_PER_BLOCK)])
            floor_us += _sample(floor, [events.fresh(event) for _ in range(CALLS_PER_BLOCK)])
            if framework:
                framework_us += _sample(framework_floor, [events.fresh(event) for _ in range(CALLS_PER_BLOCK)])
        results[label] = {
            "handler_us": handler_us,
            "floor_us": floor_us,
            "framework_floor_us": framework_us,
            "statuses": sorted(statuses, key=str),
            "expected": expected,
        }
    return results


def revocation(function: str) -> dict:
    """The revocation check's added latency on one warm handler: the same requests without the
    check, with it answered from the per-instance cache (the steady state), and with every call
    reading the store (cache off; the read goes through botocore, the network is left out)."""
    _prepare(function)
    from bench import events
    from shared import revocation as store

    handler = _handler(function)
    real_check = store.check_identity
    cached = events.install_revocation_store()
    uncached = store.RevocationChecker(events.revocation_client(), cached._table, item_cache_seconds=0)
    variants = {
        "without": (lambda identity: None, cached),
        "cached": (real_check, cached),
        "uncached": (real_check, uncached),
    }
    context = events.LambdaContext()
    results = {}
    for label, event, expected in events.scenarios()[function]:
        samples: dict[str, list[float]] = {name: [] for name in variants}
        statuses = set()

        def call(e, statuses=statuses):
            statuses.add(events.status_of(handler.lambda_handler(e, context)))

        def use(name):
            check, checker = variants[name]
            store.check_identity = check
            store.revocation_checker = lambda: checker

        for name in variants:
            use(name)
            for _ in range(WARMUP_CALLS):
                call(events.fresh(event))
        for _ in range(BLOCKS):
            for name in variants:
                use(name)
                samples[name] += _sample(call, [events.fresh(event) for _ in range(CALLS_PER_BLOCK)])
        results[label] = {
            **{f"{name}_us": values for name, values in samples.items()},
            "reads": uncached.reads,
            "statuses": sorted(statuses, key=str),
            "expected": expected,
        }
    return results


def check(target: str) -> dict:
    """Each request of the function (`all`: of every function with requests) once, as the warm run
    makes it: what it answered, or what it raised, and what it should have answered (a refusal or a
    crash of the success path being measured shows here, not as a figure)."""
    _prepare(target)
    from bench import events

    every = events.scenarios()
    results: dict[str, dict] = {}
    for function in sorted(every) if target == "all" else [target]:
        handler = _handler(function)
        events.install_revocation_store()
        context = events.LambdaContext()
        results[function] = {}
        for label, event, expected in every[function]:
            try:
                status = events.status_of(handler.lambda_handler(events.fresh(event), context))
            except Exception as failure:  # noqa: BLE001 (reported, not raised: the next requests are checked too)
                status = f"raised {type(failure).__name__}: {failure}"
            results[function][label] = {"status": status, "expected": expected}
    return results


def main() -> None:
    out, mode, target = sys.argv[1], sys.argv[2], sys.argv[3]
    runners = {"cold": cold, "warm": warm, "revocation": revocation, "check": check}
    result = runners[mode](target)
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
