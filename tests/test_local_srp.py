"""SRP as Cognito's USER_SRP_AUTH uses it: the CLI's client half (client/srp.py) and the local issuer's
server half (local/srp_server.py) agree only on the password, reproduce fixed known answers, and
interoperate with an independent implementation (pycognito's AWSSRP), so that a mistake both
halves share (a constant, a padding rule, the key derivation) cannot pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycognito import aws_srp as pycognito_srp

from client import srp
from local import srp_server

POOL = "eu-west-1_AbCdEfGhI"
USER = "7c1f0e2a-srp-user"
PASSWORD = "Correct-horse-battery-1"
PASSWORDS = st.text(min_size=1, max_size=40)

# ------------------------------------------------------------------------------------ known answers
# One fixed exchange: private values a and b, the salt, the secret block and the timestamp are
# chosen; everything below them was computed with pycognito 2024.5.1 (AWSSRP with its small a set,
# its calculate_u and get_password_authentication_key) and cross-checked with RFC 5869 HKDF from
# `cryptography` over the Java byte forms (test_pycognito_and_rfc5869_reproduce_the_known_answers).
# The values are picked so that every padding rule is exercised: A, u and S have their top bit set
# (hashed with a leading zero byte), B has an odd number of hex digits, the salt is sent as 00...
SALT = "00850e9cf3f7ebcb18edd17d3efa6cdcb7"
SECRET_BLOCK = base64.b64encode(bytes(range(64))).decode()
TIMESTAMP = "Tue Mar 3 09:05:01 UTC 2026"
NOW = datetime(2026, 3, 3, 9, 5, 1, tzinfo=UTC)
SMALL_A = (
    "fc2ea9711b9a4855962eecbeb0d9714ff4af234713229038e7c3ab125f96d67fd6f50dfddcf14dab64d7c54c81cac1cf"
    "9f145ad0e2742490bed8f3bb9b25a98cae23f8db0f0497a88ca2dc5f201d990d1169a8828050022702086641db0e18a7"
    "b21bae243a3e533bbd7c6d516580307d02713d07cccdea31fc599e4896580410"
)
SMALL_B = (
    "84014b579d89c9313fe5ebd1bdc13968e76d74f5e16d984fdbd6893573bc3beae5c9e6fafe8dd797ac4026aa5fc31c4f"
    "c4d6d0eccb5f23f5b531f83ec22bd1f1ed445771200554142b7a6fd19fd1a93989c2cf43f672a3069c1db0afb7f92fde"
    "9e2014c4b14af887459d98511407a0a42d87fa0897bbc38ff51f50c736f79590"
)
LARGE_A = (
    "94e0e41b03b76adcace522f23c642cc979da0e02cb42daf8c3fcff14b4d5f2fa0835a365b591b496b479111fdc46eae8"
    "8b0db16b55cefdd1d805e44415cbf212dfaa21f009cdfcb30653857c3e41bd32889b46496bf14baf17edd19bc9430c6c"
    "7a98f248abf4ca5ae87c4dc53f3430a29ee92aa106075b4c44dcdc535623866fc2664c3ad8ea452f2581457c8c040d8c"
    "0a2c57df4bef379581ee721f1220e0fee44e48145dc2bdf9d2852a391fa086e7d43cb864c938724f74da0b42d6736e5b"
    "f2de4f04984f16de5cca433019f544529df5ea1ece85606a934c967601bffe40cca0d4262514476c3ee4fdc2a6c125a5"
    "a7137157f372726a46b8cbe7d5597547b18ec794ef63fe6a7ab75cf411e092d237212cdf7ff4eddb70556833bcf5e950"
    "c50c4d06dafa009cf4250a97f2b4e4ad6c1dda9c736dbc6256176760b960ac19b3298cea3516362f05afc2a197568f9f"
    "cfbcf84e2170d7c0a90e91d4ca102621559bf50d36109ffcf87a66fa31cca10897d86f08a96b4d40cd70b42893fca0ae"
)
LARGE_B = (
    "ca89266bf79ff5845687d723518d7ee517cf2e16e8c697d804fa9a675a1ea6669a1dbc2d6dd613a34c8dcfb88588f907"
    "21628a1c714d5d11476ae80d805f86ee103e7f265dccb2faf255a40febb85896a5ccb6f60ae5a5090b0fe53e9da27b84"
    "281daec02560c5f27ecc82bb9651f4b6fb0b4ccfdbea44df8f430293e7437ed180148858964f3b480ee82d39f3aaeb7e"
    "0bf8a77396a5c831497a008f9710409fa499686734e07661bbd1483d20e577a82a11fdc90fcdbd5ec43ebe00a0bee664"
    "e62c3d42a879e4c2bc0f145df43cbb23dbdce4a475b71a9a8c55fb3fd62164dc057bf38b838144ac727672ac98ab6f51"
    "ebbc8b47dfad789c80ec1022c02996925780dc12d138f723af4eeaab665a71490cda015754ef7cb5696433dac5292682"
    "6b5a3ebcdcc714060904a433f0b7c532c8dcd66045c882b600045f3d0c657fc06af0017c166a812ed0eba24b0e2cc177"
    "988d92a62d38d6a37574078eecb2d802dd36645c02723a8ee509da6f0c2437b4a81e69e19b9f5c9fa63124cc5df0620"
)
SCRAMBLER_U = "ceb5222dbeb38cd6f78e94b626e2fcfb6c9ebf3ce2f6df017675e64e60840d67"
PASSWORD_X = "4cb144d39f61a1a490910e27a1999eea419f629b7658c8ade7f7b5c2c6171e55"
PREMASTER_S = (
    "a91bde72ced2c2544714f5b4d1a3bc12561245a03a07b2ce3244251642805a438c849e133f108f296a833afc168f4958"
    "986feb2dd3bfa51ebf834e58109fdd15ab5c90aec3eb74ad16a1e29ae7a1d775fd9ad16dfd992093c876942baea37b07"
    "eb2c3c022068adc0425dafbf865d94e8bd58ccc38970e1f1dac6f365046e56218eaee23f8336752c30f8bd7fa79eb4ab"
    "440f22298c277d1375a49ca6e3882560d2e1ac5af6da735268c1e4137e68302aa03540bd791ba763549b20d3d2e0b685"
    "d71f2a0455f744c75b5e650ba0b71147ef9aaac147688701969c5f380e00160e30b21c1538f76778f5a4acbac744c454"
    "02b0dde32ff2dfc1cb5af0018852f5af601e12cb639d9ed5d2e85e5fc95504c079276b95c635cfad52126bdb2960a141"
    "0cd9a53f23c940c1e91aaff9ac4711eae74924bdd71d11b1c3544571a7cd73242f651e2a4cb6097d989ad91f8bc51a52"
    "8e956da09e51f6ef553d2783990234e30fa7a2b19d3eabb890b087306a8a6586d165f71be01c5a65d08a75d7c5c8c1cc"
)
SESSION_KEY = "518a449d3227db71997fade580957f9d"
SIGNATURE = "thQXwGHiafwaXy3ieMlAQXwEwJLit5EuwyEABBwN7n4="


def number(hex_text: str) -> int:
    return int(hex_text, 16)


def challenge_for(big_b: int, user: str = USER) -> dict[str, str]:
    return {"SALT": SALT, "SRP_B": f"{big_b:x}", "SECRET_BLOCK": SECRET_BLOCK, "USER_ID_FOR_SRP": user}


@pytest.fixture
def fixed_client(monkeypatch: pytest.MonkeyPatch) -> srp.ClientSession:
    """The CLI's client half with a = SMALL_A."""
    monkeypatch.setattr(srp, "secrets", SimpleNamespace(randbits=lambda bits: number(SMALL_A)))
    return srp.ClientSession(POOL)


