"""tenant_authorizer: real RS256 tokens signed with a key generated here, its JWKS served on 127.0.0.1.

Specification: allow only a valid access token of an allowed client, carrying items.read and a
tenant equal to the path's `{tenantId}` (unless the caller is admin); deny everything else with
`{"isAuthorized": false}`, never an exception.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tenant_authorizer import handler
from tenant_authorizer.verifier import MAX_TOKEN_LENGTH

import auth_contract
from jwtcheck.fetch import check_url
from shared import revocation
from tests.api_events import (
    ALB_CLIENT_ID,
    ISSUER,
    MACHINE_CLIENT_ID,
    RESOURCE_SERVER,
    SPA_CLIENT_ID,
    LambdaContext,
    authorizer_request,
    mocked_revocation_table,
    qualified,
)

DENY = {"isAuthorized": False}


class Signer:
    """An RSA key pair with a kid, like one of the user pool's signing keys."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": kid or self.kid})


class JwksServer:
    """Serves a JWKS document on 127.0.0.1 and counts the fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                if server.delay:
                    time.sleep(server.delay)
                body = json.dumps(server.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer("test-key-1")


@pytest.fixture(scope="module")
def other_signer() -> Signer:
    return Signer("test-key-2")


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


@pytest.fixture
def jwks(jwks_server: JwksServer, signer: Signer, monkeypatch) -> JwksServer:
    """A fresh authorizer (empty key cache) reading the JWKS from the local server."""
    jwks_server.document = {"keys": [signer.jwk()]}
    jwks_server.fetches = 0
    jwks_server.delay = 0.0
    monkeypatch.setenv("ISSUER", ISSUER)
    monkeypatch.setenv("JWKS_URL", jwks_server.url)
    monkeypatch.setenv("ALLOWED_CLIENT_IDS", f"{SPA_CLIENT_ID},{ALB_CLIENT_ID}")
    monkeypatch.setenv("RESOURCE_SERVER_IDENTIFIER", RESOURCE_SERVER)
    handler.verifier.cache_clear()
    # Every allow is checked against the revocation store first: an empty one here.
    for _ in mocked_revocation_table(monkeypatch):
        yield jwks_server
    handler.verifier.cache_clear()


def access_token_claims(
    *,
    tenant: str | None = "acme",
    roles: tuple[str, ...] = (auth_contract.VIEWER,),
    client_id: str = SPA_CLIENT_ID,
    scopes: tuple[str, ...] | None = None,
    issued: int | None = None,
    lifetime: int = 900,
) -> dict[str, Any]:
    """An access token's claims as Cognito (with the pre-token trigger) issues them: real JSON types."""
    now = int(time.time()) if issued is None else issued
    granted = auth_contract.scopes_for_roles(roles) if scopes is None else scopes
    claims: dict[str, Any] = {
        "sub": "3f0c2a9e-0000-4000-8000-000000000001",
        "cognito:groups": list(roles),
        "iss": ISSUER,
        "version": 2,
        "client_id": client_id,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": " ".join(["openid", *qualified(*granted)]),
        "auth_time": now,
        "exp": now + lifetime,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "username": "victor",
        auth_contract.ROLES_CLAIM: list(roles),
    }
    if tenant is not None:
        claims[auth_contract.TENANT_CLAIM] = tenant
    return claims


def authorize(token: str | None, tenant: str = "acme", *, bearer: bool = True) -> dict[str, Any]:
    authorization = None if token is None else (f"Bearer {token}" if bearer else token)
    event = authorizer_request(f"/tenants/{tenant}/summary", tenant, authorization)
    return handler.lambda_handler(event, LambdaContext())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --------------------------------------------------------------------------- allow


def test_member_of_the_tenant_in_the_path_is_allowed_with_context(jwks, signer):
    claims = access_token_claims()
    response = authorize(signer.sign(claims))
    assert response == {
        "isAuthorized": True,
        "context": {
            "tenant": "acme",
            "roles": "viewer",
            "scopes": f"openid {RESOURCE_SERVER}/items.read",
            "sub": "3f0c2a9e-0000-4000-8000-000000000001",
            "client_id": SPA_CLIENT_ID,
            "username": "victor",
            "token_use": "access",
            "origin_jti": claims["origin_jti"],
            "iat": claims["iat"],
            "exp": claims["exp"],
        },
    }


