"""The local issuer behaves like Cognito where moto does not: claim sets, keys, flows, OAuth, revocation.

The identity stack is the synthesized dev template, provisioned into moto in this process, with the
project's own pre-token-generation trigger. Calls go over HTTP through boto3 and urllib, as a client's
would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError
from jwt.algorithms import RSAAlgorithm

import auth_contract
from client.auth import secret_hash
from client.srp import ClientSession
from local.seed import create_user, demo_password, tenant_machine_clients
from local.stack import LocalStack
from tests.synth import Synthesized

SDK_SCOPE = "aws.cognito.signin.user.admin"


class Local:
    """The started stack and what the tests need from it."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        outputs = {k: v for values in stack.outputs().values() for k, v in values.items()}
        self.outputs = outputs
        self.pool_id = outputs["UserPoolId"]
        self.spa = outputs["SpaClientId"]
        self.issuer = outputs["IssuerUrl"]
        self.resource_server = outputs["ResourceServerIdentifier"]
        self.platform = stack.machine_clients[0]  # the template's MachineClient: the platform's, no tenant
        trigger = next(fn for fn in stack.runtime.functions if fn.handler.startswith("pre_token_generation."))
        self.tenants = stack.dynamodb_resource.Table(trigger.environment["TENANTS_TABLE"])
        # A tenant's client, made at run time (CreateUserPoolClient in moto + its CLIENT# items).
        (self.machine,) = tenant_machine_clients(
            stack.cognito,
            self.tenants,
            pool_id=self.pool_id,
            resource_server=self.resource_server,
            access_token_minutes=60,
            tenants=("acme",),
        )
        self.idp = boto3.client(
            "cognito-idp",
            endpoint_url=stack.issuer_base_url,
            region_name="eu-west-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def user(self, tenant: str, role: str) -> Any:
        return next(u for u in self.stack.users if u.tenant == tenant and u.role == role)

    def password_login(self, user: Any, client_id: str | None = None, **extra: str) -> dict[str, Any]:
        answer = self.idp.initiate_auth(
            ClientId=client_id or self.spa,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.email, "PASSWORD": user.password, **extra},
        )
        return answer["AuthenticationResult"]

    def scope(self, name: str) -> str:
        return auth_contract.qualified_scope(self.resource_server, name)

    def post_form(self, path: str, form: dict[str, str], basic: tuple[str, str] | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if basic:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.stack.issuer_base_url + path, data=urllib.parse.urlencode(form).encode(), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                body = response.read()
                return response.status, json.loads(body) if body else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def get_json(self, url: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def new_client(self, **settings: Any) -> dict[str, Any]:
        return self.idp.create_user_pool_client(UserPoolId=self.pool_id, ClientName="extra", **settings)[
            "UserPoolClient"
        ]


@pytest.fixture(scope="module")
def local(dev_env: Synthesized):
    assembly = dev_env.assembly(only=("Identity",))
    stack = LocalStack(assembly).start()
    try:
        yield Local(stack)
    finally:
        stack.stop()


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return error.value.response["Error"]["Code"]


# ---------------------------------------------------------------------- claim sets


def test_access_tokens_have_cognitos_claim_set_with_client_id_and_no_aud(local: Local) -> None:
    user = local.user("acme", auth_contract.EDITOR)
    access = claims(local.password_login(user)["AccessToken"])
    assert set(access) == {
        "sub",
        "cognito:groups",
        "iss",
        "version",
        "client_id",
        "origin_jti",
        "event_id",
        "token_use",
        "scope",
        "auth_time",
        "exp",
        "iat",
        "jti",
        "username",
        auth_contract.TENANT_CLAIM,
        auth_contract.ROLES_CLAIM,
    }
    assert access["token_use"] == "access"
    assert access["client_id"] == local.spa
    assert access["iss"] == local.issuer
    assert access["username"] == user.username
    assert access["cognito:groups"] == [auth_contract.EDITOR]
    assert access["version"] == 2


def test_id_tokens_have_cognitos_claim_set_with_aud_and_typed_attributes(local: Local) -> None:
    user = local.user("acme", auth_contract.VIEWER)
    identity = claims(local.password_login(user)["IdToken"])
    assert set(identity) == {
        "sub",
        "cognito:groups",
        "email",
        "email_verified",
        auth_contract.TENANT_ATTRIBUTE_CLAIM,
        "iss",
        "cognito:username",
        "origin_jti",
        "aud",
        "event_id",
        "token_use",
        "auth_time",
        "exp",
        "iat",
        "jti",
        auth_contract.TENANT_CLAIM,
        auth_contract.ROLES_CLAIM,
    }
    assert identity["aud"] == local.spa
    assert identity["token_use"] == "id"
    assert identity["email_verified"] is True
    assert identity[auth_contract.TENANT_ATTRIBUTE_CLAIM] == "acme"
    assert identity["cognito:username"] == user.username


def test_the_tokens_of_one_sign_in_share_origin_jti_and_auth_time(local: Local) -> None:
    result = local.password_login(local.user("acme", auth_contract.ADMIN))
    access, identity = claims(result["AccessToken"]), claims(result["IdToken"])
    assert access["origin_jti"] == identity["origin_jti"]
    assert access["auth_time"] == identity["auth_time"]
    assert access["jti"] != identity["jti"]


@pytest.mark.parametrize("role", auth_contract.TENANT_ROLES)
def test_the_trigger_gives_each_role_exactly_its_scopes(local: Local, role: str) -> None:
    access = claims(local.password_login(local.user("globex", role))["AccessToken"])
    expected = [SDK_SCOPE, *sorted(local.scope(s) for s in auth_contract.ROLE_SCOPES[role])]
    assert access["scope"].split() == expected
    assert access[auth_contract.TENANT_CLAIM] == "globex"
    assert access[auth_contract.ROLES_CLAIM] == [role]


def test_a_user_without_a_tenant_gets_tokens_with_no_tenant_and_no_api_scope(local: Local) -> None:
    """Waiting for an invitation (issue #13.5): signed in, but nothing the API accepts."""
    user = create_user(
        local.stack.cognito, local.pool_id, tenant=None, roles=(auth_contract.VIEWER,), email="nobody@example.com"
    )
    access = claims(local.password_login(user)["AccessToken"])
    assert access["scope"].split() == [SDK_SCOPE]
    assert auth_contract.TENANT_CLAIM not in access
    assert access[auth_contract.ROLES_CLAIM] == []


def test_a_user_of_a_tenant_missing_from_the_tenants_table_gets_no_tokens(local: Local) -> None:
    user = create_user(
        local.stack.cognito,
        local.pool_id,
        tenant="never-created",
        roles=(auth_contract.VIEWER,),
        email="lost@example.com",
    )
    with pytest.raises(ClientError) as error:
        local.password_login(user)
    assert error_code(error) == "UserLambdaValidationException"
    assert "your tenant does not exist" in error.value.response["Error"]["Message"]


def test_the_platform_operator_gets_the_platform_scope_and_no_tenant(local: Local) -> None:
    access = claims(local.password_login(local.user("", auth_contract.PLATFORM_OPERATOR))["AccessToken"])
    assert access["scope"].split() == [SDK_SCOPE, local.scope(auth_contract.PLATFORM_SCOPE)]
    assert auth_contract.TENANT_CLAIM not in access
    assert access[auth_contract.ROLES_CLAIM] == [auth_contract.PLATFORM_OPERATOR]


# ---------------------------------------------------------------------- keys and discovery


def test_id_and_access_tokens_are_signed_with_different_keys_of_the_pools_jwks(local: Local) -> None:
    result = local.password_login(local.user("acme", auth_contract.VIEWER))
    status, jwks = local.get_json(local.outputs["JwksUrl"])
    assert status == 200
    keys = {key["kid"]: key for key in jwks["keys"]}
    access_kid = jwt.get_unverified_header(result["AccessToken"])["kid"]
    id_kid = jwt.get_unverified_header(result["IdToken"])["kid"]
    assert access_kid != id_kid
    assert {access_kid, id_kid} <= set(keys)
    for token, kid in ((result["AccessToken"], access_kid), (result["IdToken"], id_kid)):
        assert keys[kid]["alg"] == "RS256" and keys[kid]["use"] == "sig"
        jwt.decode(token, RSAAlgorithm.from_jwk(keys[kid]), algorithms=["RS256"], options={"verify_aud": False})


def test_the_openid_configuration_points_at_the_local_endpoints(local: Local) -> None:
    status, config = local.get_json(f"{local.issuer}/.well-known/openid-configuration")
    assert status == 200
    assert config["issuer"] == local.issuer
    assert config["jwks_uri"] == local.outputs["JwksUrl"]
    assert config["token_endpoint"] == f"{local.stack.issuer_base_url}/oauth2/token"


def test_pools_that_do_not_exist_have_no_jwks(local: Local) -> None:
    status, _ = local.get_json(f"{local.stack.issuer_base_url}/eu-west-1_nope/.well-known/jwks.json")
    assert status == 404


# ---------------------------------------------------------------------- app client settings


def test_lifetimes_follow_the_app_clients_validity_settings(local: Local) -> None:
    spa = claims(local.password_login(local.user("acme", auth_contract.VIEWER))["AccessToken"])
    assert spa["exp"] - spa["iat"] == 60 * 60  # the dev SPA client: 60 minutes
    client = local.new_client(
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AccessTokenValidity=5,
        IdTokenValidity=10,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes"},
    )
    result = local.password_login(local.user("acme", auth_contract.VIEWER), client["ClientId"])
    access, identity = claims(result["AccessToken"]), claims(result["IdToken"])
    assert (access["exp"] - access["iat"], identity["exp"] - identity["iat"]) == (300, 600)
    assert result["ExpiresIn"] == 300


def test_a_flow_the_client_does_not_allow_is_refused(local: Local) -> None:
    client = local.new_client(ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    with pytest.raises(ClientError) as error:
        local.password_login(local.user("acme", auth_contract.VIEWER), client["ClientId"])
    assert error_code(error) == "InvalidParameterException"


def test_clients_with_a_secret_need_the_secret_hash(local: Local) -> None:
    client = local.new_client(
        GenerateSecret=True, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )
    user = local.user("acme", auth_contract.VIEWER)
    with pytest.raises(ClientError) as error:
        local.password_login(user, client["ClientId"])
    assert error_code(error) == "NotAuthorizedException"
    with pytest.raises(ClientError):
        local.password_login(user, client["ClientId"], SECRET_HASH=secret_hash(client["ClientId"], "wrong", user.email))
    good = secret_hash(client["ClientId"], client["ClientSecret"], user.email)
    assert local.password_login(user, client["ClientId"], SECRET_HASH=good)["AccessToken"]


def test_a_wrong_password_and_an_unknown_user_look_the_same(local: Local) -> None:
    user = local.user("acme", auth_contract.VIEWER)
    answers = []
    for username, password in ((user.email, "Wrong-password-1"), ("ghost@example.com", "Wrong-password-1")):
        with pytest.raises(ClientError) as error:
            local.idp.initiate_auth(
                ClientId=local.spa,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        answers.append((error_code(error), error.value.response["Error"]["Message"]))
    assert answers[0] == answers[1] == ("NotAuthorizedException", "Incorrect username or password.")


def test_users_may_not_write_their_tenant(local: Local) -> None:
    token = local.password_login(local.user("acme", auth_contract.EDITOR))["AccessToken"]
    with pytest.raises(ClientError) as error:
        local.idp.update_user_attributes(
            AccessToken=token, UserAttributes=[{"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": "globex"}]
        )
    assert error_code(error) == "NotAuthorizedException"
    local.idp.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "name", "Value": "Eddie"}])
    attributes = {a["Name"]: a["Value"] for a in local.idp.get_user(AccessToken=token)["UserAttributes"]}
    assert (attributes["name"], attributes[auth_contract.TENANT_ATTRIBUTE_CLAIM]) == ("Eddie", "acme")


# ---------------------------------------------------------------------- SRP


def srp_login(local: Local, email: str, password: str) -> dict[str, Any]:
    srp = ClientSession(local.pool_id)
    challenge = local.idp.initiate_auth(
        ClientId=local.spa, AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": email, "SRP_A": srp.srp_a}
    )
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    answer = local.idp.respond_to_auth_challenge(
        ClientId=local.spa,
        ChallengeName="PASSWORD_VERIFIER",
        Session=challenge["Session"],
        ChallengeResponses=srp.respond(challenge["ChallengeParameters"], password),
    )
    return answer["AuthenticationResult"]


def test_srp_sign_in_gives_the_same_claims_as_password_sign_in(local: Local) -> None:
    user = local.user("globex", auth_contract.EDITOR)
    srp = claims(srp_login(local, user.email, user.password)["AccessToken"])
    password = claims(local.password_login(user)["AccessToken"])
    for name in ("sub", "username", "scope", auth_contract.TENANT_CLAIM, auth_contract.ROLES_CLAIM, "cognito:groups"):
        assert srp[name] == password[name]


def test_srp_with_a_wrong_password_is_refused(local: Local) -> None:
    with pytest.raises(ClientError) as error:
        srp_login(local, local.user("globex", auth_contract.EDITOR).email, "Not-the-password-1")
    assert error_code(error) == "NotAuthorizedException"


# ---------------------------------------------------------------------- refresh and revocation


def test_refresh_keeps_the_sign_in_and_runs_the_trigger_again(local: Local) -> None:
    user = create_user(
        local.stack.cognito, local.pool_id, tenant="acme", roles=(auth_contract.VIEWER,), email="grow@example.com"
    )
    first = local.password_login(user)
    local.stack.cognito.admin_add_user_to_group(
        UserPoolId=local.pool_id, Username=user.email, GroupName=auth_contract.EDITOR
    )
    refreshed = local.idp.initiate_auth(
        ClientId=local.spa, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]}
    )["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    before, after = claims(first["AccessToken"]), claims(refreshed["AccessToken"])
    assert (after["origin_jti"], after["auth_time"]) == (before["origin_jti"], before["auth_time"])
    assert after["jti"] != before["jti"]
    assert local.scope(auth_contract.ITEMS_WRITE) in after["scope"].split()
    assert local.scope(auth_contract.ITEMS_WRITE) not in before["scope"].split()


def test_a_revoked_refresh_token_is_refused_and_its_access_tokens_are_revoked(local: Local) -> None:
    result = local.password_login(local.user("acme", auth_contract.ADMIN))
    local.idp.revoke_token(Token=result["RefreshToken"], ClientId=local.spa)
    with pytest.raises(ClientError) as error:
        local.idp.initiate_auth(
            ClientId=local.spa, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]}
        )
    assert error_code(error) == "NotAuthorizedException"
    with pytest.raises(ClientError) as error:
        local.idp.get_user(AccessToken=result["AccessToken"])
    assert error_code(error) == "NotAuthorizedException"


