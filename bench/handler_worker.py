"""Runs in a fresh interpreter for the handlers row: `python -m bench.handler_worker <out.json> cold <module>`
or `... warm <function>`.

Cold: the time to import one handler module (lambdas/ on sys.path, as in the Lambda asset), with
nothing of the project imported before. Warm: per-invocation latency of each of the function's
requests against the floor handler, in alternating blocks, with the items table replaced by an
in-memory stand-in at the seam the handlers use (their module-level `items_table()`).

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


def _prepare(function: str = "bench") -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.path.insert(0, str(LAMBDAS))
    from bench.lambda_env import HANDLER_ENVIRONMENT

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


def warm(function: str) -> dict:
    _prepare(function)
    from bench import events, floor_handler

    handler = importlib.import_module(f"{function}.handler")
    events.install_revocation_store()
    if hasattr(handler, "items_table"):
        from shared.items_table import ItemsTable

        table = ItemsTable(events.StubTable())
        handler.items_table = lambda: table
    context = events.LambdaContext()
    results = {}
    for label, event in events.scenarios()[function]:
        statuses = set()

        def call(e, statuses=statuses):
            response = handler.lambda_handler(e, context)
            statuses.add(response.get("statusCode", 200) if isinstance(response, dict) else None)

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
        }
    return results


def revocation(function: str) -> dict:
    """The revocation check's added latency on one warm handler: the same requests without the
    check, with it answered from the per-instance cache (the steady state), and with every call
    reading the store (cache off; the read goes through botocore, the network is left out)."""
    _prepare(function)
    from bench import events
    from shared import revocation as store

    handler = importlib.import_module(f"{function}.handler")
    if hasattr(handler, "items_table"):
        from shared.items_table import ItemsTable

        table = ItemsTable(events.StubTable())
        handler.items_table = lambda: table
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
    for label, event in events.scenarios()[function]:
        samples: dict[str, list[float]] = {name: [] for name in variants}
        statuses = set()

        def call(e, statuses=statuses):
            response = handler.lambda_handler(e, context)
            statuses.add(response.get("statusCode", 200))

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
            "statuses": sorted(statuses),
        }
    return results


def main() -> None:
    out, mode, target = sys.argv[1], sys.argv[2], sys.argv[3]
    runners = {"cold": cold, "warm": warm, "revocation": revocation}
    result = runners[mode](target)
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
