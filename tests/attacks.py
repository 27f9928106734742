"""The attack corpus: bad tokens and requests, built once, run against every enforcement point.

Three places decide whether a token is good, and each gets every case of the kind of input it
accepts:

- bearer tokens (`Authorization`): the local gateway's JWT authorizer (mirroring API Gateway's),
  the tenant-path Lambda authorizer, and the web app's machine-client paths (`/m2m/`);
- ALB user-claims tokens (`x-amzn-oidc-data`): the web app behind the ALB.

A case is a function of a `Realm` (what one enforcement point trusts: issuer, client, scope, the
signing key) that returns the header value to send, so the same attack is aimed at each point's
own configuration: an expired token is otherwise valid *for that point*. All keys are generated
at run time. `attacker_fetches` counts every request that reached the attacker's server: a
verifier that follows `jku`/`x5u` shows up there.

Not in the corpus, because no outsider can make them: a token the pool itself signed with odd but
well-formed content (a `client_id` list, a BOM before the header JSON, a second `token_use`), and an
ALB token whose header names this ALB but which another ALB's key signed (AWS holds every ALB's key
and writes the `signer` itself). The JWT authorizer accepts an ID token whose audience is right, as
API Gateway does: routes require scopes, which ID tokens lack.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

# Lines printed at the end of the test session (tests/conftest.py, pytest_terminal_summary).
REPORT: list[str] = []

HUGE = 17 * 1024  # over API Gateway's 10 KB header limit and the ALB's 16 KB


# --------------------------------------------------------------------------- encoding


def b64(data: bytes, *, pad: bool = False) -> str:
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


def segment(value: Any, *, pad: bool = False) -> str:
    """A header or payload segment: a dict/list/str is JSON-encoded; bytes are taken as they are."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return b64(raw, pad=pad)


Sign = Callable[[bytes], bytes]


def compact(header: Any, payload: Any, sign: Sign | None, *, pad: bool = False) -> str:
    signing_input = f"{segment(header, pad=pad)}.{segment(payload, pad=pad)}"
    signature = sign(signing_input.encode("ascii")) if sign else b""
    return f"{signing_input}.{b64(signature, pad=pad)}" if signature else f"{signing_input}."


def rs256(key: rsa.RSAPrivateKey) -> Sign:
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def es256(key: ec.EllipticCurvePrivateKey) -> Sign:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def hmac_with(secret: bytes, digest: Any = hashlib.sha256) -> Sign:
    return lambda data: hmac.new(secret, data, digest).digest()


def public_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def self_signed_certificate(key: rsa.RSAPrivateKey) -> str:
    """A base64 DER certificate for `key`, as an `x5c` header would carry it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def with_duplicate(document: dict[str, Any], name: str, last_value: Any) -> bytes:
    """JSON text with `name` twice: the genuine value first, `last_value` after it (last one wins)."""
    text = json.dumps(document)
    return (text[:-1] + f", {json.dumps(name)}: {json.dumps(last_value)}}}").encode()


def with_raw_member(document: dict[str, Any], name: str, raw: str) -> bytes:
    """JSON text of `document` with `name` set to the literal text `raw` (say `1e999` or `NaN`)."""
    text = json.dumps({key: value for key, value in document.items() if key != name})
    separator = ", " if len(text) > 2 else ""
    return (text[:-1] + f"{separator}{json.dumps(name)}: {raw}}}").encode()


# Numeric dates that are JSON (or what lenient parsers take for JSON) but not finite numbers in range.
NON_FINITE_DATES = ("1e999", "-1e999", "Infinity", "NaN", "1e300", "-5", "true", "null", "[1]")


# --------------------------------------------------------------------------- keys and servers


@dataclass
class RsaKey:
    kid: str
    private_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}


class CountingServer:
    """A loopback HTTP server answering GETs from `routes` (path → (status, body)), counting requests.

    `delay` makes every answer late; `trickle` sends each answer one byte at a time, that many
    seconds apart (every single read is quick, the whole answer is not); `down()` closes the
    socket (connections are refused).
    """

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        self.requests: list[str] = []
        self.delay = 0.0
        self.trickle = 0.0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                    delay, trickle = server.delay, server.trickle
                if delay:
                    time.sleep(delay)
                status, body, content_type = server.routes.get(self.path, (404, b"", "text/plain"))
                if trickle:
                    self._trickle(status, body, content_type, trickle)
                    return
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting

            def _trickle(self, status: int, body: bytes, content_type: str, interval: float) -> None:
                head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
                try:
                    for byte in head.encode() + body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(interval)
                except OSError:
                    pass  # the client gave up waiting
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def serve_json(self, path: str, document: Any) -> None:
        self.routes[path] = (200, json.dumps(document).encode(), "application/json")

    def serve_pem(self, path: str, pem: bytes) -> None:
        self.routes[path] = (200, pem, "application/x-pem-file")

    def serve_raw(self, path: str, body: bytes, status: int = 200, content_type: str = "application/json") -> None:
        self.routes[path] = (status, body, content_type)

    def count(self, prefix: str = "") -> int:
        with self._lock:
            return sum(1 for path in self.requests if path.startswith(prefix))

    def down(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def weak_rsa_key(kid: str) -> RsaKey:
    """A 1024-bit RSA key: below what every verifier accepts (the weakness is the attack)."""
    return RsaKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505


def serve_issuer(server: CountingServer, pool: str, keys: list[RsaKey]) -> str:
    """Publishes a user pool's discovery document and JWKS on `server`; its issuer URL."""
    issuer = f"{server.base_url}/{pool}"
    server.serve_json(
        f"/{pool}/.well-known/openid-configuration", {"issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks.json"}
    )
    server.serve_json(f"/{pool}/.well-known/jwks.json", {"keys": [key.jwk() for key in keys]})
    return issuer


