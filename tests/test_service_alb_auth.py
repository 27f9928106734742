"""The ALB user-claims verifier (service/alb_auth.py): only tokens that *this* ALB signed for this
app's client and issuer, unexpired and untampered, pass; everything else is an `AlbAuthError`.

Tokens are signed here with a generated P-256 key in the ALB's exact format (ES256, signer,
client, iss and exp in the header, padded base64url), and the public key is served on loopback
the way the regional key endpoint serves it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from service.alb_auth import (
    DEFAULT_FETCH_TIMEOUT_SECONDS,
    AlbAuthError,
    AlbPublicKeys,
    AlbTokenVerifier,
    key_endpoint,
    region_of,
)
from service.devtools import TEST_ALB_ARN, AlbTokenSigner, KeyServer, padded_b64url

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1"
CLIENT_ID = "alb-client-id-1234567890"
# Another ALB in the same region and account: same key endpoint, its own valid signatures.
OTHER_ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/someone-else/fedcba9876543210"
CLAIMS = {"sub": "5f1c0f3e-0000-4000-8000-000000000001", "email": "ada@example.com", "email_verified": "true"}


@pytest.fixture(scope="module")
def signer() -> AlbTokenSigner:
    return AlbTokenSigner(alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID)


@pytest.fixture
def key_server(signer):
    server = KeyServer()
    server.add(signer)
    yield server
    server.stop()


@pytest.fixture
def verifier(key_server) -> AlbTokenVerifier:
    return AlbTokenVerifier(
        alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID, region="eu-west-1", key_url_base=key_server.base_url
    )


def rejected(verifier: AlbTokenVerifier, token) -> str:
    with pytest.raises(AlbAuthError) as caught:
        verifier.verify(token)
    return str(caught.value)


def forge(header: dict, payload: dict, signature: bytes = b"\x00" * 64) -> str:
    signing_input = padded_b64url(json.dumps(header).encode()) + "." + padded_b64url(json.dumps(payload).encode())
    return signing_input + "." + padded_b64url(signature)


# --------------------------------------------------------------------------- valid tokens


def test_token_in_the_albs_exact_format_is_accepted(signer, verifier):
    token = signer.sign(CLAIMS)
    header_segment, payload_segment, signature_segment = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_segment))
    assert set(header) == {"typ", "kid", "alg", "iss", "client", "signer", "exp"}
    assert isinstance(header["exp"], int)
    # The ALB keeps base64 padding, and the signature covers the padded text.
    assert "=" in token
    assert any(segment.endswith("=") for segment in (header_segment, payload_segment, signature_segment))

    claims = verifier.verify(token)

    assert claims["sub"] == CLAIMS["sub"]
    assert claims["email"] == "ada@example.com"
    assert claims["email_verified"] == "true"


def test_padding_the_alb_uses_is_accepted_whatever_the_segment_lengths(signer, verifier):
    for filler in ("", "x", "xx", "xxx"):
        token = signer.sign({**CLAIMS, "name": filler})
        assert verifier.verify(token)["name"] == filler


def test_header_exp_given_as_digits_is_refused(signer, verifier):
    # A numeric date is a JSON number (RFC 7519); the ALB sends one (docs/security.md, dates).
    token = signer.sign(CLAIMS, header={"exp": str(int(time.time()) + 60)})
    assert "header exp: not a JSON number" in rejected(verifier, token)


def test_key_is_fetched_once_and_then_served_from_the_cache(signer, verifier, key_server):
    for _ in range(3):
        verifier.verify(signer.sign(CLAIMS))
    assert key_server.requests == [f"/{signer.kid}"]


def test_a_token_that_expires_while_its_key_is_fetched_is_refused(signer, key_server):
    now = [time.time()]

    class SlowKeys(AlbPublicKeys):
        def get(self, kid: str) -> ec.EllipticCurvePublicKey:
            key = super().get(kid)
            now[0] += 300  # the header's exp (120 s ahead) passes during the fetch
            return key

    verifier = AlbTokenVerifier(
        alb_arn=TEST_ALB_ARN,
        issuer=ISSUER,
        client_id=CLIENT_ID,
        keys=SlowKeys(key_server.base_url),
        clock=lambda: now[0],
    )
    assert rejected(verifier, signer.sign(CLAIMS)) == "expired"


def test_the_header_of_a_verified_token_is_read_once_then_reused(signer, verifier):
    token = signer.sign(CLAIMS)
    verifier.verify(token)
    assert len(verifier.headers) == 1
    cached = verifier.headers.get(token.split(".")[0])
    assert cached is not None and cached["signer"] == TEST_ALB_ARN
    assert verifier.verify(token)["sub"] == CLAIMS["sub"]
    # A forged token with the same header segment is refused, and adds nothing.
    header_segment, _, signature_segment = token.split(".")
    forged = f"{header_segment}.{padded_b64url(json.dumps({**CLAIMS, 'sub': 'admin'}).encode())}.{signature_segment}"
    assert "InvalidSignatureError" in rejected(verifier, forged)
    assert len(verifier.headers) == 1


# --------------------------------------------------------------------------- who signed it, for whom


def test_token_signed_by_another_alb_in_the_same_region_is_rejected(key_server, verifier):
    other = AlbTokenSigner(alb_arn=OTHER_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID)
    key_server.add(other)  # its key is genuinely published by the regional endpoint
    token = other.sign(CLAIMS)

    assert "another load balancer" in rejected(verifier, token)
    assert key_server.requests == [], "a token for another ALB must not cost a key fetch"


def test_token_claiming_this_alb_but_signed_with_another_albs_key_is_rejected(signer, key_server, verifier):
    other = AlbTokenSigner(alb_arn=OTHER_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID, kid=signer.kid)
    token = other.sign(CLAIMS, header={"signer": TEST_ALB_ARN})
    assert "InvalidSignatureError" in rejected(verifier, token)


def test_token_from_another_issuer_is_rejected(key_server, verifier):
    other = AlbTokenSigner(alb_arn=TEST_ALB_ARN, issuer="https://evil.example.com", client_id=CLIENT_ID)
    key_server.add(other)
    assert "issuer" in rejected(verifier, other.sign(CLAIMS))


def test_token_whose_payload_names_another_issuer_is_rejected(signer, verifier):
    token = signer.sign({**CLAIMS, "iss": "https://evil.example.com"})
    assert "issuer" in rejected(verifier, token)


def test_token_for_another_client_is_rejected(key_server, verifier):
    other = AlbTokenSigner(alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id="some-other-client")
    key_server.add(other)
    assert "another client" in rejected(verifier, other.sign(CLAIMS))


# --------------------------------------------------------------------------- expiry


def test_expired_token_is_rejected(signer, verifier):
    assert "expired" in rejected(verifier, signer.sign(CLAIMS, lifetime=-1))


def test_token_whose_header_exp_has_passed_is_rejected_even_if_the_payload_exp_has_not(signer, verifier):
    token = signer.sign(CLAIMS, header={"exp": int(time.time()) - 5})
    assert "expired" in rejected(verifier, token)


def test_token_whose_payload_exp_has_passed_is_rejected(signer, verifier):
    token = signer.sign({**CLAIMS, "exp": int(time.time()) - 5})
    assert "payload: exp: expired" in rejected(verifier, token)


@pytest.mark.parametrize("exp", [None, "soon", True, "1e12", "-5", float("nan")])
def test_token_without_a_numeric_header_exp_is_rejected(signer, verifier, exp):
    token = signer.sign(CLAIMS, header={"exp": exp})  # None removes it
    assert "exp" in rejected(verifier, token)


# --------------------------------------------------------------------------- tampering and algorithms


def test_tampered_payload_is_rejected(signer, verifier):
    header, _, signature = signer.sign(CLAIMS).split(".")
    forged_payload = padded_b64url(json.dumps({**CLAIMS, "email": "admin@example.com", "iss": ISSUER}).encode())
    assert "InvalidSignatureError" in rejected(verifier, f"{header}.{forged_payload}.{signature}")


def test_tampered_signature_is_rejected(signer, verifier):
    header, payload, signature = signer.sign(CLAIMS).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature))
    raw[5] ^= 0x01
    assert "InvalidSignatureError" in rejected(verifier, f"{header}.{payload}.{padded_b64url(bytes(raw))}")


def test_token_with_padding_stripped_no_longer_matches_its_signature(signer, verifier):
    token = signer.sign({**CLAIMS, "name": "x"})
    header, payload, signature = token.split(".")
    if not (header.endswith("=") or payload.endswith("=")):
        token = signer.sign({**CLAIMS, "name": "xx"})
        header, payload, signature = token.split(".")
    assert header.endswith("=") or payload.endswith("=")
    stripped = f"{header.rstrip('=')}.{payload.rstrip('=')}.{signature}"
    assert "InvalidSignatureError" in rejected(verifier, stripped)


def test_hmac_token_keyed_with_the_public_key_is_rejected(signer, verifier):
    """Algorithm confusion: HS256 'signed' with the published PEM as the secret."""
    header = {**signer.header(), "alg": "HS256"}
    payload = {**CLAIMS, "iss": ISSUER, "exp": header["exp"]}
    signing_input = padded_b64url(json.dumps(header).encode()) + "." + padded_b64url(json.dumps(payload).encode())
    mac = hmac.new(signer.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    assert "algorithm" in rejected(verifier, signing_input + "." + padded_b64url(mac))


@pytest.mark.parametrize("alg", ["none", "None", "ES384", "RS256", "PS256", "EdDSA", "es256", ""])
def test_any_algorithm_other_than_es256_is_rejected(signer, verifier, alg):
    header = {**signer.header(), "alg": alg}
    assert "algorithm" in rejected(verifier, forge(header, {**CLAIMS, "iss": ISSUER, "exp": header["exp"]}, b""))


def test_token_without_alg_is_rejected(signer, verifier):
    header = signer.header()
    del header["alg"]
    assert "algorithm" in rejected(verifier, forge(header, CLAIMS))


# --------------------------------------------------------------------------- kid and the key URL


@pytest.mark.parametrize(
    "kid",
    [
        "../../../etc/passwd",
        "a/b",
        "00000000-0000-4000-8000-000000000000/../other",
        "00000000-0000-4000-8000-000000000000?x=1",
        "00000000-0000-4000-8000-000000000000#frag",
        "%2e%2e%2f%2e%2e",
        "..",
        "",
        "00000000-0000-4000-8000-00000000000",  # one digit short
        "@evil.example.com/00000000-0000-4000-8000-000000000000",
        "00000000-0000-4000-8000-000000000000\n",
    ],
)
def test_kid_with_path_or_url_characters_is_rejected_before_any_fetch(signer, verifier, key_server, kid):
    token = signer.sign(CLAIMS, header={"kid": kid})
    assert "kid" in rejected(verifier, token)
    assert key_server.requests == []


@pytest.mark.parametrize("kid", [None, 123, ["00000000-0000-4000-8000-000000000000"]])
def test_kid_that_is_not_a_string_is_rejected_before_any_fetch(signer, verifier, key_server, kid):
    header = {**signer.header(), "kid": kid}
    reason = rejected(verifier, forge(header, CLAIMS))
    assert "kid" in reason or reason == "unreadable header"  # PyJWT itself refuses a non-string kid
    assert key_server.requests == []


def test_unknown_kid_is_looked_up_and_rejected(signer, verifier, key_server):
    token = signer.sign(CLAIMS, header={"kid": "11111111-2222-4333-8444-555555555555"})
    assert "key endpoint" in rejected(verifier, token)
    assert key_server.requests == ["/11111111-2222-4333-8444-555555555555"]


def test_key_urls_are_the_regional_endpoint_and_the_govcloud_bucket():
    assert key_endpoint("eu-west-1") == "https://public-keys.auth.elb.eu-west-1.amazonaws.com"
    assert (
        key_endpoint("us-gov-west-1") == "https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1"
    )
    kid = "00000000-0000-4000-8000-000000000000"
    keys = AlbTokenVerifier(alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID).keys
    assert keys.url_for(kid) == f"https://public-keys.auth.elb.eu-west-1.amazonaws.com/{kid}"
    gov_arn = "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:111111111111:loadbalancer/app/web/0123456789abcdef"
    gov = AlbTokenVerifier(alb_arn=gov_arn, issuer=ISSUER, client_id=CLIENT_ID).keys
    assert gov.url_for(kid) == f"https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1/{kid}"


# --------------------------------------------------------------------------- missing or malformed


@pytest.mark.parametrize(
    "token",
    [None, "", "abc", "a.b", "a.b.c.d", "...", "e30=.e30=.", "!!!.???.***", "x" * 20_000, b"bytes.are.not"],
)
def test_missing_or_malformed_token_is_rejected(verifier, token):
    rejected(verifier, token)


def test_header_that_is_not_json_is_rejected(verifier):
    token = padded_b64url(b"not json") + "." + padded_b64url(b"{}") + "." + padded_b64url(b"sig")
    assert "header" in rejected(verifier, token)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"\A[A-Za-z0-9_=-]{0,40}\.[A-Za-z0-9_=-]{0,40}\.[A-Za-z0-9_=-]{0,40}\Z"))
def test_arbitrary_input_only_ever_raises_the_generic_error(token):
    verifier = AlbTokenVerifier(
        alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID, key_url_base="http://127.0.0.1:9"
    )
    with pytest.raises(AlbAuthError):
        verifier.verify(token)


# --------------------------------------------------------------------------- the key endpoint


def test_cached_key_keeps_working_while_the_key_endpoint_is_down(signer, verifier, key_server):
    verifier.verify(signer.sign(CLAIMS))
    key_server.stop()
    assert verifier.verify(signer.sign(CLAIMS))["sub"] == CLAIMS["sub"]


def test_uncached_key_with_the_endpoint_down_is_a_rejection_not_a_crash(signer, key_server):
    verifier = AlbTokenVerifier(
        alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID, key_url_base=key_server.base_url
    )
    key_server.stop()
    assert "key endpoint unavailable" in rejected(verifier, signer.sign(CLAIMS))


def test_uncached_key_with_a_hanging_endpoint_is_rejected_within_the_fetch_timeout(signer):
    server = KeyServer()
    server.add(signer)
    server.mode = "hang"
    try:
        verifier = AlbTokenVerifier(
            alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID, key_url_base=server.base_url, fetch_timeout=0.3
        )
        started = time.monotonic()
        assert "key endpoint unavailable" in rejected(verifier, signer.sign(CLAIMS))
        assert time.monotonic() - started < 1.0
    finally:
        server.stop()


def test_key_fetch_timeout_defaults_to_one_and_a_half_seconds():
    verifier = AlbTokenVerifier(alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID)
    assert verifier.keys.timeout == DEFAULT_FETCH_TIMEOUT_SECONDS == 1.5


def test_key_endpoint_error_is_rejected_and_not_retried_within_the_backoff(signer, verifier, key_server):
    key_server.mode = "error"
    assert "key endpoint" in rejected(verifier, signer.sign(CLAIMS))
    key_server.mode = "up"
    assert "recently" in rejected(verifier, signer.sign(CLAIMS))
    assert key_server.requests == [f"/{signer.kid}"]


def test_failed_kid_is_fetched_again_after_the_backoff(signer, key_server):
    now = [1000.0]
    keys = AlbPublicKeys(key_server.base_url, backoff=10, clock=lambda: now[0])
    verifier = AlbTokenVerifier(alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID, keys=keys)
    key_server.mode = "error"
    rejected(verifier, signer.sign(CLAIMS))
    key_server.mode = "up"
    now[0] += 11
    assert verifier.verify(signer.sign(CLAIMS))["sub"] == CLAIMS["sub"]


def test_redirect_from_the_key_endpoint_is_not_followed(signer, verifier, key_server):
    key_server.mode = "redirect"
    assert "unavailable" in rejected(verifier, signer.sign(CLAIMS))
    assert key_server.requests == [f"/{signer.kid}"]


@pytest.mark.parametrize(
    "pem",
    [
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
        b"x" * 10_000,
    ],
    ids=["p384", "rsa", "garbage", "oversized"],
)
def test_key_that_is_not_a_p256_public_key_is_rejected(signer, verifier, key_server, pem):
    key_server.keys[signer.kid] = pem
    assert "key" in rejected(verifier, signer.sign(CLAIMS))


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("missing", ["alb_arn", "issuer", "client_id"])
def test_verifier_refuses_to_run_with_a_check_left_unset(missing):
    values = {"alb_arn": TEST_ALB_ARN, "issuer": ISSUER, "client_id": CLIENT_ID, missing: ""}
    with pytest.raises(ValueError, match=missing):
        AlbTokenVerifier(**values)


def test_verifier_refuses_a_region_other_than_the_albs():
    with pytest.raises(ValueError, match="region"):
        AlbTokenVerifier(alb_arn=TEST_ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID, region="us-east-1")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/net/nlb/0123456789abcdef",
        "arn:aws:elasticloadbalancing:eu-west-1:111111111111:targetgroup/web/0123456789abcdef",
        "not-an-arn",
    ],
)
def test_only_application_load_balancer_arns_are_accepted(arn):
    with pytest.raises(ValueError, match="Application Load Balancer"):
        region_of(arn)
