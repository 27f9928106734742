"""Runs in a fresh interpreter for the verifiers row: `python -m bench.verifier_worker <out.json> authorizer|alb`.

Each verifier is driven through its public interface only. Test keys are generated here; the
public key is served once from a loopback HTTP server (the JWKS for the Lambda authorizer, the
PEM for the ALB verifier), which primes the verifier's key cache on the first verification and is
then shut down, so the timed verifications never touch a socket. The floor is `cryptography`
verifying the very same signature over the same signing input.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5
SECONDS_PER_ROUND = 0.3


class KeyServer:
    """Serves fixed documents by path on 127.0.0.1 until stopped."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        served = documents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = served.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _rates(functions: dict[str, Any]) -> dict[str, float]:
    from bench.common import interleaved_rates

    return interleaved_rates(functions, rounds=ROUNDS, seconds=SECONDS_PER_ROUND)


def authorizer() -> dict[str, Any]:
    import jwt
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    import auth_contract
    from bench import events
    from jwtcheck.jws import CompactJws

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = "bench-" + uuid.uuid4().hex[:12]
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "RS256", "use": "sig"}
    server = KeyServer({"/.well-known/jwks.json": json.dumps({"keys": [jwk]}).encode()})
    now = int(time.time())
    claims = {
        "sub": events.USER_SUB,
        "cognito:groups": [auth_contract.EDITOR],
        "iss": events.ISSUER,
        "version": 2,
        "client_id": events.USER_CLIENT_ID,
        "token_use": "access",
        "scope": events.qualified(*auth_contract.ROLE_SCOPES[auth_contract.EDITOR]),
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "origin_jti": str(uuid.uuid4()),
        "username": "ada",
        auth_contract.TENANT_CLAIM: events.TENANT,
        auth_contract.ROLES_CLAIM: [auth_contract.EDITOR],
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    os.environ.update(
        {
            "ISSUER": events.ISSUER,
            "ALLOWED_CLIENT_IDS": events.USER_CLIENT_ID,
            "JWKS_URL": f"{server.base_url}/.well-known/jwks.json",
        }
    )
    from tenant_authorizer import handler

    events.install_revocation_store()  # allows are checked against it (answered from its cache when warm)
    event = events.authorizer_event(token)
    try:
        primed = handler.authorize(event)
    finally:
        server.stop()
    if primed.get("isAuthorized") is not True:
        raise RuntimeError(f"the authorizer refused the benchmark's token: {primed}")
    verifier = handler.verifier()
    signing_input, _, signature = token.rpartition(".")
    raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    public_key = key.public_key()
    rates = _rates(
        {
            "verify": lambda: verifier.verify(token),
            "authorize": lambda: handler.authorize(event),
            "raw": lambda: public_key.verify(
                raw_signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
            ),
            # Where verify() spends its time: the same with its header cache emptied first (the first
            # token of a key), reading the header alone, and, for reference, one PyJWT decode.
            "verify_header_uncached": lambda: (verifier.headers.clear(), verifier.verify(token)),
            "header": lambda: CompactJws(token),
            "pyjwt_decode": lambda: jwt.decode(token, public_key, algorithms=["RS256"], options={"verify_aud": False}),
        }
    )
    still_allowed = handler.authorize(event).get("isAuthorized") is True
    return {"rates": rates, "still_allowed": still_allowed, "token_bytes": len(token)}


def _padded_b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def alb() -> dict[str, Any]:
    import jwt
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from bench import events
    from jwtcheck.jws import CompactJws
    from service.alb_auth import AlbTokenVerifier

    alb_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/jwt-auth-bench/0123456789abcdef"
    client_id = "2b8fexample6alb4client1zz"
    key = ec.generate_private_key(ec.SECP256R1())
    kid = str(uuid.uuid4())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    server = KeyServer({f"/{kid}": pem})
    expires = int(time.time()) + 3600
    # The ALB's format: ES256, iss/client/signer/exp in the header, padded base64url segments.
    header = {
        "typ": "JWT",
        "kid": kid,
        "alg": "ES256",
        "iss": events.ISSUER,
        "client": client_id,
        "signer": alb_arn,
        "exp": expires,
    }
    payload = {
        "sub": events.USER_SUB,
        "email_verified": "true",
        "email": "ada@tenant-a.example",
        "username": "ada",
        "exp": expires,
        "iss": events.ISSUER,
    }
    signing_input = _padded_b64url(json.dumps(header).encode()) + "." + _padded_b64url(json.dumps(payload).encode())
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    token = signing_input + "." + _padded_b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    verifier = AlbTokenVerifier(
        alb_arn=alb_arn, issuer=events.ISSUER, client_id=client_id, key_url_base=server.base_url
    )
    try:
        verifier.verify(token)
    finally:
        server.stop()
    public_key = key.public_key()
    data = signing_input.encode("ascii")
    rates = _rates(
        {
            "verify": lambda: verifier.verify(token),
            "raw": lambda: public_key.verify(der, data, ec.ECDSA(hashes.SHA256())),
            # An ALB header carries the token's exp: a new token is a new header segment.
            "verify_header_uncached": lambda: (verifier.headers.clear(), verifier.verify(token)),
            "header": lambda: CompactJws(token),
            "pyjwt_decode": lambda: jwt.decode_complete(
                token, public_key, algorithms=["ES256"], options={"verify_aud": False}
            ),
        }
    )
    return {"rates": rates, "token_bytes": len(token)}


def main() -> None:
    out, which = sys.argv[1], sys.argv[2]
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the authorizer's JSON logs
    sys.path.insert(0, str(ROOT / "lambdas"))
    from bench.lambda_env import HANDLER_ENVIRONMENT

    os.environ.update(HANDLER_ENVIRONMENT)
    os.environ["POWERTOOLS_SERVICE_NAME"] = which
    result = authorizer() if which == "authorizer" else alb()
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
