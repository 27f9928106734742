"""SRP-6a as Cognito's USER_SRP_AUTH flow uses it: the password never leaves the client.

Cognito's variant: the 3072-bit group of RFC 5054 with g = 2, SHA-256, k = H(N | g), the
password hashed as H(poolName + userIdForSrp + ":" + password), the session key derived with
HKDF ("Caldera Derived Key", 16 bytes), and the proof an HMAC over
poolName + userIdForSrp + secretBlock + timestamp. This is the client side, what `client login`
runs; the local issuer's server side is written separately (local/srp_server.py), and
tests/test_local_srp.py checks both against fixed known answers and against pycognito.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
G_HEX = "2"
N = int(N_HEX, 16)
G = int(G_HEX, 16)
INFO = b"Caldera Derived Key\x01"


class SrpError(ValueError):
    """The exchange cannot go on (a zero A, B or u): the other side misbehaves."""


def hash_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest().rjust(64, "0")


def hex_hash(hex_string: str) -> str:
    return hash_sha256(bytes.fromhex(hex_string))


def pad_hex(value: int | str) -> str:
    """Hex with an even length and a leading zero byte when the top bit is set (Java's BigInteger form)."""
    text = f"{value:x}" if isinstance(value, int) else value
    if len(text) % 2 == 1:
        return "0" + text
    if text[0] in "89abcdefABCDEF":
        return "00" + text
    return text


K = int(hex_hash("00" + N_HEX + "0" + G_HEX), 16)


def compute_u(big_a: int, big_b: int) -> int:
    return int(hex_hash(pad_hex(big_a) + pad_hex(big_b)), 16)


def pool_name(user_pool_id: str) -> str:
    return user_pool_id.split("_", 1)[1]


def password_exponent(user_pool_id: str, user_id: str, password: str, salt_hex: str) -> int:
    inner = hash_sha256(f"{pool_name(user_pool_id)}{user_id}:{password}".encode())
    return int(hex_hash(pad_hex(salt_hex) + inner), 16)


def derive_key(shared_secret: int, u: int) -> bytes:
    prk = hmac.new(bytes.fromhex(pad_hex(u)), bytes.fromhex(pad_hex(shared_secret)), hashlib.sha256).digest()
    return hmac.new(prk, INFO, hashlib.sha256).digest()[:16]


def timestamp(now: datetime | None = None) -> str:
    """`Tue Mar 3 09:05:01 UTC 2026`: day of month without padding, as Cognito expects."""
    now = now or datetime.now(UTC)
    return f"{now:%a %b} {now.day} {now:%H:%M:%S} UTC {now:%Y}"


def signature(key: bytes, user_pool_id: str, user_id: str, secret_block: str, stamp: str) -> str:
    message = pool_name(user_pool_id).encode() + user_id.encode() + base64.b64decode(secret_block) + stamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


class ClientSession:
    """The client half: `srp_a` for InitiateAuth, then `respond` to the PASSWORD_VERIFIER challenge."""

    def __init__(self, user_pool_id: str) -> None:
        self.user_pool_id = user_pool_id
        self._a = secrets.randbits(1024) % N
        self.big_a = pow(G, self._a, N)
        if self.big_a % N == 0:
            raise SrpError("A is zero")

    @property
    def srp_a(self) -> str:
        return f"{self.big_a:x}"

    def respond(self, challenge: dict[str, str], password: str, now: datetime | None = None) -> dict[str, str]:
        user_id = challenge["USER_ID_FOR_SRP"]
        big_b = int(challenge["SRP_B"], 16)
        if big_b % N == 0:
            raise SrpError("B is zero")
        u = compute_u(self.big_a, big_b)
        if u == 0:
            raise SrpError("u is zero")
        x = password_exponent(self.user_pool_id, user_id, password, challenge["SALT"])
        shared = pow((big_b - K * pow(G, x, N)) % N, self._a + u * x, N)
        key = derive_key(shared, u)
        stamp = timestamp(now)
        return {
            "USERNAME": user_id,
            "TIMESTAMP": stamp,
            "PASSWORD_CLAIM_SECRET_BLOCK": challenge["SECRET_BLOCK"],
            "PASSWORD_CLAIM_SIGNATURE": signature(key, self.user_pool_id, user_id, challenge["SECRET_BLOCK"], stamp),
        }