def test_global_sign_out_revokes_every_refresh_token_of_the_user(local: Local) -> None:
    user = create_user(
        local.stack.cognito, local.pool_id, tenant="acme", roles=(auth_contract.VIEWER,), email="out@example.com"
    )
    first, second = local.password_login(user), local.password_login(user)
    local.idp.global_sign_out(AccessToken=second["AccessToken"])
    for result in (first, second):
        status, body = local.post_form(
            "/oauth2/token",
            {"grant_type": "refresh_token", "client_id": local.spa, "refresh_token": result["RefreshToken"]},
        )
        assert (status, body) == (400, {"error": "invalid_grant"})


def test_a_refresh_token_expires_with_the_clients_refresh_validity(local: Local) -> None:
    result = local.password_login(local.user("globex", auth_contract.VIEWER))
    local.stack.clock.offset = 30 * 24 * 3600 + 1  # the dev SPA client: 30 days
    try:
        with pytest.raises(ClientError):
            local.idp.initiate_auth(
                ClientId=local.spa,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
            )
    finally:
        local.stack.clock.offset = 0


def test_oauth_refresh_and_revoke_endpoints(local: Local) -> None:
    result = local.password_login(local.user("globex", auth_contract.ADMIN))
    form = {"grant_type": "refresh_token", "client_id": local.spa, "refresh_token": result["RefreshToken"]}
    status, body = local.post_form("/oauth2/token", form)
    assert status == 200
    assert set(body) == {"access_token", "id_token", "expires_in", "token_type"}
    assert local.post_form("/oauth2/revoke", {"token": result["RefreshToken"], "client_id": local.spa}) == (200, None)
    assert local.post_form("/oauth2/token", form) == (400, {"error": "invalid_grant"})


