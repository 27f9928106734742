"""shared.claims: the one module that turns authorizer output into an Identity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import auth_contract
from shared.claims import ClaimsError, Identity, is_tenant_id, parse_identity, parse_list, short_scope
from tests.api_events import (
    MACHINE_CLIENT_ID,
    RESOURCE_SERVER,
    SPA_CLIENT_ID,
    User,
    access_claims,
    http_event,
    id_token_claims,
    jwt_authorizer,
    lambda_authorizer,
    machine_claims,
    qualified,
)

EDITOR = User("erin", "acme", (auth_contract.ADMIN, auth_contract.EDITOR))


def identity_of(authorizer: dict, resource_server: str | None = RESOURCE_SERVER) -> Identity:
    return parse_identity(http_event("GET", "/me", "/me", authorizer=authorizer), resource_server)


# --------------------------------------------------------------------------- list claims


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[admin editor]", ("admin", "editor")),
        ("[admin]", ("admin",)),
        ("[]", ()),
        ("admin", ("admin",)),
        ("admin editor", ("admin", "editor")),
        ('["admin","editor"]', ("admin", "editor")),
        (["admin", "editor"], ("admin", "editor")),
        ((), ()),
        (None, ()),
        ("", ()),
    ],
)
def test_list_claims_parse_in_every_form(value, expected):
    assert parse_list(value, "roles") == expected


@pytest.mark.parametrize("value", [42, {"a": 1}, ["admin", 3], [["admin"]], '["admin", 3]', '["a",]'])
def test_malformed_list_claims_raise_claims_error(value):
    with pytest.raises(ClaimsError):
        parse_list(value, "roles")


@pytest.mark.parametrize(
    "separator", ["\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\u00a0", "\u2003", "\u3000"], ids=repr
)
@pytest.mark.parametrize("shape", ["{}", "[{}]"])
def test_only_single_spaces_separate_list_items(separator, shape):
    # str.split() would split on each of these and hand out "rs/admin" as a scope of its own.
    with pytest.raises(ClaimsError):
        parse_list(shape.format(f"openid{separator}{RESOURCE_SERVER}/admin"), "scope")


def test_a_scope_claim_split_by_a_tab_grants_no_extra_scope():
    claims = {**access_claims(EDITOR), "scope": "openid\t" + qualified(auth_contract.ADMIN_SCOPE)[0]}
    with pytest.raises(ClaimsError):
        identity_of(jwt_authorizer(claims, scopes=None))


def test_list_claims_are_bounded():
    with pytest.raises(ClaimsError):
        parse_list(" ".join(f"r{i}" for i in range(65)), "roles")


# --------------------------------------------------------------------------- JWT authorizer


def test_access_token_through_the_jwt_authorizer():
    claims = access_claims(EDITOR)
    identity = identity_of(jwt_authorizer(claims))
    assert identity == Identity(
        sub=EDITOR.sub,
        username="erin",
        tenant="acme",
        roles=frozenset({"admin", "editor"}),
        scopes=frozenset({"openid", "email", *auth_contract.ROLE_SCOPES[auth_contract.ADMIN]}),
        client_id=SPA_CLIENT_ID,
        token_use="access",
        origin_jti=claims["origin_jti"],
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
    )
    assert identity.is_admin and identity.is_access_token and not identity.is_machine


def test_scopes_null_uses_the_space_separated_scope_claim():
    identity = identity_of(jwt_authorizer(access_claims(EDITOR), scopes=None))
    assert identity.has_scope(auth_contract.ITEMS_WRITE)


def test_scopes_list_without_scope_claim():
    claims = access_claims(EDITOR)
    del claims["scope"]
    identity = identity_of(jwt_authorizer(claims, scopes=qualified(auth_contract.ITEMS_READ)))
    assert identity.scopes == frozenset({auth_contract.ITEMS_READ})


def test_scopes_of_another_resource_server_keep_their_full_name():
    claims = {**access_claims(EDITOR), "scope": "https://other.example/items.write"}
    identity = identity_of(jwt_authorizer(claims, scopes=None))
    assert not identity.has_scope(auth_contract.ITEMS_WRITE)
    assert identity.scopes == frozenset({"https://other.example/items.write"})


def test_without_a_resource_server_qualified_scopes_never_match(monkeypatch):
    monkeypatch.delenv("RESOURCE_SERVER_IDENTIFIER", raising=False)
    identity = identity_of(jwt_authorizer(access_claims(EDITOR)), resource_server=None)
    assert not identity.has_scope(auth_contract.ITEMS_READ)


def test_resource_server_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RESOURCE_SERVER_IDENTIFIER", RESOURCE_SERVER)
    identity = identity_of(jwt_authorizer(access_claims(EDITOR)), resource_server=None)
    assert identity.has_scope(auth_contract.ITEMS_READ)


def test_short_scope_only_strips_the_exact_prefix():
    assert short_scope(f"{RESOURCE_SERVER}/items.read", RESOURCE_SERVER) == "items.read"
    assert short_scope(f"{RESOURCE_SERVER}x/items.read", RESOURCE_SERVER) == f"{RESOURCE_SERVER}x/items.read"
    assert short_scope(f"{RESOURCE_SERVER}/", RESOURCE_SERVER) == f"{RESOURCE_SERVER}/"
    assert short_scope("openid", RESOURCE_SERVER) == "openid"


@pytest.mark.parametrize("scope", list(auth_contract.API_SCOPES))
def test_a_bare_api_scope_name_grants_nothing(scope):
    assert short_scope(scope, RESOURCE_SERVER) is None
    claims = {**access_claims(EDITOR), "scope": f"openid {scope}"}
    identity = identity_of(jwt_authorizer(claims, scopes=["openid", scope]))
    assert identity.scopes == frozenset({"openid"})
    assert not identity.has_scope(scope)


def test_unknown_roles_are_ignored():
    claims = {**access_claims(EDITOR), "roles": "[editor superuser eu-west-1_Pool_Okta]"}
    assert identity_of(jwt_authorizer(claims)).roles == frozenset({"editor"})


def test_roles_come_only_from_the_roles_claim_not_from_groups():
    claims = {**access_claims(User("g", "acme", ())), "cognito:groups": "[admin]"}
    assert identity_of(jwt_authorizer(claims)).roles == frozenset()


def test_id_token_identity_uses_aud_and_cognito_username():
    identity = identity_of(jwt_authorizer(id_token_claims(EDITOR), scopes=None))
    assert identity.token_use == "id" and not identity.is_access_token
    assert identity.client_id == SPA_CLIENT_ID and identity.username == "erin"
    assert identity.scopes == frozenset()


def test_client_credentials_token_is_a_machine():
    identity = identity_of(jwt_authorizer(machine_claims()))
    assert identity.is_machine
    assert identity.sub == identity.client_id == MACHINE_CLIENT_ID
    assert identity.username is None and identity.tenant is None and identity.roles == frozenset()
    assert identity.scopes == frozenset({auth_contract.EVENTS_WRITE})


def test_user_token_is_not_a_machine_even_if_sub_equals_client_id():
    claims = {**access_claims(EDITOR), "sub": SPA_CLIENT_ID}
    assert not identity_of(jwt_authorizer(claims)).is_machine


@pytest.mark.parametrize(
    ("change", "claim"),
    [
        ({"sub": ""}, "sub"),
        ({"sub": " padded "}, "sub"),
        ({"sub": 42}, "sub"),
        ({"tenant_id": "a" * 65}, "tenant_id"),
        ({"tenant_id": "acme/other"}, "tenant_id"),
        ({"tenant_id": "ac me"}, "tenant_id"),
        ({"username": "x" * 300}, "username"),
        ({"roles": {"admin": True}}, "roles"),
        ({"client_id": "bad\nid"}, "client_id"),
    ],
)
def test_malformed_claims_raise_claims_error_naming_the_claim(change, claim):
    claims = {**access_claims(EDITOR), **change}
    with pytest.raises(ClaimsError, match=claim):
        identity_of(jwt_authorizer(claims))


def test_missing_sub_raises_claims_error():
    claims = access_claims(EDITOR)
    del claims["sub"]
    with pytest.raises(ClaimsError):
        identity_of(jwt_authorizer(claims))


@pytest.mark.parametrize(
    "event",
    [
        None,
        "event",
        {},
        {"requestContext": None},
        {"requestContext": {}},
        {"requestContext": {"authorizer": {}}},
        {"requestContext": {"authorizer": {"jwt": None}}},
        {"requestContext": {"authorizer": {"jwt": {"claims": "sub=x"}}}},
        {"requestContext": {"authorizer": {"iam": {}}}},
        {"requestContext": {"authorizer": {"lambda": []}}},
    ],
)
def test_malformed_events_raise_claims_error(event):
    with pytest.raises(ClaimsError):
        parse_identity(event, RESOURCE_SERVER)


# --------------------------------------------------------------------------- Lambda authorizer context


def test_lambda_authorizer_context():
    context = {
        "tenant": "acme",
        "roles": "admin editor",
        "sub": EDITOR.sub,
        "client_id": SPA_CLIENT_ID,
        "scopes": " ".join(qualified(auth_contract.ITEMS_READ, auth_contract.ITEMS_WRITE)),
        "username": "erin",
        "token_use": "access",
    }
    identity = identity_of(lambda_authorizer(context))
    assert identity.tenant == "acme"
    assert identity.roles == frozenset({"admin", "editor"})
    assert identity.scopes == frozenset({auth_contract.ITEMS_READ, auth_contract.ITEMS_WRITE})
    assert identity.username == "erin" and identity.client_id == SPA_CLIENT_ID
    assert identity.origin_jti is None and identity.issued_at is None  # the check refuses such a caller


def test_lambda_authorizer_context_carries_what_the_revocation_check_reads():
    context = {"sub": "s", "token_use": "access", "origin_jti": "jti-1", "iat": 1_800_000_000, "exp": "1800000900"}
    identity = identity_of(lambda_authorizer(context))
    assert (identity.origin_jti, identity.issued_at, identity.expires_at) == ("jti-1", 1_800_000_000, 1_800_000_900)


@pytest.mark.parametrize("value", ["-1", "1.5", "soon", "", True, 1.5, "1" * 13, "١٢٣"])
def test_malformed_iat_raises_claims_error_or_is_absent(value):
    claims = {**access_claims(EDITOR), "iat": value}
    if value == "":
        assert identity_of(jwt_authorizer(claims)).issued_at is None
        return
    with pytest.raises(ClaimsError):
        identity_of(jwt_authorizer(claims))


def test_lambda_authorizer_context_with_real_lists_and_empty_username():
    context = {"tenant": "acme", "roles": ["viewer"], "sub": "s", "scopes": [], "username": "", "token_use": "access"}
    identity = identity_of(lambda_authorizer(context))
    assert identity.roles == frozenset({"viewer"}) and identity.username is None


def test_lambda_authorizer_context_without_sub_raises_claims_error():
    with pytest.raises(ClaimsError):
        identity_of(lambda_authorizer({"tenant": "acme"}))


def test_as_dict_lists_roles_in_the_contracts_order_and_scopes_sorted():
    identity = identity_of(jwt_authorizer(access_claims(EDITOR)))
    assert identity.as_dict()["roles"] == [role for role in auth_contract.ROLES if role in ("admin", "editor")]
    assert identity.as_dict()["scopes"] == sorted(identity.scopes)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("acme", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("a/b", False),
        ("a b", False),
        (None, False),
        (7, False),
        ("Tenant_9-x", True),
        ("ac%6De", False),
        ("ac.me", False),
        ("acm\u00e9", False),
        ("\uff41cme", False),
        ("acme\n", False),
        ("acme\u0000", False),
        ("a+b", False),
    ],
)
def test_tenant_id_rule(value, ok):
    assert is_tenant_id(value) is ok


@pytest.mark.parametrize(
    "value", ["acme", "a" * 64, "a" * 65, "", "a/b", "a b", "ac%6De", "ac.me", "acm\u00e9", "acme\n", "T_9-x"], ids=repr
)
def test_one_tenant_grammar_for_config_claims_paths_and_the_contract(value):
    from stacks import config

    expected = auth_contract.is_tenant_id(value)
    assert is_tenant_id(value) is expected
    assert (config.TENANT_ID_PATTERN.match(value) is not None) is expected  # as the config reader matches
    assert auth_contract.TENANT_ID_MAX_LENGTH == 64  # the user pool attribute's max_len (test_identity_stack)


# --------------------------------------------------------------------------- never anything but ClaimsError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=80),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
claim_names = st.sampled_from(
    [
        "sub",
        "username",
        "tenant_id",
        "roles",
        "scope",
        "client_id",
        "token_use",
        "aud",
        "cognito:username",
        "exp",
        "iat",
        "origin_jti",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    claims=st.dictionaries(claim_names, json_values, max_size=10),
    scopes=json_values,
    shape=st.sampled_from(["jwt", "lambda"]),
)
def test_arbitrary_authorizer_output_yields_an_identity_or_claims_error(claims, scopes, shape):
    authorizer = (
        {"jwt": {"claims": claims, "scopes": scopes}} if shape == "jwt" else {"lambda": {**claims, "scopes": scopes}}
    )
    try:
        identity = identity_of(authorizer)
    except ClaimsError:
        return
    assert isinstance(identity, Identity) and identity.sub


@settings(max_examples=200, deadline=None)
@given(event=json_values)
def test_arbitrary_events_yield_claims_error(event):
    with pytest.raises(ClaimsError):
        parse_identity(event, RESOURCE_SERVER)