def test_a_tenant_admin_may_not_use_another_tenants_path(jwks, signer):
    """`admin` administers its own tenant only (issue #13.1)."""
    token = signer.sign(access_token_claims(roles=(auth_contract.ADMIN,)))
    assert authorize(token, tenant="globex") == DENY
    assert authorize(token, tenant="acme")["isAuthorized"] is True


def operator_claims(**changes: Any) -> dict[str, Any]:
    claims = access_token_claims(tenant=None, roles=(auth_contract.PLATFORM_OPERATOR,))
    claims.update(changes)
    return claims


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_a_platform_operator_may_use_any_tenants_path(jwks, signer, tenant):
    response = authorize(signer.sign(operator_claims()), tenant=tenant)
    assert response["isAuthorized"] is True
    assert (response["context"]["tenant"], response["context"]["roles"]) == ("", auth_contract.PLATFORM_OPERATOR)


@pytest.mark.parametrize(
    "changes",
    [
        {"scope": "openid"},  # the role without its scope
        {"roles": [auth_contract.ADMIN], "scope": f"openid {qualified(auth_contract.PLATFORM_SCOPE)[0]}"},
        {"roles": "[platform_operator]", "scope": f"openid {auth_contract.PLATFORM_SCOPE}"},  # unqualified scope
    ],
    ids=["role-without-scope", "scope-without-role", "bare-scope-name"],
)
def test_the_operator_path_needs_both_the_role_and_the_qualified_scope(jwks, signer, changes):
    assert authorize(signer.sign(operator_claims(**changes)), tenant="globex") == DENY


def test_token_without_bearer_prefix_is_accepted(jwks, signer):
    assert authorize(signer.sign(access_token_claims()), bearer=False)["isAuthorized"] is True


def test_alb_client_is_allowed(jwks, signer):
    assert authorize(signer.sign(access_token_claims(client_id=ALB_CLIENT_ID)))["isAuthorized"] is True


# --------------------------------------------------------------------------- tenant-in-path rule


@pytest.mark.parametrize("role", [auth_contract.VIEWER, auth_contract.EDITOR])
def test_non_admin_is_denied_another_tenants_path(jwks, signer, role):
    token = signer.sign(access_token_claims(roles=(role,)))
    assert authorize(token, tenant="globex") == DENY


def test_admin_role_claim_is_what_counts_not_the_admin_scope(jwks, signer):
    token = signer.sign(access_token_claims(roles=(auth_contract.EDITOR,), scopes=auth_contract.ROLE_SCOPES["admin"]))
    assert authorize(token, tenant="globex") == DENY


def test_token_without_tenant_is_denied(jwks, signer):
    assert authorize(signer.sign(access_token_claims(tenant=None))) == DENY


def test_malformed_path_tenant_is_denied(jwks, signer):
    token = signer.sign(access_token_claims(roles=(auth_contract.ADMIN,)))
    event = authorizer_request("/tenants/x/summary", "a b", f"Bearer {token}")
    assert handler.lambda_handler(event, LambdaContext()) == DENY
    del event["pathParameters"]
    assert handler.lambda_handler(event, LambdaContext()) == DENY


def test_token_without_items_read_is_denied(jwks, signer):
    assert authorize(signer.sign(access_token_claims(scopes=()))) == DENY


def test_bare_items_read_without_the_resource_server_is_denied(jwks, signer):
    claims = {**access_token_claims(scopes=()), "scope": f"openid {auth_contract.ITEMS_READ}"}
    assert authorize(signer.sign(claims)) == DENY


# --------------------------------------------------------------------------- token checks


def test_expired_token_is_denied(jwks, signer):
    token = signer.sign(access_token_claims(issued=int(time.time()) - 3600, lifetime=900))
    assert authorize(token) == DENY