# ---------------------------------------------------------------------- client credentials


def test_client_credentials_give_a_machine_token_with_the_clients_scopes(local: Local) -> None:
    status, body = local.post_form(
        "/oauth2/token",
        {"grant_type": "client_credentials"},
        basic=(local.machine.client_id, local.machine.client_secret),
    )
    assert status == 200
    assert body["token_type"] == "Bearer"
    token = claims(body["access_token"])
    common = {"sub", "token_use", "scope", "auth_time", "iss", "exp", "iat", "version", "jti", "client_id"}
    assert set(token) == common | {auth_contract.TENANT_CLAIM}  # added by the V3_0 trigger
    assert token[auth_contract.TENANT_CLAIM] == "acme"
    assert token["sub"] == token["client_id"] == local.machine.client_id
    assert token["scope"].split() == [local.scope(s) for s in auth_contract.MACHINE_SCOPES]
    assert body["expires_in"] == token["exp"] - token["iat"] == 3600


def test_client_credentials_refuse_scopes_the_client_may_not_have(local: Local) -> None:
    form = {"grant_type": "client_credentials", "scope": local.scope(auth_contract.ADMIN_SCOPE)}
    status, body = local.post_form("/oauth2/token", form, basic=(local.machine.client_id, local.machine.client_secret))
    assert (status, body) == (400, {"error": "invalid_scope"})