# --------------------------------------------------------------------------- bearer tokens


@dataclass
class Realm:
    """What one bearer-token enforcement point trusts, and the keys an attacker has around it."""

    issuer: str
    client_id: str
    scope: str  # the scope string a good token for this point carries
    key: RsaKey  # the pool's signing key, in its JWKS
    other_pool_key: RsaKey  # a genuine Cognito-style key of another pool: not in this JWKS
    attacker_rsa: RsaKey
    attacker_ec: ec.EllipticCurvePrivateKey
    attacker_url: str  # the attacker's server, for jku/x5u
    extra_claims: dict[str, Any] = field(default_factory=dict)
    # Keys the pool's JWKS also lists, which no verifier may use: 1024 bits, and `use: enc`.
    weak_key: RsaKey | None = None
    encryption_key: RsaKey | None = None

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": str(uuid.UUID(int=1)),
            "iss": self.issuer,
            "client_id": self.client_id,
            "token_use": "access",
            "scope": self.scope,
            "auth_time": now,
            "iat": now,
            "exp": now + 600,
            "jti": str(uuid.uuid4()),
            "username": "victor",
            **self.extra_claims,
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def header(self, **changes: Any) -> dict[str, Any]:
        header = {"kid": self.key.kid, "alg": "RS256", **changes}
        return {name: value for name, value in header.items() if value is not None}

    def signed(self, claims: Any = None, header: Any = None, *, key: RsaKey | None = None) -> str:
        """Signed with the pool's own key (or `key`): only the claims or header are wrong."""
        return compact(
            self.header() if header is None else header,
            self.claims() if claims is None else claims,
            rs256((key or self.key).private_key),
        )

    def good(self) -> str:
        return self.signed()


@dataclass(frozen=True)
class BearerCase:
    name: str
    build: Callable[[Realm], str | None]  # the Authorization header value, or None for none at all


def _bearer(token: str) -> str:
    return f"Bearer {token}"


def _signed_by_attacker(realm: Realm, **header: Any) -> str:
    return compact(
        realm.header(kid=realm.attacker_rsa.kid, **header), realm.claims(), rs256(realm.attacker_rsa.private_key)
    )


def _tamper(token: str, index: int, replace: Callable[[str], str]) -> str:
    parts = token.split(".")
    parts[index] = replace(parts[index])
    return ".".join(parts)


def _unaligned(realm: Realm) -> list[str]:
    """The segments of a genuine token whose payload needs padding (so that adding it changes the text)."""
    for size in range(4):
        token = realm.signed(realm.claims(f="x" * size))
        if len(token.split(".")[1]) % 4:
            return token.split(".")
    raise AssertionError("unreachable: one of four sizes leaves the payload unaligned")