def test_token_issued_in_the_future_is_denied(jwks, signer):
    assert authorize(signer.sign(access_token_claims(issued=int(time.time()) + 600))) == DENY


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "sub", "token_use", "client_id"])
def test_token_missing_a_required_claim_is_denied(jwks, signer, claim):
    claims = access_token_claims()
    del claims[claim]
    assert authorize(signer.sign(claims)) == DENY


def test_wrong_issuer_is_denied(jwks, signer):
    claims = {**access_token_claims(), "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OtherPool"}
    assert authorize(signer.sign(claims)) == DENY


def test_client_not_in_the_allowed_list_is_denied(jwks, signer):
    assert authorize(signer.sign(access_token_claims(client_id=MACHINE_CLIENT_ID))) == DENY


def test_id_token_instead_of_access_token_is_denied(jwks, signer):
    claims = access_token_claims()
    claims.update({"token_use": "id", "aud": SPA_CLIENT_ID})
    del claims["client_id"]
    assert authorize(signer.sign(claims)) == DENY
    # Even with a client_id claim added, an ID token is not an access token.
    claims["client_id"] = SPA_CLIENT_ID
    assert authorize(signer.sign(claims)) == DENY


def test_unknown_kid_is_denied(jwks, signer, other_signer):
    assert authorize(other_signer.sign(access_token_claims())) == DENY


def test_key_of_another_signer_under_a_known_kid_is_denied(jwks, signer, other_signer):
    assert authorize(other_signer.sign(access_token_claims(), kid=signer.kid)) == DENY


def test_tampered_payload_is_denied(jwks, signer):
    header, _, signature = signer.sign(access_token_claims()).split(".")
    forged = b64url(json.dumps(access_token_claims(roles=(auth_contract.ADMIN,))).encode())
    assert authorize(f"{header}.{forged}.{signature}", tenant="globex") == DENY


def test_tampered_signature_is_denied(jwks, signer):
    header, payload, signature = signer.sign(access_token_claims()).split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    assert authorize(f"{header}.{payload}.{flipped}") == DENY


def test_alg_none_is_denied(jwks, signer):
    header = b64url(json.dumps({"alg": "none", "kid": signer.kid}).encode())
    payload = b64url(json.dumps(access_token_claims()).encode())
    assert authorize(f"{header}.{payload}.") == DENY


def test_hs256_signed_with_the_public_key_is_denied(jwks, signer):
    header = b64url(json.dumps({"alg": "HS256", "kid": signer.kid, "typ": "JWT"}).encode())
    payload = b64url(json.dumps(access_token_claims()).encode())
    mac = hmac.new(signer.public_pem(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert authorize(f"{header}.{payload}.{b64url(mac)}") == DENY


def test_rs256_header_with_a_symmetric_looking_key_never_reaches_hmac(jwks, signer):
    """The verifier pins RS256 and takes keys only from the JWKS: the header cannot choose either."""
    header = b64url(json.dumps({"alg": "RS256", "kid": signer.kid, "jwk": {"kty": "oct", "k": "c2VjcmV0"}}).encode())
    payload = b64url(json.dumps(access_token_claims()).encode())
    assert authorize(f"{header}.{payload}.{b64url(b'x' * 256)}") == DENY


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer \u00e9.\u00e9.\u00e9",
    ],
)
def test_missing_or_malformed_authorization_is_denied(jwks, authorization):
    event = authorizer_request("/tenants/acme/summary", "acme", authorization)
    assert handler.lambda_handler(event, LambdaContext()) == DENY


def test_oversized_token_is_denied_without_fetching_keys(jwks, signer):
    claims = {**access_token_claims(), "padding": "x" * MAX_TOKEN_LENGTH}
    assert authorize(signer.sign(claims)) == DENY
    assert jwks.fetches == 0


@pytest.mark.parametrize("event", [None, "string", [], {"headers": "nope"}, {"headers": {"authorization": 42}}])
def test_malformed_events_are_denied_not_raised(jwks, event):
    assert handler.authorize(event) == DENY


def _valid_event(signer: Signer) -> dict[str, Any]:
    """A request the authorizer allows, for the malformations below to break one part of."""
    return authorizer_request("/tenants/acme/summary", "acme", f"Bearer {signer.sign(access_token_claims())}")