def test_client_credentials_need_the_right_secret_and_a_confidential_client(local: Local) -> None:
    wrong = local.post_form(
        "/oauth2/token", {"grant_type": "client_credentials"}, basic=(local.machine.client_id, "nope")
    )
    assert wrong == (401, {"error": "invalid_client"})
    public = local.post_form("/oauth2/token", {"grant_type": "client_credentials", "client_id": local.spa})
    assert public == (400, {"error": "unauthorized_client"})


def machine_token_answer(local: Local, client_id: str, secret: str, **form: str) -> tuple[int, Any]:
    return local.post_form("/oauth2/token", {"grant_type": "client_credentials", **form}, basic=(client_id, secret))


def test_the_platform_client_gets_a_token_without_a_tenant_for_its_platform_scope(local: Local) -> None:
    status, body = machine_token_answer(local, local.platform.client_id, local.platform.client_secret)
    assert status == 200
    token = claims(body["access_token"])
    assert auth_contract.TENANT_CLAIM not in token
    assert token["scope"].split() == [local.scope(s) for s in auth_contract.PLATFORM_MACHINE_SCOPES]


def test_a_client_the_tenants_table_does_not_know_gets_no_token(local: Local) -> None:
    client = local.new_client(
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=[local.scope(auth_contract.EVENTS_WRITE)],
    )
    answer = machine_token_answer(local, client["ClientId"], client["ClientSecret"])
    assert answer == (400, {"error": "invalid_grant"})


