"""Runs in a fresh interpreter for the local gateway row: `python -m bench.gateway_worker <out.json> <env>`.

Starts the local stack in-process through its public API (local.templates.synthesize, LocalStack)
on free loopback ports, signs in one demo user (USER_PASSWORD_AUTH against the local issuer, as
`python -m client` would), then sends a fixed number of `GET /me` requests from a few client
threads, over keep-alive connections and then over a new connection each: every request goes through the gateway's JWT authorizer
(signature, issuer, audience, expiry, route scopes) and the real `me` handler. The floor is the
same HTTP server class (local.httpserver) answering a fixed JSON body, under the same load.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REQUESTS = 2000
THREADS = 4
# Keep-alive connections (as a client with a session makes them) and a new connection per request
# (as curl or urllib make them). Both bounded: REQUESTS each, split over THREADS threads.
MODES = (("keep-alive", REQUESTS, {}), ("new connection", REQUESTS, {"Connection": "close"}))
WARMUP = 50
ROUTE = "/me"


def load(url: str, headers: dict[str, str], requests: int = REQUESTS, threads: int = THREADS) -> dict[str, Any]:
    """Sends `requests` GETs to `url` from `threads` threads (each its own keep-alive connection)."""
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1":
        raise ValueError("the bench only loads 127.0.0.1")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    share = [requests // threads + (1 if index < requests % threads else 0) for index in range(threads)]

    def client(count: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine, seen = [], {}
        for _ in range(count):
            start = time.perf_counter()
            connection.request("GET", parts.path or "/", headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            seen[response.status] = seen.get(response.status, 0) + 1
            if response.will_close:
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        connection.close()
        with lock:
            latencies.extend(mine)
            for status, number in seen.items():
                statuses[status] = statuses.get(status, 0) + number

    workers = [threading.Thread(target=client, args=(count,)) for count in share]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - start
    return {"requests": requests, "threads": threads, "wall_s": wall, "latencies_ms": latencies, "statuses": statuses}


def floor_server():
    from local.httpserver import Handler, LocalServer

    body = {"sub": "3f6b1c2e-0d6a-4a59-9a9f-2c4f1b7d9e10", "tenant": "acme", "roles": ["viewer"]}

    class Static(Handler):
        def do_GET(self):
            self.send_json(200, body)

    server = LocalServer("127.0.0.1", 0, Static)
    server.start(name="bench-floor")
    return server


def sign_in(stack: Any) -> str:
    import boto3

    summary = stack.summary()
    outputs = {key: value for values in summary["outputs"].values() for key, value in values.items()}
    client_id = outputs["SpaClientId"]
    user = summary["users"][0]
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=summary["issuer_base_url"],
        region_name=summary["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 (moto's dummy credentials, accepted by nothing else)
    )
    answer = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user["email"], "PASSWORD": user["password"]},
    )
    return answer["AuthenticationResult"]["AccessToken"]


def main() -> None:
    out, env = sys.argv[1], sys.argv[2]
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the handlers' JSON logs
    from local.__main__ import use_dummy_credentials

    use_dummy_credentials()
    from local.stack import LocalStack
    from local.templates import synthesize

    assembly = synthesize(env)
    stack = LocalStack(assembly).start()
    floor = floor_server()
    try:
        headers = {"Authorization": f"Bearer {sign_in(stack)}", "Accept": "application/json"}
        targets = {"gateway": stack.api_url.rstrip("/") + ROUTE, "floor": floor.url.rstrip("/") + ROUTE}
        for url in targets.values():
            load(url, headers, requests=WARMUP, threads=1)
        runs: dict[str, list[dict[str, Any]]] = {}
        for mode, requests, extra in MODES:
            # Alternate halves so that load from other processes falls on both alike.
            for _ in range(2):
                for name, url in targets.items():
                    runs.setdefault(f"{mode}/{name}", []).append(
                        load(url, {**headers, **extra}, requests=requests // 2)
                    )
    finally:
        floor.stop()
        stack.stop()
    result = {}
    for key, parts in runs.items():
        statuses: dict[str, int] = {}
        for part in parts:
            for status, count in part["statuses"].items():
                statuses[str(status)] = statuses.get(str(status), 0) + count
        result[key] = {
            "requests": sum(part["requests"] for part in parts),
            "threads": THREADS,
            "wall_s": sum(part["wall_s"] for part in parts),
            "latencies_ms": [latency for part in parts for latency in part["latencies_ms"]],
            "statuses": statuses,
        }
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
