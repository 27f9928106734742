"""Row 6: requests per second through the local gateway (JWT validation + the real handler) on
loopback, under a bounded load: a fixed number of requests from a few client threads, which stop
by themselves. The floor is the same HTTP server class answering a fixed body under the same load."""

from __future__ import annotations

from bench.common import Measurement, error, module_missing, percentile, run_worker, unavailable

WORKER = "bench.gateway_worker"
# The local stack serves the environment `python -m local` starts by default.
LOCAL_ENV = "dev"
ITEM = "local gateway: GET /me (JWT authorizer + me handler)"
DELAYED_ACK_MS = 35.0


def run() -> list[Measurement]:
    missing = module_missing("local/stack.py", "local/templates.py", "local/httpserver.py", "local/gateway.py")
    if missing:
        return [unavailable("gateway", ITEM, missing)]
    try:
        result = run_worker(WORKER, LOCAL_ENV, timeout=240)
    except Exception as failure:  # noqa: BLE001 (a broken local stack is a row, not a crash)
        return [error("gateway", ITEM, str(failure))]
    rows = []
    for mode in ("keep-alive", "new connection"):
        gateway, floor = result[f"{mode}/gateway"], result[f"{mode}/floor"]
        rows.append(_row(mode, gateway, floor))
    return rows


def _row(mode: str, gateway: dict, floor: dict) -> Measurement:
    rate, floor_rate = gateway["requests"] / gateway["wall_s"], floor["requests"] / floor["wall_s"]
    p50, p99 = percentile(gateway["latencies_ms"], 0.5), percentile(gateway["latencies_ms"], 0.99)
    floor50, floor99 = percentile(floor["latencies_ms"], 0.5), percentile(floor["latencies_ms"], 0.99)
    statuses = gateway["statuses"]
    ok = set(statuses) == {"200"}
    note = (
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (floor p50 {floor50:.2f} ms, p99 {floor99:.2f} ms); "
        f"{gateway['requests']} requests, {gateway['threads']} threads; statuses {statuses}; "
        "floor: the same local HTTP server answering a fixed body"
    )
    if mode == "keep-alive" and floor50 >= DELAYED_ACK_MS:
        note += (
            "; every keep-alive response waits for a delayed ACK (local/httpserver.Handler writes headers and"
            " body as two segments): disable_nagle_algorithm = True on it would close this"
        )
    return Measurement(
        row="gateway",
        item=f"{ITEM}, {mode}",
        value=round(rate),
        unit="req/s",
        floor=round(floor_rate),
        ratio=round(rate / floor_rate, 2),
        target="figure only",
        status="info" if ok else "error",
        note=note if ok else "not every request succeeded: measurement invalid; " + note,
        details={"p50_ms": p50, "p99_ms": p99, "floor_p50_ms": floor50, "floor_p99_ms": floor99, "statuses": statuses},
    )