def test_a_suspended_tenants_client_gets_no_token(local: Local) -> None:
    profile = {"pk": "TENANT#acme", "sk": auth_contract.TENANT_PROFILE_SORT_KEY}
    local.tenants.update_item(
        Key=profile,
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": auth_contract.TENANT_SUSPENDED},
    )
    try:
        answer = machine_token_answer(local, local.machine.client_id, local.machine.client_secret)
        assert answer == (400, {"error": "invalid_grant"})
    finally:
        local.tenants.update_item(
            Key=profile,
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": auth_contract.TENANT_ACTIVE},
        )
    assert machine_token_answer(local, local.machine.client_id, local.machine.client_secret)[0] == 200


def test_client_secrets_rotate_like_cognitos_two_secret_api(local: Local) -> None:
    client = local.new_client(
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=[local.scope(auth_contract.PLATFORM_MACHINE_SCOPE)],
    )
    key = {"UserPoolId": local.pool_id, "ClientId": client["ClientId"]}
    (original,) = local.idp.list_user_pool_client_secrets(**key)["ClientSecrets"]
    assert "ClientSecretValue" not in original
    with pytest.raises(ClientError) as last:
        local.idp.delete_user_pool_client_secret(**key, ClientSecretId=original["ClientSecretId"])
    assert error_code(last) == "InvalidParameterException"
    added = local.idp.add_user_pool_client_secret(**key)["ClientSecretDescriptor"]
    assert added["ClientSecretValue"] != client["ClientSecret"]
    for secret in (client["ClientSecret"], added["ClientSecretValue"]):  # both work during the rotation
        assert machine_token_answer(local, client["ClientId"], secret)[0] == 200
    with pytest.raises(ClientError) as third:
        local.idp.add_user_pool_client_secret(**key)
    assert error_code(third) == "LimitExceededException"
    local.idp.delete_user_pool_client_secret(**key, ClientSecretId=original["ClientSecretId"])
    assert machine_token_answer(local, client["ClientId"], client["ClientSecret"]) == (401, {"error": "invalid_client"})
    assert machine_token_answer(local, client["ClientId"], added["ClientSecretValue"])[0] == 200
    assert [s["ClientSecretId"] for s in local.idp.list_user_pool_client_secrets(**key)["ClientSecrets"]] == [
        added["ClientSecretId"]
    ]