@pytest.fixture
def fixed_server(monkeypatch: pytest.MonkeyPatch) -> srp_server.ServerSession:
    """The local issuer's server half with b = SMALL_B, the salt and the secret block above, for A = LARGE_A."""
    chosen = {8 * srp_server.SALT_BYTES: number(SALT), srp_server.PRIVATE_BITS: number(SMALL_B)}
    fixed = SimpleNamespace(randbits=chosen.__getitem__, token_bytes=lambda size: base64.b64decode(SECRET_BLOCK))
    monkeypatch.setattr(srp_server, "secrets", fixed)
    return srp_server.ServerSession(POOL, USER, PASSWORD, LARGE_A)


def test_the_client_half_reproduces_the_known_answers(fixed_client: srp.ClientSession) -> None:
    assert fixed_client.srp_a == LARGE_A
    assert srp.compute_u(number(LARGE_A), number(LARGE_B)) == number(SCRAMBLER_U)
    assert srp.password_exponent(POOL, USER, PASSWORD, SALT) == number(PASSWORD_X)
    assert srp.derive_key(number(PREMASTER_S), number(SCRAMBLER_U)).hex() == SESSION_KEY
    responses = fixed_client.respond(challenge_for(number(LARGE_B)), PASSWORD, now=NOW)
    assert responses == {
        "USERNAME": USER,
        "TIMESTAMP": TIMESTAMP,
        "PASSWORD_CLAIM_SECRET_BLOCK": SECRET_BLOCK,
        "PASSWORD_CLAIM_SIGNATURE": SIGNATURE,
    }


