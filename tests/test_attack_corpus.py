"""Every attack in tests/attacks.py against every enforcement point that takes that kind of input.

Bearer tokens go to the local gateway's JWT authorizer (as API Gateway: 401 {"message":"Unauthorized"}
for a bad token, 403 {"message":"Forbidden"} for missing scopes), the tenant-path Lambda authorizer
and the events route's machine-client Lambda authorizer (`{"isAuthorized": false}`, which API
Gateway turns into a 403) and the web app's machine-client paths (401, generic JSON); ALB user-claims tokens go to the web app (401, generic). Each case must
be refused, with a generic body, never a 500, and within a time bound (no hang on a key fetch).
Every point first accepts its own genuine token, so a refusal means the attack failed, not the set-up.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto import mock_aws
from tenant_authorizer import handler as tenant_authorizer
from tenant_authorizer import machine as machine_authorizer

import auth_contract
from local.events import GatewayRequest
from local.gateway import Gateway, http_apis_from_template
from local.intrinsics import Resolver
from local.jwt_authorizer import JwksCache as GatewayJwksCache
from local.lambdas import LambdaRuntime
from local.provision import add_python_functions, register_functions
from local.tokens import Clock
from service.app import create_app
from service.devtools import TEST_ALB_ARN
from service.settings import MachineSettings, Settings
from shared import machine_clients
from tests import attacks
from tests.api_events import (
    ALB_CLIENT_ID,
    MACHINE_CLIENT_ID,
    REGION,
    RESOURCE_SERVER,
    SPA_CLIENT_ID,
    TENANTS_TABLE_NAME,
    LambdaContext,
    authorizer_request,
    create_tenants_table,
    mocked_revocation_table,
    qualified,
)

# No refusal may wait longer than this: every key fetch is bounded by 1.5 s.
TIME_BOUND_SECONDS = 3.0
OTHER_ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/someone-else/fedcba9876543210"
FUNCTIONS_PACKAGE = "attack_corpus_functions"
UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}

BEARER_CASES = attacks.bearer_cases()
ALB_CASES = attacks.alb_cases()


@dataclass(frozen=True)
class Outcome:
    status: int  # what the caller gets over HTTP
    body: Any
    raw: str


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    keys: attacks.CountingServer  # the pool's discovery document and JWKS, and the ALB key endpoint
    attacker: attacks.CountingServer
    issuer: str
    pool_key: attacks.RsaKey
    other_pool_key: attacks.RsaKey
    attacker_rsa: attacks.RsaKey
    attacker_ec: ec.EllipticCurvePrivateKey
    alb: attacks.AlbRealm
    weak_key: attacks.RsaKey
    encryption_key: attacks.RsaKey

    def realm(self, client_id: str, scope: str, **extra: Any) -> attacks.Realm:
        return attacks.Realm(
            issuer=self.issuer,
            client_id=client_id,
            scope=scope,
            key=self.pool_key,
            other_pool_key=self.other_pool_key,
            attacker_rsa=self.attacker_rsa,
            attacker_ec=self.attacker_ec,
            attacker_url=self.attacker.base_url,
            extra_claims=extra,
            weak_key=self.weak_key,
            encryption_key=self.encryption_key,
        )


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    keys, attacker = attacks.CountingServer(), attacks.CountingServer()
    pool_key, other_pool_key, attacker_rsa = (attacks.RsaKey(kid) for kid in ("pool-key-1", "other-pool-1", "evil-1"))
    weak_key = attacks.weak_rsa_key("weak-1")
    encryption_key = attacks.RsaKey("enc-1")
    issuer = attacks.serve_issuer(keys, "eu-west-1_Pool", [pool_key])
    # The pool's JWKS also lists keys no verifier may use: a 1024-bit key, an encryption key.
    keys.serve_json(
        "/eu-west-1_Pool/.well-known/jwks.json",
        {"keys": [pool_key.jwk(), weak_key.jwk(), {**encryption_key.jwk(), "use": "enc"}]},
    )
    attacks.serve_issuer(attacker, "evil", [attacker_rsa])
    attacker.serve_json("/jwks.json", {"keys": [attacker_rsa.jwk()]})
    attacker.serve_pem("/cert.pem", attacks.public_pem(attacker_rsa.private_key))
    alb_key, other_alb_key, attacker_ec = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    alb = attacks.AlbRealm(
        alb_arn=TEST_ALB_ARN,
        issuer=issuer,
        client_id=ALB_CLIENT_ID,
        kid="7a1b2c3d-0000-4000-8000-00000000a1b0",
        key=alb_key,
        other_alb_arn=OTHER_ALB_ARN,
        other_alb_kid="7a1b2c3d-0000-4000-8000-00000000a1b1",
        other_alb_key=other_alb_key,
        attacker_ec=attacker_ec,
        attacker_rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        attacker_url=attacker.base_url,
    )
    # The regional endpoint publishes every ALB's keys, this one's and the other's alike.
    keys.serve_pem(f"/alb-keys/{alb.kid}", attacks.public_pem(alb_key))
    keys.serve_pem(f"/alb-keys/{alb.other_alb_kid}", attacks.public_pem(other_alb_key))
    yield World(
        keys, attacker, issuer, pool_key, other_pool_key, attacker_rsa, attacker_ec, alb, weak_key, encryption_key
    )
    assert attacker.requests == [], "an enforcement point fetched something from a URL a token named"
    keys.down()
    attacker.down()


# --------------------------------------------------------------------------- enforcement points


class LocalGatewayPoint:
    """The local gateway with one JWT-authorized route, as the Api stack declares them."""

    name = "local gateway JWT authorizer"

    def __init__(self, world: World, code_root: Path) -> None:
        self.realm = world.realm(SPA_CLIENT_ID, " ".join(["openid", *qualified(auth_contract.ITEMS_READ)]))
        template = {
            "Resources": {
                "Echo": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Handler": f"{FUNCTIONS_PACKAGE}.echo.handler", "Runtime": "python3.14"},
                },
                "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "Api", "ProtocolType": "HTTP"}},
                "Jwt": {
                    "Type": "AWS::ApiGatewayV2::Authorizer",
                    "Properties": {
                        "ApiId": {"Ref": "Api"},
                        "AuthorizerType": "JWT",
                        "IdentitySource": ["$request.header.Authorization"],
                        "JwtConfiguration": {"Issuer": world.issuer, "Audience": [SPA_CLIENT_ID, ALB_CLIENT_ID]},
                        "Name": "UserPool",
                    },
                },
                "EchoIntegration": {
                    "Type": "AWS::ApiGatewayV2::Integration",
                    "Properties": {
                        "ApiId": {"Ref": "Api"},
                        "IntegrationType": "AWS_PROXY",
                        "IntegrationUri": {"Fn::GetAtt": ["Echo", "Arn"]},
                        "PayloadFormatVersion": "2.0",
                    },
                },
                "Items": {
                    "Type": "AWS::ApiGatewayV2::Route",
                    "Properties": {
                        "ApiId": {"Ref": "Api"},
                        "RouteKey": "GET /items",
                        "AuthorizationType": "JWT",
                        "AuthorizerId": {"Ref": "Jwt"},
                        "AuthorizationScopes": qualified(auth_contract.ITEMS_READ),
                        "Target": {"Fn::Join": ["", ["integrations/", {"Ref": "EchoIntegration"}]]},
                    },
                },
                "Stage": {
                    "Type": "AWS::ApiGatewayV2::Stage",
                    "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "$default"},
                },
            }
        }
        clock = Clock()
        resolver = Resolver(region="eu-west-1", account="123456789012")
        runtime = LambdaRuntime(region="eu-west-1", code_root=code_root)
        values = resolver.add_stack("api", template)
        register_functions(resolver, values)
        add_python_functions(runtime, resolver, values)
        [api] = http_apis_from_template(values, resolver, runtime, GatewayJwksCache(clock))
        self.gateway = Gateway(api, runtime=runtime, clock=clock, region="eu-west-1", account="123456789012")

    def call(self, authorization: str | None) -> Outcome:
        headers = [] if authorization is None else [("Authorization", authorization)]
        response = self.gateway.handle(GatewayRequest(method="GET", raw_path="/items", headers=headers))
        raw = response.body.decode(errors="replace")
        return Outcome(response.status, _json(raw), raw)

    @staticmethod
    def refused(outcome: Outcome) -> bool:
        return (outcome.status, outcome.body) in ((401, UNAUTHORIZED), (403, FORBIDDEN))


class LambdaAuthorizerPoint:
    """The tenant-path Lambda authorizer, invoked the way API Gateway invokes it."""

    name = "tenant Lambda authorizer"

    def __init__(self, world: World) -> None:
        self.realm = world.realm(
            SPA_CLIENT_ID,
            " ".join(["openid", *qualified(auth_contract.ITEMS_READ)]),
            # Cognito user tokens carry their sign-in session, which the revocation check needs.
            origin_jti="7c1e5b2a-0000-4000-8000-000000000001",
            **{auth_contract.TENANT_CLAIM: "acme", auth_contract.ROLES_CLAIM: [auth_contract.VIEWER]},
        )
        self.environment = {
            "ISSUER": world.issuer,
            "JWKS_URL": f"{world.issuer}/.well-known/jwks.json",
            "ALLOWED_CLIENT_IDS": f"{SPA_CLIENT_ID},{ALB_CLIENT_ID}",
            "RESOURCE_SERVER_IDENTIFIER": RESOURCE_SERVER,
        }

    def call(self, authorization: str | None) -> Outcome:
        event = authorizer_request("/tenants/acme/summary", "acme", authorization)
        result = tenant_authorizer.lambda_handler(event, LambdaContext())
        # API Gateway answers a denial with 403 {"message":"Forbidden"}.
        status = 200 if result.get("isAuthorized") is True else 403
        return Outcome(status, result, json.dumps(result))

    @staticmethod
    def refused(outcome: Outcome) -> bool:
        return outcome.body == {"isAuthorized": False}


class MachineAuthorizerPoint:
    """The events route's machine-client Lambda authorizer, with the client registered for acme."""

    name = "machine Lambda authorizer"

    def __init__(self, world: World) -> None:
        self.realm = world.realm(
            MACHINE_CLIENT_ID,
            qualified(auth_contract.EVENTS_WRITE)[0],
            sub=MACHINE_CLIENT_ID,
            username=None,  # a client-credentials token has none (None drops the claim)
            **{auth_contract.TENANT_CLAIM: "acme"},
        )
        self.environment = {
            "ISSUER": world.issuer,
            "JWKS_URL": f"{world.issuer}/.well-known/jwks.json",
            "RESOURCE_SERVER_IDENTIFIER": RESOURCE_SERVER,
            machine_clients.TABLE_ENV: TENANTS_TABLE_NAME,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def register(self) -> None:
        machine_clients.MachineClientRecords(create_tenants_table()).add(
            "acme", MACHINE_CLIENT_ID, name="corpus", created_by="test", created_at="2026-12-03T00:00:00+00:00"
        )

    def call(self, authorization: str | None) -> Outcome:
        event = authorizer_request("/tenants/acme/events", "acme", authorization)
        event["routeKey"] = "POST /tenants/{tenantId}/events"
        result = machine_authorizer.lambda_handler(event, LambdaContext())
        status = 200 if result.get("isAuthorized") is True else 403
        return Outcome(status, result, json.dumps(result))

    @staticmethod
    def refused(outcome: Outcome) -> bool:
        return outcome.body == {"isAuthorized": False}


class MachinePathPoint:
    """The web app's `/m2m/` paths: a machine client's bearer token, checked again behind the ALB."""

    name = "web app machine paths"

    def __init__(self, world: World, client: Any) -> None:
        self.realm = world.realm(MACHINE_CLIENT_ID, qualified(auth_contract.EVENTS_WRITE)[0], sub=MACHINE_CLIENT_ID)
        self.realm.extra_claims.pop("username", None)
        self.client = client

    def call(self, authorization: str | None) -> Outcome:
        return _flask_call(
            self.client, "/m2m/whoami", {} if authorization is None else {"Authorization": authorization}
        )

    @staticmethod
    def refused(outcome: Outcome) -> bool:
        return (outcome.status, outcome.body) == (401, UNAUTHORIZED)


class AlbDataPoint:
    """The web app's pages behind the ALB: `x-amzn-oidc-data` must be this ALB's, for this client."""

    name = "web app ALB-header verifier"

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(self, value: str | None, path: str = "/app-api/me") -> Outcome:
        return _flask_call(self.client, path, {} if value is None else {"x-amzn-oidc-data": value})

    @staticmethod
    def refused(outcome: Outcome) -> bool:
        return (outcome.status, outcome.body) == (401, UNAUTHORIZED)


def _json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _flask_call(client: Any, path: str, headers: dict[str, str]) -> Outcome:
    # A header value a client cannot put on the wire (CR, LF, NUL) goes in raw, as a broken proxy might.
    environ = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    response = client.get(path, environ_overrides=environ)
    raw = response.get_data(as_text=True)
    return Outcome(response.status_code, _json(raw), raw)


@pytest.fixture(scope="module")
def code_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus-functions")
    package = root / FUNCTIONS_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "echo.py").write_text(
        textwrap.dedent(
            """
            import json
            def handler(event, context):
                return {"statusCode": 200, "body": json.dumps({"reached": True})}
            """
        )
    )
    return root