@pytest.mark.parametrize(
    "headers_of",
    [
        lambda token: None,
        lambda token: token,
        lambda token: 42,
        lambda token: [],
        # Pairs: Powertools' CaseInsensitiveDict would read them as headers; the event is refused first.
        lambda token: [["authorization", token]],
        lambda token: {"x-other": token},
        lambda token: {"authorization": None},
        lambda token: {"authorization": [token]},
    ],
)
def test_headers_that_are_not_an_object_with_a_string_authorization_are_a_denial(jwks, signer, headers_of):
    event = _valid_event(signer)
    event["headers"] = headers_of(event["headers"]["authorization"])
    assert handler.authorize(event) == DENY
    assert handler.lambda_handler(event, LambdaContext()) == DENY


def test_an_event_without_headers_is_a_denial(jwks, signer):
    event = _valid_event(signer)
    del event["headers"]
    assert handler.lambda_handler(event, LambdaContext()) == DENY


@pytest.mark.parametrize("parameters", [None, {}, [], "acme", ["acme"], {"tenantId": None}, {"tenantId": ["acme"]}])
def test_path_parameters_null_or_not_an_object_are_a_denial(jwks, signer, parameters):
    event = _valid_event(signer)
    event["pathParameters"] = parameters
    assert handler.lambda_handler(event, LambdaContext()) == DENY


@pytest.mark.parametrize("request_context", ["absent", None, "text", [], {}])
def test_a_missing_or_malformed_request_context_never_raises_and_changes_no_answer(jwks, signer, request_context):
    """The answer rests on the token and the path alone: without a usable requestContext (which
    the logger reads for its correlation id) a valid request is still allowed, another tenant's
    path still denied, and nothing raises."""
    allowed = _valid_event(signer)
    other_tenant = authorizer_request(
        "/tenants/globex/summary", "globex", f"Bearer {signer.sign(access_token_claims())}"
    )
    for event in (allowed, other_tenant):
        if request_context == "absent":
            del event["requestContext"]
        else:
            event["requestContext"] = request_context
    assert handler.lambda_handler(allowed, LambdaContext())["isAuthorized"] is True
    assert handler.lambda_handler(other_tenant, LambdaContext()) == DENY


def test_the_authorization_header_is_found_whatever_the_case_of_its_name(jwks, signer):
    """API Gateway sends payload 2.0 header names in lower case; the lookup does not rely on it."""
    event = _valid_event(signer)
    event["headers"]["AuThorization"] = event["headers"].pop("authorization")
    assert handler.lambda_handler(event, LambdaContext())["isAuthorized"] is True


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    headers=st.none() | st.text(max_size=10) | st.lists(st.text(max_size=5), max_size=3) | st.integers(),
    parameters=st.none() | st.text(max_size=10) | st.lists(st.text(max_size=5), max_size=3) | st.integers(),
    request_context=st.none() | st.text(max_size=10) | st.integers(),
)
def test_any_malformed_event_shape_is_a_denial_never_an_exception(jwks, headers, parameters, request_context):
    event = authorizer_request("/tenants/acme/summary", "acme", "Bearer x.y.z")
    event.update(headers=headers, pathParameters=parameters, requestContext=request_context)
    assert handler.lambda_handler(event, LambdaContext()) == DENY


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(authorization=st.text(max_size=300), tenant=st.text(max_size=70))
def test_arbitrary_input_is_always_a_denial_never_an_exception(jwks, authorization, tenant):
    event = authorizer_request("/tenants/t/summary", tenant, authorization)
    assert handler.authorize(event) == DENY


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    claims=st.dictionaries(
        st.sampled_from(["sub", "tenant_id", "roles", "scope", "username", "token_use", "client_id"]),
        st.none() | st.integers() | st.text(max_size=20) | st.lists(st.text(max_size=8), max_size=3),
    )
)
def test_validly_signed_tokens_with_arbitrary_claim_values_never_raise(jwks, signer, claims):
    token = signer.sign({**access_token_claims(), **claims})
    response = authorize(token)
    assert response == DENY or response["isAuthorized"] is True


