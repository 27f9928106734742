"""`python -m bench.key_endpoints [--seconds 12]`: every enforcement point against a failing key endpoint.

For each point (the tenant Lambda authorizer, the local JWT authorizer, the web app's /m2m/
verifier and its ALB-header verifier) and each fault of its key endpoint, a client sends a token
whose key the point has not cached yet, every 50 ms for `--seconds`, from one thread and then
from eight at once. Printed per case: requests, fetches the endpoint saw, the slowest refusal and
the median one. The faults:

- refused: nothing listens on the port (connection refused at once);
- silent: the endpoint accepts the connection and never answers;
- trickle: the endpoint answers 200 one byte every 100 ms (each read is quick; the answer is not).

Every request must be refused; the figures show the back-off (fetches: attempts the point
started, counted in the process; the local JWT authorizer's attempt reads the discovery document,
then the JWKS) and the fetch deadline (worst-case latency). docs/security.md quotes a run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POOL = "eu-west-1_Bench"
CLIENT = "4benchclient0000000000000"
SCOPE = "https://api.jwt-auth.test/events.write"
INTERVAL = 0.05
THREADS = 8
TRICKLE_SECONDS = 0.1


class FaultyServer:
    """A loopback server for one fault: `silent` (accept, never answer) or `trickle` (one byte at a time)."""

    def __init__(self, fault: str, body: bytes) -> None:
        self.fault = fault
        self.body = body
        self.requests = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            connection.settimeout(30)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                request += chunk
            with self._lock:
                self.requests += 1
            if self.fault == "silent":
                self._stop.wait(60)
                return
            answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                len(self.body),
                self.body,
            )
            for byte in answer:
                if self._stop.is_set():
                    return
                connection.sendall(bytes([byte]))
                time.sleep(TRICKLE_SECONDS)
        except OSError:
            pass  # the client gave up: that is the point
        finally:
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


def refused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Point:
    name: str
    attempt: Callable[[], bool]  # True when the request was refused, as it must be
    fetches: Callable[[], int]  # key fetches the point has started so far


def _rsa_token(issuer: str) -> str:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {
        "sub": CLIENT,
        "iss": issuer,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": SCOPE,
        "iat": now,
        "exp": now + 3600,
        "tenant_id": "acme",
    }
    return jwt.encode(claims, key, "RS256", headers={"kid": "k1"})


def points(base_url: str) -> list[Point]:
    """The four enforcement points, each pointed at `base_url` for its keys."""
    sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]
    from local.jwt_authorizer import JwksCache as GatewayJwks
    from local.jwt_authorizer import JwtAuthorizer, TokenRejected
    from local.tokens import Clock
    from service.alb_auth import AlbAuthError, AlbTokenVerifier
    from service.devtools import TEST_ALB_ARN, AlbTokenSigner
    from service.m2m_auth import MachineAuthError, MachineTokenVerifier

    issuer = f"{base_url}/{POOL}"
    token = _rsa_token(issuer)

    os.environ.update(
        {
            "ISSUER": issuer,
            "JWKS_URL": f"{issuer}/.well-known/jwks.json",
            "ALLOWED_CLIENT_IDS": CLIENT,
            "POWERTOOLS_LOG_LEVEL": "ERROR",  # one log line per denial otherwise
        }
    )
    logging.getLogger("jwtcheck").setLevel(logging.ERROR)
    from tenant_authorizer import handler

    handler.verifier.cache_clear()
    event = {"headers": {"authorization": f"Bearer {token}"}, "pathParameters": {"tenantId": "acme"}}

    gateway = JwtAuthorizer("a1", "UserPool", issuer, (CLIENT,), "$request.header.Authorization", GatewayJwks(Clock()))
    machine = MachineTokenVerifier(
        issuer=issuer, jwks_url=f"{issuer}/.well-known/jwks.json", client_ids=(CLIENT,), required_scope=SCOPE
    )
    signer = AlbTokenSigner(alb_arn=TEST_ALB_ARN, issuer=issuer, client_id=CLIENT)
    alb = AlbTokenVerifier(alb_arn=TEST_ALB_ARN, issuer=issuer, client_id=CLIENT, key_url_base=f"{base_url}/alb-keys")
    alb_token = signer.sign({"sub": "u1"})
    alb_fetches = [0]
    fetch_pem = alb.keys._fetch

    def counted_fetch(url: str) -> Any:
        alb_fetches[0] += 1
        return fetch_pem(url)

    alb.keys._fetch = counted_fetch  # type: ignore[method-assign]

    def refused(call: Callable[[], Any], *errors: type[Exception]) -> Callable[[], bool]:
        def attempt() -> bool:
            try:
                call()
            except errors:
                return True
            return False

        return attempt

    return [
        Point(
            "tenant Lambda authorizer",
            lambda: handler.authorize(event) == {"isAuthorized": False},
            lambda: handler.verifier().jwks.fetches,
        ),
        Point(
            "local JWT authorizer",
            refused(lambda: gateway.verify(token), TokenRejected),
            lambda: gateway.jwks.for_issuer(issuer).fetches,
        ),
        Point(
            "web app /m2m/",
            refused(lambda: machine.verify(f"Bearer {token}"), MachineAuthError),
            lambda: machine.jwks.fetches,
        ),
        Point("web app ALB header", refused(lambda: alb.verify(alb_token), AlbAuthError), lambda: alb_fetches[0]),
    ]


def drive(point: Point, seconds: float, threads: int) -> dict[str, Any]:
    latencies: list[float] = []
    accepted = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        nonlocal accepted
        while time.monotonic() < deadline:
            started = time.monotonic()
            ok = point.attempt()
            elapsed = time.monotonic() - started
            with lock:
                latencies.append(elapsed)
                accepted += 0 if ok else 1
            time.sleep(max(0.0, INTERVAL - elapsed))

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {
        "requests": len(latencies),
        "not_refused": accepted,
        "max_s": max(latencies),
        "median_ms": statistics.median(latencies) * 1000,
    }


def measure(fault: str, seconds: float, threads: int) -> list[tuple[str, dict[str, Any]]]:
    jwks = json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "n": "x" * 342, "e": "AQAB"}]}).encode()
    server = None if fault == "refused" else FaultyServer(fault, jwks)
    port = refused_port() if server is None else server.port
    rows = []
    for point in points(f"http://127.0.0.1:{port}"):
        result = drive(point, seconds, threads)
        result["fetches"] = point.fetches()
        rows.append((point.name, result))
    if server:
        server.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args(argv)
    print(f"cpus: {os.cpu_count()}, {args.seconds:.0f} s per case, one request per {INTERVAL * 1000:.0f} ms per thread")
    print("| fault | point | threads | requests | not refused | fetches | slowest | median |")
    print("|---|---|---|---|---|---|---|---|")
    failed = False
    for fault in ("refused", "silent", "trickle"):
        for threads in (1, THREADS):
            for name, r in measure(fault, args.seconds, threads):
                failed |= r["not_refused"] > 0
                print(
                    f"| {fault} | {name} | {threads} | {r['requests']} | {r['not_refused']} | {r['fetches']} |"
                    f" {r['max_s']:.2f} s | {r['median_ms']:.1f} ms |",
                    flush=True,
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