# ---------------------------------------------------------------------- hosted UI: code + PKCE


def hosted_login(local: Local, user: Any, verifier: str, redirect: str = "http://localhost:8765/callback") -> str:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": local.spa,
            "redirect_uri": redirect,
            "scope": f"openid email {local.scope(auth_contract.ITEMS_READ)} {local.scope(auth_contract.ITEMS_WRITE)}",
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    with urllib.request.urlopen(f"{local.stack.issuer_base_url}/oauth2/authorize?{query}", timeout=10) as page:  # noqa: S310
        assert page.status == 200
        action = re.search(r'action="([^"]+)"', page.read().decode()).group(1).replace("&amp;", "&")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    form = urllib.parse.urlencode({"username": user.email, "password": user.password}).encode()
    try:
        opener.open(local.stack.issuer_base_url + action, data=form, timeout=10)
    except urllib.error.HTTPError as redirect_response:
        assert redirect_response.code == 302
        location = redirect_response.headers["Location"]
    assert location.startswith(redirect)
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert params["state"] == "s1"
    return params["code"]


def test_the_hosted_ui_code_flow_with_pkce_gives_tokens_with_the_granted_scopes(local: Local) -> None:
    user = local.user("acme", auth_contract.VIEWER)
    code = hosted_login(local, user, "v" * 50)
    form = {
        "grant_type": "authorization_code",
        "client_id": local.spa,
        "code": code,
        "redirect_uri": "http://localhost:8765/callback",
        "code_verifier": "v" * 50,
    }
    status, body = local.post_form("/oauth2/token", form)
    assert status == 200
    access = claims(body["access_token"])
    # The viewer asked for items.write too; the trigger suppresses what the role does not grant.
    assert access["scope"].split() == ["openid", "email", local.scope(auth_contract.ITEMS_READ)]
    assert claims(body["id_token"])["aud"] == local.spa
    assert local.post_form("/oauth2/token", form) == (400, {"error": "invalid_grant"})  # a code works once