def test_denial_logs_give_a_reason_but_never_the_token(jwks, signer, caplog):
    token = signer.sign(access_token_claims(tenant="globex"))
    with caplog.at_level("INFO"):
        assert authorize(token) == DENY
    (denial,) = [record for record in caplog.records if record.getMessage() == "denied"]
    assert denial.reason == "Refused: tenant in path is not the token's tenant"
    logged = " ".join(str(value) for record in caplog.records for value in vars(record).values())
    assert token.split(".")[1] not in logged and token.split(".")[2] not in logged


# --------------------------------------------------------------------------- revocation


def test_a_revoked_session_is_denied(jwks, signer):
    claims = access_token_claims()
    token = signer.sign(claims)
    assert authorize(token)["isAuthorized"] is True
    revocation.revocation_store().revoke_session(claims["origin_jti"], "logout")
    revocation.revocation_checker.cache_clear()  # a new instance; the cache's bound is tested apart
    assert authorize(token) == DENY


def test_a_token_issued_before_its_tenants_not_before_is_denied(jwks, signer):
    claims = access_token_claims(issued=int(time.time()) - 30)
    revocation.revocation_store().revoke_tenant("acme", "suspended")
    assert authorize(signer.sign(claims)) == DENY
    assert authorize(signer.sign(access_token_claims(tenant="globex")), tenant="globex")["isAuthorized"] is True


def test_an_unanswering_store_denies_and_says_so(jwks, signer, monkeypatch, caplog):
    monkeypatch.setenv(revocation.TABLE_ENV, "no-such-table")
    revocation.revocation_checker.cache_clear()
    with caplog.at_level("INFO"):
        assert authorize(signer.sign(access_token_claims())) == DENY
    (denial,) = [record for record in caplog.records if record.getMessage().startswith("denied")]
    assert denial.levelname == "ERROR"
    assert getattr(denial, revocation.UNAVAILABLE_LOG_FIELD) == revocation.UNAVAILABLE_LOG_VALUE


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("missing", ["ISSUER", "ALLOWED_CLIENT_IDS"])
def test_missing_configuration_denies_everything(jwks, signer, monkeypatch, missing):
    monkeypatch.delenv(missing)
    handler.verifier.cache_clear()
    assert authorize(signer.sign(access_token_claims())) == DENY


def test_jwks_url_defaults_to_the_issuers_well_known_url(monkeypatch):
    monkeypatch.setenv("ISSUER", ISSUER)
    monkeypatch.setenv("ALLOWED_CLIENT_IDS", SPA_CLIENT_ID)
    monkeypatch.delenv("JWKS_URL", raising=False)
    handler.verifier.cache_clear()
    try:
        assert handler.verifier().jwks.url == f"{ISSUER}/.well-known/jwks.json"
    finally:
        handler.verifier.cache_clear()


@pytest.mark.parametrize("url", ["http://example.com/jwks.json", "file:///etc/passwd", "ftp://127.0.0.1/x", "https://"])
def test_jwks_url_must_be_https_or_loopback(url):
    with pytest.raises(ValueError):
        check_url(url)


# --------------------------------------------------------------------------- JWKS cache
# (the cache itself: tests/test_jwtcheck.py)


def test_keys_are_cached_across_invocations(jwks, signer):
    for _ in range(5):
        assert authorize(signer.sign(access_token_claims()))["isAuthorized"] is True
    assert jwks.fetches == 1


def test_unknown_kids_refetch_at_most_once_per_window(jwks, signer, other_signer):
    assert authorize(signer.sign(access_token_claims()))["isAuthorized"] is True
    for index in range(5):
        assert authorize(other_signer.sign(access_token_claims(), kid=f"made-up-{index}")) == DENY
    # The first unknown kid refetches (a key just rotated in is found at its first use); the
    # other four fall inside that refetch's penalty window and cost nothing.
    assert jwks.fetches == 2


def test_unreachable_jwks_denies(jwks, signer, monkeypatch):
    monkeypatch.setenv("JWKS_URL", "http://127.0.0.1:9/.well-known/jwks.json")
    handler.verifier.cache_clear()
    assert authorize(signer.sign(access_token_claims())) == DENY