def test_the_server_half_reproduces_the_known_answers(fixed_server: srp_server.ServerSession) -> None:
    assert fixed_server.challenge() == {"SALT": SALT, "SRP_B": LARGE_B, "SECRET_BLOCK": SECRET_BLOCK}
    assert srp_server.password_verifier("AbCdEfGhI", USER, PASSWORD, bytes.fromhex(SALT)) == pow(
        2, number(PASSWORD_X), srp_server.GROUP_PRIME
    )
    assert srp_server.session_key(number(PREMASTER_S), number(SCRAMBLER_U)).hex() == SESSION_KEY
    assert fixed_server.key().hex() == SESSION_KEY
    claim = {"PASSWORD_CLAIM_SECRET_BLOCK": SECRET_BLOCK, "TIMESTAMP": TIMESTAMP}
    assert fixed_server.verify({**claim, "PASSWORD_CLAIM_SIGNATURE": SIGNATURE})
    assert not fixed_server.verify({**claim, "TIMESTAMP": "Tue Mar 3 09:05:02 UTC 2026"})


def test_pycognito_and_rfc5869_reproduce_the_known_answers() -> None:
    """Where the known answers come from: an independent client and the standard HKDF."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    client = pycognito_client(PASSWORD)
    client.small_a_value = number(SMALL_A)
    client.large_a_value = client.calculate_a()
    assert f"{client.large_a_value:x}" == LARGE_A
    assert pycognito_srp.calculate_u(number(LARGE_A), number(LARGE_B)) == number(SCRAMBLER_U)
    assert client.get_password_authentication_key(USER, PASSWORD, number(LARGE_B), SALT).hex() == SESSION_KEY

    def java_bytes(value: int) -> bytes:  # BigInteger.toByteArray() of a non-negative value
        return value.to_bytes(value.bit_length() // 8 + 1, "big")

    hkdf = HKDF(algorithm=hashes.SHA256(), length=16, salt=java_bytes(number(SCRAMBLER_U)), info=b"Caldera Derived Key")
    assert hkdf.derive(java_bytes(number(PREMASTER_S))).hex() == SESSION_KEY
    message = b"AbCdEfGhI" + USER.encode() + base64.b64decode(SECRET_BLOCK) + TIMESTAMP.encode()
    key = bytes.fromhex(SESSION_KEY)
    assert base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode() == SIGNATURE


# ------------------------------------------------------------------- against pycognito, both ways


class _NoCognito:
    """AWSSRP's boto3 client slot: only the SRP math is used here, never the service."""


