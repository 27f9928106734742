"""The command-line client's parts that need no stack: endpoints, the token cache, Cognito challenges."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from botocore import UNSIGNED
from botocore.stub import ANY, Stubber

from client.auth import AuthError, CognitoAuth
from client.cache import TokenCache
from client.endpoints import Endpoints, EndpointsError, load_endpoints, outputs_path

DEPLOYED = {
    "jwt-auth-prod-identity": {
        "UserPoolId": "eu-west-1_AbCdEfGhI",
        "IssuerUrl": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
        "SpaClientId": "spa123",
        "MachineClientId": "m2m456",
        "ManagedLoginUrl": "https://jwt-auth-prod-111111111111.auth.eu-west-1.amazoncognito.com",
        "ResourceServerIdentifier": "https://api.jwt-auth.example.com",
    },
    "jwt-auth-prod-api": {"ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/"},
}


def test_a_deployed_stacks_outputs_give_cognitos_real_endpoints() -> None:
    endpoints = Endpoints.from_outputs(DEPLOYED)
    assert endpoints.region == "eu-west-1"
    assert endpoints.cognito_endpoint == "https://cognito-idp.eu-west-1.amazonaws.com"
    assert (
        endpoints.token_endpoint == "https://jwt-auth-prod-111111111111.auth.eu-west-1.amazoncognito.com/oauth2/token"
    )
    assert endpoints.api_url == "https://abc123.execute-api.eu-west-1.amazonaws.com"
    assert endpoints.machine_client_id == "m2m456"


def test_missing_outputs_are_named() -> None:
    with pytest.raises(EndpointsError, match="ApiUrl"):
        Endpoints.from_outputs({"jwt-auth-prod-identity": DEPLOYED["jwt-auth-prod-identity"]})


def test_the_outputs_file_is_the_given_one_then_the_environment_then_the_local_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JWT_AUTH_OUTPUTS", raising=False)
    with pytest.raises(EndpointsError, match="make local"):
        outputs_path(None)
    (tmp_path / "outputs-local.json").write_text(json.dumps(DEPLOYED))
    assert outputs_path(None) == Path("outputs-local.json")
    monkeypatch.setenv("JWT_AUTH_OUTPUTS", "outputs-dev.json")
    assert outputs_path(None) == Path("outputs-dev.json")
    assert outputs_path("given.json") == Path("given.json")
    assert load_endpoints("outputs-local.json").spa_client_id == "spa123"


def test_an_outputs_file_that_is_not_json_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(EndpointsError, match="not JSON"):
        load_endpoints(bad)


def test_the_cache_file_is_private_and_widened_permissions_are_tightened(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "jwt-auth" / "tokens.json")
    cache.put("profile", {"access_token": "a"})
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
    os.chmod(cache.path, 0o644)
    assert cache.get("profile") == {"access_token": "a"}
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600


def test_the_cache_keeps_profiles_apart_and_forgets_one(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "tokens.json")
    cache.put("a", {"access_token": "1"})
    cache.update("b", access_token="2")
    cache.delete("a")
    assert (cache.get("a"), cache.get("b")) == (None, {"access_token": "2"})


def test_a_corrupt_cache_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("not json")
    assert TokenCache(path).get("anything") is None


SESSION = "session-" + "x" * 40
RESULT = {"AccessToken": "a.b.c", "IdToken": "i.d.t", "RefreshToken": "r", "ExpiresIn": 3600, "TokenType": "Bearer"}


def stubbed(auth: CognitoAuth) -> Stubber:
    return Stubber(auth.idp)


def test_a_one_time_code_is_asked_for_when_the_pool_wants_one() -> None:
    codes = iter(["123456"])
    auth = CognitoAuth(Endpoints.from_outputs(DEPLOYED), mfa_code=lambda: next(codes))
    with stubbed(auth) as stub:
        stub.add_response(
            "initiate_auth",
            {
                "ChallengeName": "SOFTWARE_TOKEN_MFA",
                "Session": SESSION,
                "ChallengeParameters": {"USER_ID_FOR_SRP": "u-1"},
            },
            {"ClientId": "spa123", "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": ANY},
        )
        stub.add_response(
            "respond_to_auth_challenge",
            {"AuthenticationResult": RESULT},
            {
                "ClientId": "spa123",
                "ChallengeName": "SOFTWARE_TOKEN_MFA",
                "Session": SESSION,
                "ChallengeResponses": {"USERNAME": "u-1", "SOFTWARE_TOKEN_MFA_CODE": "123456"},
            },
        )
        tokens = auth.login_password("someone@example.com", "pw")
    assert (tokens.access_token, tokens.refresh_token) == ("a.b.c", "r")


@pytest.mark.parametrize(
    ("challenge", "advice"), [("MFA_SETUP", "authenticator"), ("NEW_PASSWORD_REQUIRED", "new password")]
)
def test_challenges_the_client_cannot_finish_say_what_to_do(challenge: str, advice: str) -> None:
    auth = CognitoAuth(Endpoints.from_outputs(DEPLOYED))
    with stubbed(auth) as stub:
        stub.add_response("initiate_auth", {"ChallengeName": challenge, "Session": SESSION, "ChallengeParameters": {}})
        with pytest.raises(AuthError, match=advice):
            auth.login_password("someone@example.com", "pw")


def test_cognito_errors_become_messages_not_tracebacks() -> None:
    auth = CognitoAuth(Endpoints.from_outputs(DEPLOYED))
    with stubbed(auth) as stub:
        stub.add_client_error("initiate_auth", "NotAuthorizedException", "Incorrect username or password.")
        with pytest.raises(AuthError, match=r"NotAuthorizedException: Incorrect username or password\."):
            auth.login_password("someone@example.com", "pw")


def test_sign_in_calls_are_unsigned_so_no_aws_credentials_are_read() -> None:
    auth = CognitoAuth(Endpoints.from_outputs(DEPLOYED))
    assert auth.idp.meta.config.signature_version is UNSIGNED