def test_a_code_redeemed_with_the_wrong_verifier_is_refused(local: Local) -> None:
    code = hosted_login(local, local.user("acme", auth_contract.VIEWER), "right-verifier-" * 4)
    form = {
        "grant_type": "authorization_code",
        "client_id": local.spa,
        "code": code,
        "redirect_uri": "http://localhost:8765/callback",
        "code_verifier": "wrong-verifier-" * 4,
    }
    assert local.post_form("/oauth2/token", form) == (400, {"error": "invalid_grant"})


def test_the_hosted_ui_refuses_redirects_the_client_does_not_list(local: Local) -> None:
    query = urllib.parse.urlencode(
        {"response_type": "code", "client_id": local.spa, "redirect_uri": "http://evil.example/cb", "scope": "openid"}
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{local.stack.issuer_base_url}/oauth2/authorize?{query}", timeout=10)  # noqa: S310
    assert error.value.code == 400


# ---------------------------------------------------------------------- the rest of the API goes to moto


def test_admin_api_calls_pass_through_to_moto(local: Local) -> None:
    email = "passthrough@example.com"
    local.idp.admin_create_user(
        UserPoolId=local.pool_id,
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": "acme"},
        ],
        MessageAction="SUPPRESS",
    )
    password = demo_password()
    local.idp.admin_set_user_password(UserPoolId=local.pool_id, Username=email, Password=password, Permanent=True)
    result = local.idp.initiate_auth(
        ClientId=local.spa, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": password}
    )["AuthenticationResult"]
    assert claims(result["AccessToken"])[auth_contract.TENANT_CLAIM] == "acme"
    assert time.time() - claims(result["AccessToken"])["iat"] < 60


def test_sign_up_may_not_set_the_tenant(local: Local) -> None:
    with pytest.raises(ClientError) as error:
        local.idp.sign_up(
            ClientId=local.spa,
            Username="newcomer@example.com",
            Password=demo_password(),
            UserAttributes=[{"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": "acme"}],
        )
    assert error.value.response["Error"] == {
        "Code": "NotAuthorizedException",
        "Message": "A client attempted to write unauthorized attribute",
    }


def test_logout_redirects_only_to_the_clients_sign_out_urls(local: Local) -> None:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)

    def logout(target: str) -> int:
        query = urllib.parse.urlencode({"client_id": local.spa, "logout_uri": target})
        try:
            opener.open(f"{local.stack.issuer_base_url}/logout?{query}", timeout=10)
        except urllib.error.HTTPError as answer:
            return answer.code
        return 200

    assert logout("http://localhost:8765/") == 302
    assert logout("https://evil.example/") == 400


def test_admin_flows_are_refused_on_the_public_api(local: Local) -> None:
    user = local.user("acme", auth_contract.VIEWER)
    with pytest.raises(ClientError) as error:
        local.idp.initiate_auth(
            ClientId=local.spa,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.email, "PASSWORD": user.password},
        )
    assert error_code(error) == "InvalidParameterException"
    with pytest.raises(ClientError) as error:  # and the SPA client does not allow the admin flow either
        local.idp.admin_initiate_auth(
            UserPoolId=local.pool_id,
            ClientId=local.spa,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.email, "PASSWORD": user.password},
        )
    assert error_code(error) == "InvalidParameterException"


# ---------------------------------------------------------------------- where Cognito refuses


def unconfirmed_user(local: Local, email: str) -> Any:
    """A signed-up user who never confirmed, with a tenant (set through moto, as no client may)."""
    password = demo_password()
    local.stack.cognito.sign_up(
        ClientId=local.spa,
        Username=email,
        Password=password,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": "acme"},
        ],
    )
    status = local.stack.cognito.admin_get_user(UserPoolId=local.pool_id, Username=email)["UserStatus"]
    assert status == "UNCONFIRMED"
    return type("Unconfirmed", (), {"email": email, "password": password})()