def bearer_cases() -> list[BearerCase]:
    cases: list[tuple[str, Callable[[Realm], str | None]]] = []

    def add(name: str, build: Callable[[Realm], str | None]) -> None:
        cases.append((name, build))

    # --- the algorithm is the attacker's choice
    for alg in ("none", "None", "NONE", "nOnE"):
        add(f"alg {alg}", lambda r, alg=alg: _bearer(compact(r.header(alg=alg), r.claims(), None)))
    add(
        "alg none with the genuine signature kept",
        lambda r: _bearer(compact(r.header(alg="none"), r.claims(), rs256(r.key.private_key))),
    )
    for alg, digest in (("HS256", hashlib.sha256), ("HS384", hashlib.sha384), ("HS512", hashlib.sha512)):
        add(
            f"{alg} keyed with the pool's public key (PEM)",
            lambda r, alg=alg, digest=digest: _bearer(
                compact(r.header(alg=alg), r.claims(), hmac_with(public_pem(r.key.private_key), digest))
            ),
        )
    add(
        "HS256 keyed with the pool's JWK text",
        lambda r: _bearer(compact(r.header(alg="HS256"), r.claims(), hmac_with(json.dumps(r.key.jwk()).encode()))),
    )
    add(
        "RS->ES swap: ES256 under the pool's kid",
        lambda r: _bearer(compact(r.header(alg="ES256"), r.claims(), es256(r.attacker_ec))),
    )
    add(
        "RS->ES swap: RS256 header, ECDSA signature",
        lambda r: _bearer(compact(r.header(), r.claims(), es256(r.attacker_ec))),
    )
    add(
        "PS256 signed by an attacker under the pool's kid",
        lambda r: _bearer(
            compact(
                r.header(alg="PS256"),
                r.claims(),
                lambda d: r.attacker_rsa.private_key.sign(
                    d, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()
                ),
            )
        ),
    )

    # --- which key: kid and key-carrying headers
    add("unknown kid", lambda r: _bearer(_signed_by_attacker(r)))
    add("no kid", lambda r: _bearer(compact(r.header(kid=None), r.claims(), rs256(r.key.private_key))))
    add("kid is a number", lambda r: _bearer(compact(r.header(kid=7), r.claims(), rs256(r.key.private_key))))
    for kid in (
        "../../../../dev/null",
        "../.well-known/jwks.json",
        "..%2F..%2Fjwks.json",
        "https://attacker.example/jwks.json",
        "{attacker}/key.pem",
        "kid\u0000",
        "real\u0000../x",
        "kid' OR '1'='1",
        "k" * 4096,
    ):
        add(
            f"kid {kid[:24]!r}",
            lambda r, kid=kid: _bearer(
                compact(
                    r.header(kid=kid.replace("{attacker}", r.attacker_url)),
                    r.claims(),
                    rs256(r.attacker_rsa.private_key),
                )
            ),
        )
    add(
        "kid of the pool's key with a traversal suffix",
        lambda r: _bearer(
            compact(r.header(kid=f"{r.key.kid}/../{r.key.kid}"), r.claims(), rs256(r.attacker_rsa.private_key))
        ),
    )
    for kid_choice in ("attacker", "pool"):

        def kid_of(r: Realm, kid_choice: str = kid_choice) -> str:
            return r.attacker_rsa.kid if kid_choice == "attacker" else r.key.kid

        add(
            f"jku at the attacker's JWKS ({kid_choice} kid)",
            lambda r, k=kid_of: _bearer(
                compact(
                    r.header(kid=k(r), jku=f"{r.attacker_url}/jwks.json"), r.claims(), rs256(r.attacker_rsa.private_key)
                )
            ),
        )
        add(
            f"x5u at the attacker's certificate ({kid_choice} kid)",
            lambda r, k=kid_of: _bearer(
                compact(
                    r.header(kid=k(r), x5u=f"{r.attacker_url}/cert.pem"), r.claims(), rs256(r.attacker_rsa.private_key)
                )
            ),
        )
        add(
            f"embedded jwk of the attacker ({kid_choice} kid)",
            lambda r, k=kid_of: _bearer(
                compact(
                    r.header(kid=k(r), jwk={**r.attacker_rsa.jwk(), "kid": k(r)}),
                    r.claims(),
                    rs256(r.attacker_rsa.private_key),
                )
            ),
        )
        add(
            f"x5c with the attacker's certificate ({kid_choice} kid)",
            lambda r, k=kid_of: _bearer(
                compact(
                    r.header(kid=k(r), x5c=[self_signed_certificate(r.attacker_rsa.private_key)]),
                    r.claims(),
                    rs256(r.attacker_rsa.private_key),
                )
            ),
        )
    add(
        "embedded symmetric jwk",
        lambda r: _bearer(
            compact(r.header(alg="HS256", jwk={"kty": "oct", "k": b64(b"secret")}), r.claims(), hmac_with(b"secret"))
        ),
    )
    add(
        "crit header with an unknown extension",
        lambda r: _bearer(r.signed(header=r.header(crit=["urn:attacker"], **{"urn:attacker": True}))),
    )
    add("crit header naming a registered claim", lambda r: _bearer(r.signed(header=r.header(crit=["exp"]))))
    add("crit header that is not a list", lambda r: _bearer(r.signed(header=r.header(crit="b64"))))
    add(
        "signed by another pool's key (its own kid)",
        lambda r: _bearer(r.signed(header=r.header(kid=r.other_pool_key.kid), key=r.other_pool_key)),
    )
    add("signed by another pool's key (this pool's kid)", lambda r: _bearer(r.signed(key=r.other_pool_key)))

    # --- time
    now = int(time.time())
    add("expired", lambda r: _bearer(r.signed(r.claims(iat=now - 3600, auth_time=now - 3600, exp=now - 60))))
    add("expired one second ago", lambda r: _bearer(r.signed(r.claims(exp=int(time.time()) - 1))))
    add("exp missing", lambda r: _bearer(r.signed(r.claims(exp=None))))
    add("exp not a number", lambda r: _bearer(r.signed(r.claims(exp="never"))))
    add("nbf in the future", lambda r: _bearer(r.signed(r.claims(nbf=now + 600))))
    add("iat in the future", lambda r: _bearer(r.signed(r.claims(iat=now + 600, exp=now + 1200))))
    # Numeric dates are JSON numbers (RFC 7519): digits in a string are refused even when in time.
    for name, value in (("exp", now + 600), ("iat", now), ("nbf", now - 60)):
        add(
            f"{name} as a string of digits",
            lambda r, name=name, value=value: _bearer(r.signed(r.claims(**{name: str(value)}))),
        )
    add("exp as a boolean", lambda r: _bearer(r.signed(r.claims(exp=True))))
    for name in ("exp", "iat", "nbf"):
        for raw in NON_FINITE_DATES:
            add(
                f"{name} not a finite date: {raw}",
                lambda r, name=name, raw=raw: _bearer(
                    compact(r.header(), with_raw_member(r.claims(), name, raw), rs256(r.key.private_key))
                ),
            )

    # --- who issued it, for whom
    for label, wrong in (
        ("another pool", lambda i: i.rsplit("/", 1)[0] + "/eu-west-1_Other"),
        ("suffix added", lambda i: i + "x"),
        ("trailing slash", lambda i: i + "/"),
        ("last character dropped", lambda i: i[:-1]),
        ("prefix added", lambda i: "https://attacker.example/" + i),
        ("issuer as a path of another host", lambda i: "https://attacker.example/" + i.split("://", 1)[1]),
        ("other scheme", lambda i: ("https" if i.startswith("http:") else "http") + i[i.index(":") :]),
        ("upper-cased", lambda i: i.upper()),
        ("with whitespace", lambda i: f" {i} "),
        ("a list", lambda i: [i]),
    ):
        add(f"iss: {label}", lambda r, wrong=wrong: _bearer(r.signed(r.claims(iss=wrong(r.issuer)))))
    add("iss missing", lambda r: _bearer(r.signed(r.claims(iss=None))))
    add("client_id of another client", lambda r: _bearer(r.signed(r.claims(client_id="3otherclient000000000000000"))))
    add(
        "client_id missing, aud of another client",
        lambda r: _bearer(r.signed(r.claims(client_id=None, aud="3otherclient000000000000000"))),
    )
    add("client_id with a suffix", lambda r: _bearer(r.signed(r.claims(client_id=r.client_id + "x"))))
    # API Gateway checks `aud` when present; `client_id` only when it is absent.
    add(
        "aud of another client beside the right client_id",
        lambda r: _bearer(r.signed(r.claims(aud="3otherclient000000000000000"))),
    )
    add(
        "aud list of other clients beside the right client_id",
        lambda r: _bearer(r.signed(r.claims(aud=["3otherclient000000000000000", r.client_id + "x"]))),
    )
    add("aud empty list beside the right client_id", lambda r: _bearer(r.signed(r.claims(aud=[]))))
    add("aud null beside the right client_id", lambda r: _bearer(r.signed(r.claims(aud=None) | {"aud": None})))
    add("aud an object beside the right client_id", lambda r: _bearer(r.signed(r.claims() | {"aud": {r.client_id: 1}})))
    add(
        "ID token where an access token is required",
        lambda r: _bearer(
            r.signed(
                r.claims(token_use="id", client_id=None, scope=None, aud=r.client_id, **{"cognito:username": "victor"})
            )
        ),
    )

    # --- what it may do
    add("no scope", lambda r: _bearer(r.signed(r.claims(scope=None))))
    add("only openid", lambda r: _bearer(r.signed(r.claims(scope="openid"))))
    for claim in ("scopes", "cognito:groups", "custom:scope", "roles", "permissions"):
        add(
            f"scope smuggled in {claim}",
            lambda r, claim=claim: _bearer(r.signed(r.claims(scope="openid", **{claim: r.scope.split()}))),
        )
    add(
        "scope of another resource server",
        lambda r: _bearer(
            r.signed(
                r.claims(scope=" ".join("https://attacker.example/" + s.rsplit("/", 1)[-1] for s in r.scope.split()))
            )
        ),
    )
    add("scope with a suffix", lambda r: _bearer(r.signed(r.claims(scope=" ".join(s + "x" for s in r.scope.split())))))
    add("scope joined by commas", lambda r: _bearer(r.signed(r.claims(scope="openid," + ",".join(r.scope.split(" "))))))
    # RFC 6749: single spaces separate scopes. Other whitespace must not split off the real scope.
    for label, separator in (
        ("tab", "\t"),
        ("newline", "\n"),
        ("carriage return", "\r"),
        ("vertical tab", "\x0b"),
        ("form feed", "\x0c"),
        ("file separator", "\x1c"),
        ("no-break space", "\u00a0"),
        ("em space", "\u2003"),
        ("ideographic space", "\u3000"),
    ):
        add(
            f"scope separated by a {label}",
            lambda r, separator=separator: _bearer(
                r.signed(r.claims(scope=separator.join(["openid", *r.scope.split(" ")])))
            ),
        )

    # --- keys the pool's JWKS lists but no verifier may use
    add(
        "signed by a 1024-bit key in the key set",
        lambda r: _bearer(r.signed(header=r.header(kid=r.weak_key.kid), key=r.weak_key)),
    )
    add(
        "signed by an encryption key (use enc) in the key set",
        lambda r: _bearer(r.signed(header=r.header(kid=r.encryption_key.kid), key=r.encryption_key)),
    )
    for alg, digest in (("RS384", hashes.SHA384()), ("RS512", hashes.SHA512())):
        add(
            f"{alg} under the pool's RS256 key",
            lambda r, alg=alg, digest=digest: _bearer(
                compact(r.header(alg=alg), r.claims(), lambda d: r.key.private_key.sign(d, padding.PKCS1v15(), digest))
            ),
        )

    # --- structure
    add("two segments", lambda r: _bearer(r.good().rsplit(".", 1)[0]))
    add("signature dropped", lambda r: _bearer(r.good().rsplit(".", 1)[0] + "."))
    add("extra segment", lambda r: _bearer(r.good() + "." + b64(b"extra")))
    add("five segments (JWE shape)", lambda r: _bearer(r.good() + ".a.b"))
    add("empty header segment", lambda r: _bearer("." + r.good().split(".", 1)[1]))
    add("truncated signature", lambda r: _bearer(r.good()[:-10]))
    add("one character", lambda r: _bearer("e"))
    add("non-base64 header", lambda r: _bearer(_tamper(r.good(), 0, lambda s: "!!" + s[2:])))
    add("non-base64 payload", lambda r: _bearer(_tamper(r.good(), 1, lambda s: s[:5] + "%%%" + s[8:])))
    add("non-base64 signature", lambda r: _bearer(_tamper(r.good(), 2, lambda s: "***" + s[3:])))
    add(
        "standard base64 alphabet",
        lambda r: _bearer(
            ".".join(
                base64.b64encode(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))).decode()
                for p in r.good().split(".")
            )
        ),
    )
    add("non-JSON header", lambda r: _bearer(compact(b"not json", r.claims(), rs256(r.key.private_key))))
    add("non-JSON payload", lambda r: _bearer(compact(r.header(), b"not json", rs256(r.key.private_key))))
    add("JSON array header", lambda r: _bearer(compact([r.header()], r.claims(), rs256(r.key.private_key))))
    add("JSON array payload", lambda r: _bearer(compact(r.header(), [r.claims()], rs256(r.key.private_key))))
    for label, value in (("string", "claims"), ("number", 42), ("null", None), ("true", True)):
        add(
            f"JSON {label} payload",
            lambda r, value=value: _bearer(compact(r.header(), json.dumps(value).encode(), rs256(r.key.private_key))),
        )
    add(
        "payload that is not UTF-8",
        lambda r: _bearer(compact(r.header(), b'{"sub": "\xff\xfe"}', rs256(r.key.private_key))),
    )
    add(
        "deeply nested payload",
        lambda r: _bearer(compact(r.header(), b"[" * 5000 + b"]" * 5000, rs256(r.key.private_key))),
    )
    add("tampered payload", lambda r: _bearer(_tamper(r.good(), 1, lambda s: segment(r.claims(sub="admin")))))
    add(
        "signature of another token",
        lambda r: _bearer(_tamper(r.good(), 2, lambda s: r.signed(r.claims(sub="someone-else")).split(".")[2])),
    )
    add("padding added to a genuine token", lambda r: _bearer(".".join(p + "=" * (-len(p) % 4) for p in _unaligned(r))))

    # --- duplicate members: the last one wins (as in Go's and Python's parsers); it is the bad one
    add(
        "duplicate iss, the second another pool's",
        lambda r: _bearer(
            compact(r.header(), with_duplicate(r.claims(), "iss", r.issuer + "-other"), rs256(r.key.private_key))
        ),
    )
    add(
        "duplicate client_id, the second another client",
        lambda r: _bearer(
            compact(
                r.header(),
                with_duplicate(r.claims(), "client_id", "3otherclient000000000000000"),
                rs256(r.key.private_key),
            )
        ),
    )
    add(
        "duplicate exp, the second past",
        lambda r: _bearer(compact(r.header(), with_duplicate(r.claims(), "exp", 1), rs256(r.key.private_key))),
    )
    add(
        "duplicate scope, the second empty",
        lambda r: _bearer(compact(r.header(), with_duplicate(r.claims(), "scope", "openid"), rs256(r.key.private_key))),
    )
    add(
        "duplicate alg, the second HS256",
        lambda r: _bearer(
            compact(with_duplicate(r.header(), "alg", "HS256"), r.claims(), hmac_with(public_pem(r.key.private_key)))
        ),
    )
    add(
        "duplicate alg, the second none",
        lambda r: _bearer(compact(with_duplicate(r.header(), "alg", "none"), r.claims(), None)),
    )

    # --- size
    add("huge token (validly signed)", lambda r: _bearer(r.signed(r.claims(padding="x" * HUGE))))
    add("huge sub", lambda r: _bearer(r.signed(r.claims(sub="s" * HUGE))))
    add("huge scope", lambda r: _bearer(r.signed(r.claims(scope=(r.scope + " ") * (HUGE // len(r.scope))))))
    add("huge header", lambda r: _bearer(r.signed(header=r.header(x="h" * HUGE))))
    add("huge garbage", lambda r: _bearer("a" * HUGE + "." + "b" * HUGE + "." + "c" * 64))

    # --- the Authorization header itself
    add("no Authorization header", lambda r: None)
    add("empty Authorization header", lambda r: "")
    add("Bearer and nothing else", lambda r: "Bearer")
    add("Bearer and spaces", lambda r: "Bearer    ")
    add("Basic scheme with the token", lambda r: f"Basic {r.good()}")
    add("Basic credentials", lambda r: "Basic " + base64.b64encode(b"victor:password").decode())
    add("Token scheme with the token", lambda r: f"Token {r.good()}")
    add("Bearer with a colon", lambda r: f"Bearer: {r.good()}")
    add("Bearer glued to the token", lambda r: f"Bearer{r.good()}")
    add("two tokens after Bearer", lambda r: f"Bearer {r.good()} {r.good()}")
    add("two Bearer credentials, comma-separated", lambda r: f"Bearer {r.good()}, Bearer {r.good()}")
    add("two tokens, comma-separated", lambda r: f"Bearer {r.good()},{r.good()}")
    add("bare expired token", lambda r: r.signed(r.claims(exp=now - 60)))
    add("lower-case scheme, alg none", lambda r: "bearer " + compact(r.header(alg="none"), r.claims(), None))
    add(
        "upper-case scheme, forged signature",
        lambda r: "BEARER " + _tamper(r.good(), 1, lambda s: segment(r.claims(sub="x"))),
    )
    add("space inside the payload segment", lambda r: _bearer(_tamper(r.good(), 1, lambda s: s[:10] + " " + s[10:])))
    add("newline inside the signature", lambda r: _bearer(_tamper(r.good(), 2, lambda s: s[:10] + "\n" + s[10:])))
    add("tab inside the header segment", lambda r: _bearer(_tamper(r.good(), 0, lambda s: s[:4] + "\t" + s[4:])))
    add("NUL after the token", lambda r: _bearer(r.good() + "\u0000"))
    add("expired token after a tab", lambda r: "Bearer\t" + r.signed(r.claims(exp=now - 60)))
    add("non-ASCII in the token", lambda r: _bearer(_tamper(r.good(), 1, lambda s: s[:6] + "\u00e9" + s[7:])))
    return [BearerCase(name, build) for name, build in cases]


# --------------------------------------------------------------------------- ALB user-claims tokens


@dataclass
class AlbRealm:
    """What the web app trusts about its ALB's `x-amzn-oidc-data`, and what else is around."""

    alb_arn: str
    issuer: str
    client_id: str
    kid: str
    key: ec.EllipticCurvePrivateKey  # this ALB's key, published at the regional endpoint
    other_alb_arn: str
    other_alb_kid: str  # another ALB's key, published at the same endpoint (genuinely)
    other_alb_key: ec.EllipticCurvePrivateKey
    attacker_ec: ec.EllipticCurvePrivateKey
    attacker_rsa: rsa.RSAPrivateKey
    attacker_url: str

    def header(self, **changes: Any) -> dict[str, Any]:
        header = {
            "typ": "JWT",
            "kid": self.kid,
            "alg": "ES256",
            "iss": self.issuer,
            "client": self.client_id,
            "signer": self.alb_arn,
            "exp": int(time.time()) + 120,
            **changes,
        }
        return {name: value for name, value in header.items() if value is not None}

    def claims(self, **changes: Any) -> dict[str, Any]:
        claims = {
            "sub": str(uuid.UUID(int=2)),
            "email": "ada@example.com",
            "email_verified": "true",
            "exp": int(time.time()) + 120,
            "iss": self.issuer,
            **changes,
        }
        return {name: value for name, value in claims.items() if value is not None}

    def signed(self, claims: Any = None, header: Any = None, *, key: ec.EllipticCurvePrivateKey | None = None) -> str:
        """Padded like the ALB's, signed with this ALB's key (or `key`)."""
        return compact(
            self.header() if header is None else header,
            self.claims() if claims is None else claims,
            es256(key or self.key),
            pad=True,
        )

    def good(self) -> str:
        return self.signed()


@dataclass(frozen=True)
class AlbCase:
    name: str
    build: Callable[[AlbRealm], str | None]  # the x-amzn-oidc-data value, or None for no header


def alb_cases() -> list[AlbCase]:
    cases: list[tuple[str, Callable[[AlbRealm], str | None]]] = []

    def add(name: str, build: Callable[[AlbRealm], str | None]) -> None:
        cases.append((name, build))

    now = int(time.time())
    for alg in ("none", "None", "NONE"):
        add(f"alg {alg}", lambda r, alg=alg: compact(r.header(alg=alg), r.claims(), None, pad=True))
    add(
        "HS256 keyed with the ALB's public key",
        lambda r: compact(r.header(alg="HS256"), r.claims(), hmac_with(public_pem(r.key)), pad=True),
    )
    add(
        "ES->RS swap: RS256 signed by an attacker",
        lambda r: compact(r.header(alg="RS256"), r.claims(), rs256(r.attacker_rsa), pad=True),
    )
    add("ES384 header", lambda r: r.signed(header=r.header(alg="ES384")))
    add(
        "unknown kid (an attacker's key)", lambda r: r.signed(header=r.header(kid=str(uuid.uuid4())), key=r.attacker_ec)
    )
    add("attacker's key under this ALB's kid", lambda r: r.signed(key=r.attacker_ec))
    for kid in (
        "../{kid}",
        "{kid}/../../etc/passwd",
        "{attacker}/{kid}",
        "{kid}?x=1",
        "{kid}%2F..",
        "{kid}\u0000",
        "{kid}\n",
        "..",
        "",
    ):
        add(
            f"kid {kid!r}",
            lambda r, kid=kid: r.signed(
                header=r.header(kid=kid.replace("{kid}", r.kid).replace("{attacker}", r.attacker_url)),
                key=r.attacker_ec,
            ),
        )
    add(
        "jku at the attacker", lambda r: r.signed(header=r.header(jku=f"{r.attacker_url}/jwks.json"), key=r.attacker_ec)
    )
    add("x5u at the attacker", lambda r: r.signed(header=r.header(x5u=f"{r.attacker_url}/cert.pem"), key=r.attacker_ec))
    add(
        "embedded jwk of the attacker",
        lambda r: r.signed(
            header=r.header(jwk=json.loads(jwt.algorithms.ECAlgorithm.to_jwk(r.attacker_ec.public_key()))),
            key=r.attacker_ec,
        ),
    )
    add("crit header", lambda r: r.signed(header=r.header(crit=["urn:attacker"], **{"urn:attacker": 1})))
    add("expired (header exp)", lambda r: r.signed(header=r.header(exp=now - 60)))
    add("header exp missing", lambda r: r.signed(header=r.header(exp=None)))
    add("header exp not a number", lambda r: r.signed(header=r.header(exp="tomorrow")))
    add("header exp as a string of digits", lambda r: r.signed(header=r.header(exp=str(int(time.time()) + 120))))
    add("header exp as a boolean", lambda r: r.signed(header=r.header(exp=True)))
    for raw in NON_FINITE_DATES:
        add(
            f"header exp not a finite date: {raw}",
            lambda r, raw=raw: compact(with_raw_member(r.header(), "exp", raw), r.claims(), es256(r.key), pad=True),
        )
    for name in ("exp", "nbf", "iat"):
        for raw in ("1e999", "NaN", '"1"'):
            add(
                f"payload {name} not a numeric date: {raw}",
                lambda r, name=name, raw=raw: compact(
                    r.header(), with_raw_member(r.claims(), name, raw), es256(r.key), pad=True
                ),
            )
    add("payload exp past", lambda r: r.signed(r.claims(exp=now - 60)))
    add("payload nbf in the future", lambda r: r.signed(r.claims(nbf=now + 600)))
    add("another issuer", lambda r: r.signed(header=r.header(iss="https://attacker.example")))
    add("issuer with a suffix", lambda r: r.signed(header=r.header(iss=r.issuer + "x")))
    add("issuer with a trailing slash", lambda r: r.signed(header=r.header(iss=r.issuer + "/")))
    add("issuer as a prefix of the real one", lambda r: r.signed(header=r.header(iss=r.issuer[:-1])))
    add("payload names another issuer", lambda r: r.signed(r.claims(iss="https://attacker.example")))
    add("another client", lambda r: r.signed(header=r.header(client="someone-elses-client")))
    add("client missing", lambda r: r.signed(header=r.header(client=None)))
    add(
        "another ALB's token (its own signer and key)",
        lambda r: r.signed(header=r.header(signer=r.other_alb_arn, kid=r.other_alb_kid), key=r.other_alb_key),
    )
    add("signer missing", lambda r: r.signed(header=r.header(signer=None)))
    add("signer with a suffix", lambda r: r.signed(header=r.header(signer=r.alb_arn + "0")))
    add("signer upper-cased", lambda r: r.signed(header=r.header(signer=r.alb_arn.upper())))
    add("signer as a list", lambda r: r.signed(header=r.header(signer=[r.alb_arn])))
    add("padding stripped from a genuine token", lambda r: ".".join(p.rstrip("=") for p in r.good().split(".")))
    add(
        "padding added to a genuine token",
        lambda r: ".".join(p if p.endswith("=") else p + "==" for p in r.good().split(".")),
    )
    add("tampered payload", lambda r: _tamper(r.good(), 1, lambda s: segment(r.claims(sub="admin"), pad=True)))
    add("two segments", lambda r: r.good().rsplit(".", 1)[0])
    add("extra segment", lambda r: r.good() + ".e30=")
    add("non-base64 header", lambda r: _tamper(r.good(), 0, lambda s: "!!" + s[2:]))
    add("non-JSON header", lambda r: compact(b"not json", r.claims(), es256(r.key), pad=True))
    add("non-JSON payload", lambda r: compact(r.header(), b"not json", es256(r.key), pad=True))
    add("JSON array header", lambda r: compact([r.header()], r.claims(), es256(r.key), pad=True))
    add("JSON array payload", lambda r: compact(r.header(), [r.claims()], es256(r.key), pad=True))
    add(
        "duplicate signer, the second another ALB",
        lambda r: compact(with_duplicate(r.header(), "signer", r.other_alb_arn), r.claims(), es256(r.key), pad=True),
    )
    add(
        "duplicate alg, the second none",
        lambda r: compact(with_duplicate(r.header(), "alg", "none"), r.claims(), None, pad=True),
    )
    add("huge token (validly signed)", lambda r: r.signed(r.claims(padding="x" * HUGE)))
    add("huge header value", lambda r: r.signed(header=r.header(x="h" * HUGE)))
    add("no header at all", lambda r: None)
    add("empty header", lambda r: "")
    add("Bearer prefix", lambda r: f"Bearer {r.good()}")
    add("two tokens", lambda r: f"{r.good()},{r.good()}")
    add("space inside the signature", lambda r: _tamper(r.good(), 2, lambda s: s[:8] + " " + s[8:]))
    return [AlbCase(name, build) for name, build in cases]
