"""SRP as Cognito's USER_SRP_AUTH uses it: the client and the local issuer's halves agree only on the password."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client import srp

POOL = "eu-west-1_AbCdEfGhI"


def exchange(password_client: str, password_server: str, user: str = "user-1") -> bool:
    client = srp.ClientSession(POOL)
    server = srp.ServerSession(POOL, user, password_server, client.srp_a)
    challenge = {**server.challenge(), "USER_ID_FOR_SRP": user}
    return server.verify(client.respond(challenge, password_client))


@settings(max_examples=10, deadline=None)
@given(password=st.text(min_size=1, max_size=40))
def test_the_same_password_on_both_sides_verifies(password: str) -> None:
    assert exchange(password, password)


def test_a_different_password_does_not_verify() -> None:
    assert not exchange("Correct-horse-1", "Correct-horse-2")


def test_the_proof_is_bound_to_the_user_and_the_secret_block() -> None:
    client = srp.ClientSession(POOL)
    server = srp.ServerSession(POOL, "user-1", "pw", client.srp_a)
    challenge = {**server.challenge(), "USER_ID_FOR_SRP": "user-1"}
    responses = client.respond(challenge, "pw")
    tampered = dict(responses, PASSWORD_CLAIM_SECRET_BLOCK=base64.b64encode(b"other").decode())
    assert not server.verify(tampered)
    assert not server.verify(dict(responses, TIMESTAMP="Mon Jan 1 00:00:00 UTC 2024"))
    assert server.verify(responses)


def test_the_client_response_has_the_fields_cognito_expects() -> None:
    client = srp.ClientSession(POOL)
    server = srp.ServerSession(POOL, "user-1", "pw", client.srp_a)
    responses = client.respond({**server.challenge(), "USER_ID_FOR_SRP": "user-1"}, "pw")
    assert set(responses) == {"USERNAME", "TIMESTAMP", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE"}
    assert responses["USERNAME"] == "user-1"
    assert len(base64.b64decode(responses["PASSWORD_CLAIM_SIGNATURE"])) == 32


def test_the_timestamp_has_an_unpadded_day_as_cognito_requires() -> None:
    assert srp.timestamp(datetime(2026, 3, 3, 9, 5, 1, tzinfo=UTC)) == "Tue Mar 3 09:05:01 UTC 2026"
    assert srp.timestamp(datetime(2026, 3, 13, 19, 5, 1, tzinfo=UTC)) == "Fri Mar 13 19:05:01 UTC 2026"


def test_hex_padding_follows_javas_biginteger_form() -> None:
    assert srp.pad_hex(0xABC) == "0abc"
    assert srp.pad_hex(0x8F) == "008f"
    assert srp.pad_hex(0x7F) == "7f"
    assert srp.pad_hex("f1") == "00f1"


def test_a_zero_public_value_is_refused() -> None:
    with pytest.raises(srp.SrpError):
        srp.ServerSession(POOL, "user-1", "pw", f"{srp.N:x}")
    client = srp.ClientSession(POOL)
    with pytest.raises(srp.SrpError):
        client.respond({"USER_ID_FOR_SRP": "u", "SRP_B": "0", "SALT": "ab", "SECRET_BLOCK": "AA=="}, "pw")
