"""Stand-ins for the ALB, for tests and `make web-local` only (not copied into the image).

`AlbTokenSigner` signs user-claims tokens exactly the way an ALB does: ES256, `signer`, `client`,
`iss` and `exp` in the header, base64url segments *with* `=` padding. `KeyServer` publishes its
public key on loopback the way `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>` does
(a PEM file per kid), and can be switched to fail, hang or go away. The keys are generated at
run time and never written to disk.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

TEST_ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/jwt-auth-local/0123456789abcdef"


def padded_b64url(data: bytes) -> str:
    """base64url the way the ALB writes it: `=` padding kept."""
    return base64.urlsafe_b64encode(data).decode("ascii")


class AlbTokenSigner:
    """Signs `x-amzn-oidc-data` tokens for one (simulated) ALB with a freshly generated P-256 key."""

    def __init__(self, *, alb_arn: str, issuer: str, client_id: str, kid: str | None = None) -> None:
        self.alb_arn = alb_arn
        self.issuer = issuer
        self.client_id = client_id
        self.kid = kid or str(uuid.uuid4())
        self.private_key = ec.generate_private_key(ec.SECP256R1())

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def header(self, *, lifetime: int = 120, now: float | None = None) -> dict[str, Any]:
        expires = int(now if now is not None else time.time()) + lifetime
        return {
            "typ": "JWT",
            "kid": self.kid,
            "alg": "ES256",
            "iss": self.issuer,
            "client": self.client_id,
            "signer": self.alb_arn,
            "exp": expires,
        }

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        lifetime: int = 120,
        now: float | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """A token for `claims`; `header` entries override (a value of None removes the field)."""
        full_header = self.header(lifetime=lifetime, now=now)
        for name, value in (header or {}).items():
            if value is None:
                full_header.pop(name, None)
            else:
                full_header[name] = value
        payload = {"iss": self.issuer, "exp": self.header(lifetime=lifetime, now=now)["exp"], **claims}
        signing_input = (
            padded_b64url(json.dumps(full_header).encode()) + "." + padded_b64url(json.dumps(payload).encode())
        )
        der = self.private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + padded_b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class KeyServer:
    """A loopback HTTP server that serves PEM public keys at `/<kid>`.

    `mode`: "up" serves keys, "error" answers 500, "redirect" answers 302 to another path, "hang"
    never answers within any sane timeout.
    `stop()` closes the socket so that connections are refused.
    """

    def __init__(self, keys: Mapping[str, bytes] | None = None) -> None:
        self.keys: dict[str, bytes] = dict(keys or {})
        self.mode = "up"
        self.requests: list[str] = []
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if server.mode == "hang":
                    server._release.wait(30)
                    return
                if server.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "/elsewhere" + self.path)
                    self.end_headers()
                    return
                pem = server.keys.get(self.path.lstrip("/"))
                if server.mode == "error" or pem is None:
                    self.send_response(500 if server.mode == "error" else 404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-pem-file")
                self.send_header("Content-Length", str(len(pem)))
                self.end_headers()
                self.wfile.write(pem)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, signer: AlbTokenSigner) -> None:
        self.keys[signer.kid] = signer.public_pem()

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