@pytest.fixture(scope="module")
def web_client(world: World) -> Any:
    settings = Settings(
        alb_arn=TEST_ALB_ARN,
        expected_issuer=world.issuer,
        expected_client_id=ALB_CLIENT_ID,
        region="eu-west-1",
        api_url=None,
        logout_url=None,
        session_cookie_name="jwt-auth-session",
        key_url_base=f"{world.keys.base_url}/alb-keys",
        machine=MachineSettings(
            issuer=world.issuer,
            jwks_url=f"{world.issuer}/.well-known/jwks.json",
            client_ids=(MACHINE_CLIENT_ID,),
            scope=qualified(auth_contract.EVENTS_WRITE)[0],
        ),
    )
    return create_app(settings).test_client()


@pytest.fixture(scope="module")
def bearer_points(world: World, code_root: Path, web_client: Any) -> Iterator[dict[str, Any]]:
    lambda_point, machine_point = LambdaAuthorizerPoint(world), MachineAuthorizerPoint(world)
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        # Both authorizers read ISSUER, JWKS_URL and RESOURCE_SERVER_IDENTIFIER: the same values.
        for name, value in {**lambda_point.environment, **machine_point.environment}.items():
            patch.setenv(name, value)
        tenant_authorizer.verifier.cache_clear()
        machine_authorizer.verifier.cache_clear()
        machine_clients.machine_client_records.cache_clear()
        machine_point.register()
        # The authorizers check every token they would allow against the revocation store: an empty one.
        for _ in mocked_revocation_table(patch):
            yield {
                point.name: point
                for point in (
                    LocalGatewayPoint(world, code_root),
                    lambda_point,
                    machine_point,
                    MachinePathPoint(world, web_client),
                )
            }
        tenant_authorizer.verifier.cache_clear()
        machine_authorizer.verifier.cache_clear()
        machine_clients.machine_client_records.cache_clear()
    sys.modules.pop(f"{FUNCTIONS_PACKAGE}.echo", None)


