"""The web app (service/app.py) as the ALB's target: it answers only requests whose
`x-amzn-oidc-data` this ALB signed, relays the forwarded access token to the API, signs users out
for real, and answers machine clients only with a valid client-credentials token. Failures are a
401 with a generic body, never a 500 or a stack trace.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from service.app import SESSION_COOKIE_SHARDS, create_app
from service.devserver import FakeAlb, build
from service.devtools import TEST_ALB_ARN, AlbTokenSigner, KeyServer
from service.settings import MachineSettings, Settings, SettingsError

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1"
CLIENT_ID = "alb-client-id-1234567890"
OTHER_ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/someone-else/fedcba9876543210"
COOKIE = "jwt-auth-session"
LOGOUT_URL = (
    "https://jwt-auth-test.auth.eu-west-1.amazoncognito.com/logout?client_id=alb-client-id-1234567890"
    "&logout_uri=https%3A%2F%2Fapp.jwt-auth.test%2F"
)
CLAIMS = {"sub": "5f1c0f3e-0000-4000-8000-000000000001", "email": "ada@example.com", "email_verified": "true"}
ACCESS_TOKEN = "eyJraWQiOiJhY2Nlc3MifQ.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"
MACHINE_CLIENT = "machine-client-id"
MACHINE_SCOPE = "https://api.jwt-auth.test/platform.machine"
MACHINE_KID = "machine-key-1"


class FakeApi:
    """The HTTP API on loopback: records what it was sent, answers what the test says."""

    def __init__(self) -> None:
        self.status = 200
        self.body: object = {"items": [{"id": "1", "name": "first"}, {"id": "2", "name": "<script>x</script>"}]}
        self.seen: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                api.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
                raw = json.dumps(api.body).encode()
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def signer() -> AlbTokenSigner:
    return AlbTokenSigner(alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID)


@pytest.fixture(scope="module")
def machine_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_server(signer, machine_key):
    server = KeyServer()
    server.add(signer)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(machine_key.public_key()))
    server.keys[".well-known/jwks.json"] = json.dumps(
        {"keys": [{**jwk, "kid": MACHINE_KID, "alg": "RS256", "use": "sig"}]}
    ).encode()
    yield server
    server.stop()


@pytest.fixture
def api():
    server = FakeApi()
    yield server
    server.stop()


def make_settings(key_server: KeyServer, api_url: str | None, **changes) -> Settings:
    values = {
        "alb_arn": TEST_ALB_ARN,
        "expected_issuer": ISSUER,
        "expected_client_id": CLIENT_ID,
        "region": "eu-west-1",
        "api_url": api_url,
        "logout_url": LOGOUT_URL,
        "session_cookie_name": COOKIE,
        "key_url_base": key_server.base_url,
        "machine": MachineSettings(
            issuer=ISSUER,
            jwks_url=f"{key_server.base_url}/.well-known/jwks.json",
            client_ids=(MACHINE_CLIENT,),
            scope=MACHINE_SCOPE,
        ),
    }
    return Settings(**{**values, **changes})


@pytest.fixture
def client(key_server, api):
    return create_app(make_settings(key_server, api.url)).test_client()


def signed_in(signer: AlbTokenSigner, **claims) -> dict[str, str]:
    return {
        "x-amzn-oidc-data": signer.sign({**CLAIMS, **claims}),
        "x-amzn-oidc-identity": CLAIMS["sub"],
        "x-amzn-oidc-accesstoken": ACCESS_TOKEN,
    }


def machine_token(key, **changes) -> str:
    now = int(time.time())
    claims = {
        "sub": MACHINE_CLIENT,
        "client_id": MACHINE_CLIENT,
        "token_use": "access",
        "scope": MACHINE_SCOPE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + 300,
        **changes,
    }
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256", headers={"kid": MACHINE_KID}
    )


def assert_generic_401(response) -> None:
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "Error" not in text
    for detail in ("signer", "kid", "expired", "issuer", "client", "load balancer"):
        assert detail not in text.lower()


# --------------------------------------------------------------------------- health


def test_health_check_needs_no_authentication(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


# --------------------------------------------------------------------------- who am I


def test_home_page_shows_the_verified_claims(client, signer):
    response = client.get("/", headers=signed_in(signer))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Signed in as ada@example.com" in page
    assert CLAIMS["sub"] in page


def test_claims_are_html_escaped(client, signer):
    response = client.get("/", headers=signed_in(signer, name="<img src=x onerror=alert(1)>"))
    page = response.get_data(as_text=True)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_xhr_endpoint_returns_the_verified_claims_as_json(client, signer):
    response = client.get("/app-api/me", headers=signed_in(signer))
    assert response.status_code == 200
    assert response.get_json()["claims"]["email"] == "ada@example.com"


@pytest.mark.parametrize("path", ["/", "/items", "/app-api/me", "/app-api/items", "/no-such-page"])
def test_request_without_the_alb_header_is_401(client, path):
    response = client.get(path)
    assert_generic_401(response)


def test_xhr_401_is_json(client):
    response = client.get("/app-api/me")
    assert response.status_code == 401
    assert response.get_json() == {"message": "Unauthorized"}


def test_identity_and_access_token_headers_alone_are_not_trusted(client, signer):
    headers = signed_in(signer)
    del headers["x-amzn-oidc-data"]
    assert_generic_401(client.get("/", headers=headers))


def test_token_from_another_alb_is_401_with_the_same_generic_body(client, key_server):
    other = AlbTokenSigner(alb_arn=OTHER_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID)
    key_server.add(other)
    missing = client.get("/")
    foreign = client.get("/", headers={"x-amzn-oidc-data": other.sign(CLAIMS)})
    assert_generic_401(foreign)
    assert foreign.get_data() == missing.get_data()


@pytest.mark.parametrize(
    "header",
    [
        {"client": "another-client"},
        {"iss": "https://evil.example.com"},
        {"alg": "HS256"},
        {"kid": "../../etc/passwd"},
    ],
)
def test_token_failing_any_check_is_401(client, signer, header):
    assert_generic_401(client.get("/", headers={"x-amzn-oidc-data": signer.sign(CLAIMS, header=header)}))


def test_expired_token_is_401(client, signer):
    assert_generic_401(client.get("/", headers={"x-amzn-oidc-data": signer.sign(CLAIMS, lifetime=-1)}))


def test_key_endpoint_down_with_nothing_cached_is_401_not_500(signer, key_server, api):
    client = create_app(make_settings(key_server, api.url)).test_client()
    key_server.stop()
    assert_generic_401(client.get("/", headers=signed_in(signer)))


def test_key_endpoint_down_after_the_key_was_cached_still_serves(signer, key_server, api):
    client = create_app(make_settings(key_server, api.url)).test_client()
    assert client.get("/", headers=signed_in(signer)).status_code == 200
    key_server.stop()
    assert client.get("/", headers=signed_in(signer)).status_code == 200


def test_unknown_path_for_a_signed_in_user_is_a_plain_404(client, signer):
    response = client.get("/no-such-page", headers=signed_in(signer))
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_responses_carry_security_headers(client, signer):
    response = client.get("/", headers=signed_in(signer))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


# --------------------------------------------------------------------------- token relay


def test_items_page_relays_the_forwarded_access_token_to_the_api(client, signer, api):
    response = client.get("/items", headers=signed_in(signer))
    assert response.status_code == 200
    assert api.seen == [{"path": "/items", "authorization": f"Bearer {ACCESS_TOKEN}"}]
    page = response.get_data(as_text=True)
    assert "first" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page


def test_xhr_items_returns_the_apis_json(client, signer, api):
    response = client.get("/app-api/items", headers=signed_in(signer))
    assert response.status_code == 200
    assert response.get_json() == api.body


@pytest.mark.parametrize(("api_status", "status"), [(401, 401), (403, 403), (500, 502), (404, 502)])
def test_api_refusals_and_errors_are_passed_on_without_details(client, signer, api, api_status, status):
    api.status, api.body = api_status, {"message": "internal detail"}
    response = client.get("/app-api/items", headers=signed_in(signer))
    assert response.status_code == status
    assert "internal detail" not in response.get_data(as_text=True)


def test_a_user_the_api_refuses_is_told_their_account_waits_for_an_invitation(client, signer, api):
    """Every tenant role may read items through this app: a 403 means no tenant yet (issue #13.5)."""
    api.status, api.body = 403, {"message": "Forbidden"}
    page = client.get("/items", headers=signed_in(signer))
    assert page.status_code == 403
    assert "waiting for an invitation" in page.get_data(as_text=True)
    assert "waiting for an invitation" in client.get("/app-api/items", headers=signed_in(signer)).get_json()["message"]


def test_api_that_does_not_answer_is_a_502(signer, key_server, api):
    api.stop()
    client = create_app(make_settings(key_server, api.url)).test_client()
    response = client.get("/items", headers=signed_in(signer))
    assert response.status_code == 502


def test_items_without_a_forwarded_access_token_is_401_and_calls_nothing(client, signer, api):
    headers = signed_in(signer)
    del headers["x-amzn-oidc-accesstoken"]
    assert client.get("/app-api/items", headers=headers).status_code == 401
    assert api.seen == []


def test_items_without_a_configured_api_says_so(signer, key_server):
    client = create_app(make_settings(key_server, None)).test_client()
    response = client.get("/items", headers=signed_in(signer))
    assert response.status_code == 503
    assert "not configured" in response.get_data(as_text=True)


# --------------------------------------------------------------------------- sign-out


def test_logout_expires_every_session_cookie_shard_and_redirects_to_the_idp_logout(client):
    response = client.get("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == LOGOUT_URL
    cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
    assert set(cookies) == {COOKIE} | {f"{COOKIE}-{shard}" for shard in range(SESSION_COOKIE_SHARDS)}
    assert SESSION_COOKIE_SHARDS == 4
    for header in cookies.values():
        assert "Max-Age=0" in header
        assert "Path=/" in header
        assert "Secure" in header
        assert "1970" in header


def test_logout_works_even_when_the_alb_token_is_missing_or_stale(client, signer):
    assert client.get("/logout", headers={"x-amzn-oidc-data": signer.sign(CLAIMS, lifetime=-1)}).status_code == 302


def test_logout_without_an_idp_logout_endpoint_shows_a_signed_out_page(signer, key_server, api):
    client = create_app(make_settings(key_server, api.url, logout_url=None)).test_client()
    response = client.get("/logout")
    assert response.status_code == 200
    assert "Signed out" in response.get_data(as_text=True)
    assert len(response.headers.getlist("Set-Cookie")) == 1 + SESSION_COOKIE_SHARDS


# --------------------------------------------------------------------------- machine clients


def test_machine_client_with_a_valid_token_is_served(client, machine_key):
    response = client.get("/m2m/whoami", headers={"Authorization": f"Bearer {machine_token(machine_key)}"})
    assert response.status_code == 200
    assert response.get_json() == {"client_id": MACHINE_CLIENT, "scopes": [MACHINE_SCOPE]}


@pytest.mark.parametrize(
    "changes",
    [
        {"client_id": "some-other-client"},
        {"scope": "https://api.jwt-auth.test/items.read"},
        {"scope": None},
        {"token_use": "id"},
        {"iss": "https://evil.example.com"},
        {"exp": int(time.time()) - 10},
    ],
    ids=["other-client", "other-scope", "no-scope", "id-token", "other-issuer", "expired"],
)
def test_machine_token_failing_a_check_is_401(client, machine_key, changes):
    response = client.get("/m2m/whoami", headers={"Authorization": f"Bearer {machine_token(machine_key, **changes)}"})
    assert response.status_code == 401
    assert response.get_json() == {"message": "Unauthorized"}


def test_machine_token_signed_by_another_key_is_401(client):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = client.get("/m2m/whoami", headers={"Authorization": f"Bearer {machine_token(stranger)}"})
    assert response.status_code == 401


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic abc", "Bearer not-a-jwt", "Bearer a.b.c"])
def test_machine_path_without_a_usable_bearer_token_is_401(client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/m2m/whoami", headers=headers)
    assert response.status_code == 401


def test_machine_path_does_not_accept_the_alb_user_header(client, signer):
    assert client.get("/m2m/whoami", headers=signed_in(signer)).status_code == 401


def test_machine_path_is_closed_when_no_machine_clients_are_configured(signer, key_server, api, machine_key):
    client = create_app(make_settings(key_server, api.url, machine=None)).test_client()
    response = client.get("/m2m/whoami", headers={"Authorization": f"Bearer {machine_token(machine_key)}"})
    assert response.status_code == 401


# --------------------------------------------------------------------------- settings


FULL_ENV = {
    "ALB_ARN": TEST_ALB_ARN,
    "EXPECTED_ISSUER": ISSUER,
    "EXPECTED_CLIENT_ID": CLIENT_ID,
    "AWS_REGION": "eu-west-1",
    "API_URL": "https://abc123.execute-api.eu-west-1.amazonaws.com/",
    "LOGOUT_URL": LOGOUT_URL,
    "SESSION_COOKIE_NAME": COOKIE,
    "M2M_ISSUER": ISSUER,
    "M2M_JWKS_URL": f"{ISSUER}/.well-known/jwks.json",
    "M2M_CLIENT_IDS": MACHINE_CLIENT,
    "M2M_SCOPE": MACHINE_SCOPE,
}


def test_settings_are_read_from_the_environment_the_stack_sets():
    settings = Settings.from_environ(FULL_ENV)
    assert settings.alb_arn == TEST_ALB_ARN
    assert settings.api_url == "https://abc123.execute-api.eu-west-1.amazonaws.com"
    assert settings.session_cookie_name == COOKIE
    assert settings.key_url_base is None
    assert settings.machine == MachineSettings(
        ISSUER, f"{ISSUER}/.well-known/jwks.json", (MACHINE_CLIENT,), MACHINE_SCOPE
    )


@pytest.mark.parametrize("name", ["ALB_ARN", "EXPECTED_ISSUER", "EXPECTED_CLIENT_ID", "AWS_REGION"])
def test_missing_required_setting_stops_the_app_naming_the_variable(name):
    with pytest.raises(SettingsError, match=name):
        create_app(Settings.from_environ({**FULL_ENV, name: ""}))


def test_region_that_is_not_the_albs_stops_the_app():
    with pytest.raises(ValueError, match="region"):
        create_app(Settings.from_environ({**FULL_ENV, "AWS_REGION": "us-east-1"}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_URL", "http://api.example.com"),
        ("LOGOUT_URL", "javascript:alert(1)"),
        ("ALB_KEY_URL_BASE", "http://169.254.169.254"),
        ("SESSION_COOKIE_NAME", "bad;cookie"),
    ],
)
def test_unsafe_setting_values_are_refused(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ({**FULL_ENV, name: value})


def test_machine_settings_are_all_or_nothing():
    with pytest.raises(SettingsError, match="M2M_SCOPE"):
        Settings.from_environ({**FULL_ENV, "M2M_SCOPE": ""})
    without = {k: v for k, v in FULL_ENV.items() if not k.startswith("M2M_")}
    assert Settings.from_environ(without).machine is None


# --------------------------------------------------------------------------- make web-local


def test_local_run_signs_requests_like_the_alb_and_the_app_verifies_them():
    wrapped, keys = build(8000, "viewer@example.com", "tenant-a")
    try:
        assert isinstance(wrapped, FakeAlb)
        client = wrapped.app.test_client()
        # Through the stand-in: signed in.
        from werkzeug.test import Client

        local = Client(wrapped)
        page = local.get("/")
        assert page.status_code == 200
        assert "viewer@example.com" in page.get_data(as_text=True)
        # A header forged by the browser is replaced, just as the ALB does.
        forged = local.get("/", headers={"x-amzn-oidc-data": "forged"})
        assert forged.status_code == 200
        # Straight to the app (no stand-in): refused.
        assert client.get("/").status_code == 401
        assert keys.requests, "the app fetched the local key like it fetches the ALB's"
    finally:
        keys.stop()
