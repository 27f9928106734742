"""`make local`'s servers under a burst: as many simultaneous connections as the dev stage's burst limit.

Specification: the gateway and the issuer listen with a backlog of at least every environment's
API burst limit (cdk.json `api.throttle_burst`), so a burst of clients connecting at once is
accepted: no connection reset, no one-second SYN retry, every request answered.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from local.gateway import GatewayResponse, gateway_server, stage_burst_limit
from local.httpserver import DEFAULT_BACKLOG, Handler, LocalServer
from local.intrinsics import StackValues

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
ENVIRONMENTS = json.loads(CDK_JSON.read_text())["context"]["environments"]
DEV_BURST = ENVIRONMENTS["dev"]["api"]["throttle_burst"]
WORK_SECONDS = 0.05  # what each request costs the server, so that connections overlap


class SlowGateway:
    """Stands in for a Gateway: every request takes a little while, like a real handler."""

    def handle(self, request: Any) -> GatewayResponse:
        time.sleep(WORK_SECONDS)
        return GatewayResponse.json(200, {"ok": True})


class SlowHandler(Handler):
    def do_GET(self) -> None:
        time.sleep(WORK_SECONDS)
        self.send_json(200, {"ok": True})


def burst(port: int, connections: int) -> tuple[list[str], list[float]]:
    """`connections` clients connect at the same instant and send one GET each: (errors, latencies)."""
    start = threading.Barrier(connections)
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        start.wait()
        began = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/burst")
            response = connection.getresponse()
            response.read()
            outcome = None if response.status == 200 else f"status {response.status}"
        except OSError as error:  # ConnectionResetError, refused, timeouts
            outcome = type(error).__name__
        finally:
            connection.close()
        with lock:
            latencies.append(time.monotonic() - began)
            if outcome:
                errors.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors, latencies


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
def test_the_default_backlog_covers_every_stages_burst(environment):
    assert ENVIRONMENTS[environment]["api"]["throttle_burst"] <= DEFAULT_BACKLOG


def test_the_gateway_backlog_follows_a_larger_stage_burst():
    template = {
        "Resources": {
            "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {}},
            "Stage": {
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {"ApiId": {"Ref": "Api"}, "DefaultRouteSettings": {"ThrottlingBurstLimit": 3000}},
            },
        }
    }
    limit = stage_burst_limit(StackValues("api", template), "Api")
    assert limit == 3000
    server = gateway_server("127.0.0.1", 0, SlowGateway(), backlog=limit)
    try:
        assert server.request_queue_size == 3000
    finally:
        server.server_close()


@pytest.mark.parametrize("server_kind", ["gateway", "issuer's server"])
def test_a_burst_of_simultaneous_connections_is_served_without_resets(server_kind):
    if server_kind == "gateway":
        server = gateway_server("127.0.0.1", 0, SlowGateway())
    else:
        server = LocalServer("127.0.0.1", 0, type("Slow", (SlowHandler,), {}))
    server.start("burst-test")
    try:
        errors, latencies = burst(server.server_address[1], DEV_BURST)
    finally:
        server.stop()
    assert errors == [], f"{len(errors)} of {DEV_BURST} connections failed: {sorted(set(errors))}"
    # A dropped SYN is retried after one second: no client may have needed that.
    assert max(latencies) < 1.0, f"slowest of {DEV_BURST}: {max(latencies):.2f} s"