@pytest.fixture(scope="module")
def alb_point(web_client: Any) -> AlbDataPoint:
    return AlbDataPoint(web_client)


@pytest.fixture(scope="module", autouse=True)
def corpus_count() -> Iterator[None]:
    yield
    bearer_points = len([LocalGatewayPoint, LambdaAuthorizerPoint, MachineAuthorizerPoint, MachinePathPoint])
    attacks.REPORT.append(
        f"attack corpus: {len(BEARER_CASES)} bearer-token cases x {bearer_points} enforcement points"
        f" + {len(ALB_CASES)} ALB-header cases x 1 enforcement point"
        f" = {len(BEARER_CASES) * bearer_points + len(ALB_CASES)} refusals checked"
    )


# --------------------------------------------------------------------------- the genuine article first


@pytest.mark.parametrize(
    "point",
    ["local gateway JWT authorizer", "tenant Lambda authorizer", "machine Lambda authorizer", "web app machine paths"],
)
def test_each_bearer_point_accepts_its_own_genuine_token(bearer_points, point):
    enforcement = bearer_points[point]
    outcome = enforcement.call(f"Bearer {enforcement.realm.good()}")
    assert outcome.status == 200, outcome.raw


def test_the_web_app_accepts_its_own_albs_genuine_token(world, alb_point):
    outcome = alb_point.call(world.alb.good())
    assert outcome.status == 200, outcome.raw
    assert outcome.body["claims"]["sub"] == world.alb.claims()["sub"]