def pycognito_client(password: str, user: str = USER) -> pycognito_srp.AWSSRP:
    return pycognito_srp.AWSSRP(username=user, password=password, pool_id=POOL, client_id="local", client=_NoCognito())


class PycognitoServer:
    """A server half rebuilt from pycognito's primitives (its group, k, padding, u and HKDF), not the project's."""

    def __init__(self, user: str, password: str, big_a_hex: str) -> None:
        reference = pycognito_client(password, user)
        self.n, self.g, self.k = reference.big_n, reference.val_g, reference.val_k
        self.user = user
        self.big_a = pycognito_srp.hex_to_long(big_a_hex)
        self.salt = pycognito_srp.pad_hex(pycognito_srp.get_random(16))
        inner = pycognito_srp.hash_sha256(f"{POOL.split('_')[1]}{user}:{password}".encode())
        x = pycognito_srp.hex_to_long(pycognito_srp.hex_hash(pycognito_srp.pad_hex(self.salt) + inner))
        self.v = pow(self.g, x, self.n)
        self.b = pycognito_srp.get_random(128) % self.n
        self.big_b = (self.k * self.v + pow(self.g, self.b, self.n)) % self.n
        self.secret_block = base64.b64encode(pycognito_srp.get_random(64).to_bytes(64, "big")).decode()

    def challenge(self) -> dict[str, str]:
        return {
            "SALT": self.salt,
            "SRP_B": pycognito_srp.long_to_hex(self.big_b),
            "SECRET_BLOCK": self.secret_block,
            "USER_ID_FOR_SRP": self.user,
            "USERNAME": self.user,
        }

    def verify(self, responses: dict[str, str]) -> bool:
        u = pycognito_srp.calculate_u(self.big_a, self.big_b)
        premaster = pow(self.big_a * pow(self.v, u, self.n), self.b, self.n)
        key = pycognito_srp.compute_hkdf(
            bytearray.fromhex(pycognito_srp.pad_hex(premaster)), bytearray.fromhex(pycognito_srp.pad_hex(u))
        )
        message = (
            POOL.split("_")[1].encode()
            + self.user.encode()
            + base64.b64decode(self.secret_block)
            + responses["TIMESTAMP"].encode()
        )
        expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
        return responses["PASSWORD_CLAIM_SECRET_BLOCK"] == self.secret_block and hmac.compare_digest(
            expected, responses["PASSWORD_CLAIM_SIGNATURE"]
        )


@settings(max_examples=10, deadline=None)
@given(password=PASSWORDS)
def test_pycognitos_client_signs_in_against_the_local_issuers_server_half(password: str) -> None:
    client = pycognito_client(password)
    server = srp_server.ServerSession(POOL, USER, password, client.get_auth_params()["SRP_A"])
    responses = client.process_challenge({**server.challenge(), "USER_ID_FOR_SRP": USER}, {"USERNAME": USER})
    assert server.verify(responses)


def test_pycognitos_client_with_another_password_is_refused_by_the_server_half() -> None:
    client = pycognito_client("Correct-horse-2")
    server = srp_server.ServerSession(POOL, USER, "Correct-horse-1", client.get_auth_params()["SRP_A"])
    assert not server.verify(
        client.process_challenge({**server.challenge(), "USER_ID_FOR_SRP": USER}, {"USERNAME": USER})
    )


@settings(max_examples=10, deadline=None)
@given(password=PASSWORDS)
def test_the_cli_client_signs_in_against_a_server_half_built_from_pycognito(password: str) -> None:
    client = srp.ClientSession(POOL)
    server = PycognitoServer(USER, password, client.srp_a)
    assert server.verify(client.respond(server.challenge(), password))


def test_the_cli_client_with_another_password_is_refused_by_the_pycognito_server_half() -> None:
    client = srp.ClientSession(POOL)
    server = PycognitoServer(USER, "Correct-horse-1", client.srp_a)
    assert not server.verify(client.respond(server.challenge(), "Correct-horse-2"))


# ------------------------------------------------------------------ the project's two halves