def test_an_unconfirmed_user_cannot_sign_in_with_a_password(local: Local) -> None:
    user = unconfirmed_user(local, "unconfirmed-password@example.com")
    with pytest.raises(ClientError) as error:
        local.password_login(user)
    assert error.value.response["Error"] == {"Code": "UserNotConfirmedException", "Message": "User is not confirmed."}
    wrong = type("Wrong", (), {"email": user.email, "password": user.password + "x"})()
    with pytest.raises(ClientError) as error:
        local.password_login(wrong)
    assert error_code(error) == "NotAuthorizedException"  # a wrong password says nothing about the account


def test_an_unconfirmed_user_cannot_sign_in_through_the_hosted_ui(local: Local) -> None:
    user = unconfirmed_user(local, "unconfirmed-hosted@example.com")
    query = urllib.parse.urlencode(
        {"response_type": "code", "client_id": local.spa, "redirect_uri": "http://localhost:8765/callback"}
    )
    form = urllib.parse.urlencode({"username": user.email, "password": user.password}).encode()
    with pytest.raises(urllib.error.HTTPError) as page:
        urllib.request.urlopen(f"{local.stack.issuer_base_url}/login?{query}", data=form, timeout=10)  # noqa: S310
    assert page.value.code == 400
    assert "User is not confirmed." in page.value.read().decode()


def test_an_email_change_waits_for_its_verification_code(local: Local) -> None:
    # The pool keeps the original email until the new one is verified (keep_original / Cognito's
    # AttributesRequireVerificationBeforeUpdate): the new address is neither used nor "verified".
    user = create_user(
        local.stack.cognito, local.pool_id, tenant="acme", roles=(auth_contract.VIEWER,), email="mover@example.com"
    )
    token = local.password_login(user)["AccessToken"]
    answer = local.idp.update_user_attributes(
        AccessToken=token, UserAttributes=[{"Name": "email", "Value": "moved@example.com"}]
    )
    assert answer["CodeDeliveryDetailsList"] == [
        {"Destination": "m***@example.com", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    ]

    def attributes() -> dict[str, str]:
        return {a["Name"]: a["Value"] for a in local.idp.get_user(AccessToken=token)["UserAttributes"]}

    assert (attributes()["email"], attributes()["email_verified"]) == ("mover@example.com", "true")
    with pytest.raises(ClientError) as error:
        local.idp.verify_user_attribute(AccessToken=token, AttributeName="email", Code="000000x")
    assert error_code(error) == "CodeMismatchException"
    assert attributes()["email"] == "mover@example.com"
    [(key, pending)] = [(k, v) for k, v in local.stack.issuer.state.pending_attributes.items() if k[2] == "email"]
    local.idp.verify_user_attribute(AccessToken=token, AttributeName="email", Code=pending.code)
    assert (attributes()["email"], attributes()["email_verified"]) == ("moved@example.com", "true")
    assert key not in local.stack.issuer.state.pending_attributes


def test_the_admin_api_cannot_rewrite_an_immutable_attribute(local: Local) -> None:
    user = local.user("globex", auth_contract.VIEWER)
    with pytest.raises(ClientError) as error:
        local.idp.admin_update_user_attributes(
            UserPoolId=local.pool_id,
            Username=user.username,
            UserAttributes=[{"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": "acme"}],
        )
    assert error.value.response["Error"] == {
        "Code": "InvalidParameterException",
        "Message": f"user.{auth_contract.TENANT_ATTRIBUTE_CLAIM}: Attribute cannot be updated.",
    }
    attributes = local.stack.cognito.admin_get_user(UserPoolId=local.pool_id, Username=user.username)["UserAttributes"]
    assert {a["Name"]: a["Value"] for a in attributes}[auth_contract.TENANT_ATTRIBUTE_CLAIM] == "globex"
    # A mutable attribute still passes through to moto.
    local.idp.admin_update_user_attributes(
        UserPoolId=local.pool_id, Username=user.username, UserAttributes=[{"Name": "name", "Value": "Gil"}]
    )