# --------------------------------------------------------------------------- the corpus


def _assert_refused(point: Any, outcome: Outcome, seconds: float, secrets: list[str]) -> None:
    assert outcome.status != 500, outcome.raw
    assert point.refused(outcome), f"{point.name} did not refuse: {outcome.status} {outcome.raw[:300]}"
    assert seconds < TIME_BOUND_SECONDS, f"{point.name} took {seconds:.2f} s to refuse"
    for secret in secrets:
        assert secret not in outcome.raw, "the response echoes part of the token"


@pytest.mark.parametrize("case", BEARER_CASES, ids=[case.name for case in BEARER_CASES])
def test_bearer_attack_is_refused_by_every_bearer_point(bearer_points, case):
    for point in bearer_points.values():
        authorization = case.build(point.realm)
        started = time.monotonic()
        outcome = point.call(authorization)
        seconds = time.monotonic() - started
        segments = [part for part in (authorization or "").split(".") if len(part) > 16]
        _assert_refused(point, outcome, seconds, segments)


@pytest.mark.parametrize("case", ALB_CASES, ids=[case.name for case in ALB_CASES])
def test_alb_header_attack_is_refused_by_the_web_app(world, alb_point, case):
    value = case.build(world.alb)
    for path in ("/app-api/me", "/"):
        started = time.monotonic()
        outcome = alb_point.call(value, path)
        seconds = time.monotonic() - started
        if path == "/":
            # Pages answer with an HTML 401 that says only that you are not signed in.
            assert outcome.status == 401, outcome.raw[:300]
            assert "not signed in" in outcome.raw and "Traceback" not in outcome.raw
            assert seconds < TIME_BOUND_SECONDS
        else:
            _assert_refused(alb_point, outcome, seconds, [p for p in (value or "").split(".") if len(p) > 16])


def test_the_corpus_covers_every_attack_class_the_issue_names():
    names = " | ".join(case.name for case in [*BEARER_CASES, *ALB_CASES]).lower()
    for needle in (
        "alg none", "alg none", "hs256 keyed", "rs->es", "unknown kid", "kid '../", "kid 'https:", "\\x00",
        "jku", "x5u", "embedded jwk", "x5c", "crit", "expired", "nbf", "iat in the future", "iss: suffix",
        "iss: prefix", "client_id of another", "id token", "no scope", "smuggled", "another pool",
        "two segments", "extra segment", "non-base64", "non-json", "json array", "duplicate", "huge token",
        "huge sub", "basic scheme", "two tokens", "lower-case scheme", "space inside", "another alb",
        "signer missing", "padding stripped", "padding added",
        "exp as a string", "not a finite date: 1e999", "not a finite date: nan", "aud of another client beside",
        "scope separated by a tab", "1024-bit key", "encryption key", "rs512 under the pool's rs256 key",
        "header exp as a string", "header exp not a finite date: infinity", "payload exp not a numeric date",
    ):  # fmt: skip
        assert needle in names, needle