def exchange(password_client: str, password_server: str, user: str = "user-1") -> bool:
    client = srp.ClientSession(POOL)
    server = srp_server.ServerSession(POOL, user, password_server, client.srp_a)
    challenge = {**server.challenge(), "USER_ID_FOR_SRP": user}
    return server.verify(client.respond(challenge, password_client))


@settings(max_examples=10, deadline=None)
@given(password=PASSWORDS)
def test_the_same_password_on_both_sides_verifies(password: str) -> None:
    assert exchange(password, password)


def test_a_different_password_does_not_verify() -> None:
    assert not exchange("Correct-horse-1", "Correct-horse-2")


def test_the_proof_is_bound_to_the_user_and_the_secret_block() -> None:
    client = srp.ClientSession(POOL)
    server = srp_server.ServerSession(POOL, "user-1", "pw", client.srp_a)
    challenge = {**server.challenge(), "USER_ID_FOR_SRP": "user-1"}
    responses = client.respond(challenge, "pw")
    tampered = dict(responses, PASSWORD_CLAIM_SECRET_BLOCK=base64.b64encode(b"other").decode())
    assert not server.verify(tampered)
    assert not server.verify(dict(responses, TIMESTAMP="Mon Jan 1 00:00:00 UTC 2024"))
    assert not server.verify(dict(responses, PASSWORD_CLAIM_SIGNATURE="not ascii: \u00e9"))
    assert not server.verify({key: value for key, value in responses.items() if key != "PASSWORD_CLAIM_SIGNATURE"})
    assert server.verify(responses)


def test_the_client_response_has_the_fields_cognito_expects() -> None:
    client = srp.ClientSession(POOL)
    server = srp_server.ServerSession(POOL, "user-1", "pw", client.srp_a)
    responses = client.respond({**server.challenge(), "USER_ID_FOR_SRP": "user-1"}, "pw")
    assert set(responses) == {"USERNAME", "TIMESTAMP", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE"}
    assert responses["USERNAME"] == "user-1"
    assert len(base64.b64decode(responses["PASSWORD_CLAIM_SIGNATURE"])) == 32


def test_the_timestamp_has_an_unpadded_day_as_cognito_requires() -> None:
    assert srp.timestamp(datetime(2026, 3, 3, 9, 5, 1, tzinfo=UTC)) == "Tue Mar 3 09:05:01 UTC 2026"
    assert srp.timestamp(datetime(2026, 3, 13, 19, 5, 1, tzinfo=UTC)) == "Fri Mar 13 19:05:01 UTC 2026"


# BigInteger.valueOf(i).toByteArray() printed as hex, as published with amazon-cognito-identity-js's
# padHex tests (generated there in Java): the form Cognito hashes numbers in.
JAVA_TO_BYTE_ARRAY = {
    0: "00",
    1: "01",
    15: "0f",
    16: "10",
    127: "7f",
    128: "0080",
    143: "008f",
    255: "00ff",
    256: "0100",
}


def test_hex_padding_follows_javas_biginteger_form() -> None:
    for value, java_hex in JAVA_TO_BYTE_ARRAY.items():
        assert srp.pad_hex(value) == java_hex, value
        assert srp_server.java_bytes(value).hex() == java_hex, value
    assert srp.pad_hex(0xABC) == "0abc"
    assert srp.pad_hex("f1") == "00f1"


@given(value=st.integers(min_value=0, max_value=2**3100))
def test_the_client_pads_every_number_as_the_server_and_pycognito_do(value: int) -> None:
    assert srp.pad_hex(value) == srp_server.java_bytes(value).hex() == pycognito_srp.pad_hex(value)


def test_a_zero_public_value_is_refused() -> None:
    with pytest.raises(srp_server.SrpError):
        srp_server.ServerSession(POOL, "user-1", "pw", f"{srp_server.GROUP_PRIME:x}")
    client = srp.ClientSession(POOL)
    with pytest.raises(srp.SrpError):
        client.respond({"USER_ID_FOR_SRP": "u", "SRP_B": "0", "SALT": "ab", "SECRET_BLOCK": "AA=="}, "pw")
