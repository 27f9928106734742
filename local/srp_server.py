"""The server half of Cognito's SRP-6a (USER_SRP_AUTH), as the local issuer runs it: the challenge and the proof check.

Written from the protocol, not from `client/srp.py`, so the two halves only agree when both follow
it: SRP-6a (RFC 5054, section 2.5) over its 3072-bit group with g = 2 and SHA-256, numbers hashed
in Java's `BigInteger.toByteArray()` form (big-endian, one leading zero byte when the top bit is
set: what Cognito's SDKs hash), k = H(N | g), x = H(salt | H(poolName | userId | ":" | password)),
u = H(A | B), the session key from RFC 5869 HKDF-SHA256 (salt u, info "Caldera Derived Key", 16
bytes) and the proof an HMAC-SHA256 over poolName | userId | secret block | timestamp. The
challenge parameters and responses are the ones RespondToAuthChallenge documents for
PASSWORD_VERIFIER (Amazon Cognito API Reference, RespondToAuthChallenge, ChallengeResponses:
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RespondToAuthChallenge.html).
tests/test_local_srp.py checks both halves against fixed known answers and against pycognito.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# RFC 5054, appendix A: the 3072-bit group.
GROUP_PRIME = int(
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD"
    "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED"
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F"
    "83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B"
    "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510"
    "15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7"
    "ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C"
    "BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF".replace(
        " ", ""
    ),
    16,
)
GENERATOR = 2
KEY_INFO = b"Caldera Derived Key"
KEY_LENGTH = 16
SALT_BYTES = 16
SECRET_BLOCK_BYTES = 64
PRIVATE_BITS = 1024


class SrpError(ValueError):
    """The client's public value A is not usable (A mod N is zero)."""


def java_bytes(value: int) -> bytes:
    """`BigInteger.valueOf(value).toByteArray()` for value >= 0: the sign bit needs a leading zero byte."""
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def _hash(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _hash_number(*parts: bytes) -> int:
    return int.from_bytes(_hash(*parts), "big")


MULTIPLIER = _hash_number(java_bytes(GROUP_PRIME), java_bytes(GENERATOR))


def password_verifier(pool_name: str, user_id: str, password: str, salt: bytes) -> int:
    """v = g^x, x = H(salt | H(poolName | userId | ":" | password))."""
    x = _hash_number(salt, _hash(f"{pool_name}{user_id}:{password}".encode()))
    return pow(GENERATOR, x, GROUP_PRIME)


def session_key(premaster: int, scrambler: int) -> bytes:
    """HKDF-SHA256 of S with u as its salt: RFC 5869 with L = 16, i.e. HMAC(HMAC(u, S), info | 0x01)[:16]."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_LENGTH, salt=java_bytes(scrambler), info=KEY_INFO)
    return hkdf.derive(java_bytes(premaster))


def password_claim(key: bytes, pool_name: str, user_id: str, secret_block: bytes, timestamp: str) -> str:
    message = pool_name.encode() + user_id.encode() + secret_block + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


class ServerSession:
    """One sign-in of one user: `challenge()` parameters for PASSWORD_VERIFIER, then `verify` the claim."""

    def __init__(self, user_pool_id: str, user_id: str, password: str, big_a_hex: str) -> None:
        self.pool_name = user_pool_id.split("_", 1)[1]
        self.user_id = user_id
        self.big_a = int(big_a_hex, 16)
        if self.big_a % GROUP_PRIME == 0:
            raise SrpError("A mod N is zero")
        # The salt is sent in the byte form it is hashed in, so that a client that reads it as a
        # number and one that pads the text it was given hash the same bytes.
        salt_number = secrets.randbits(8 * SALT_BYTES)
        self.salt = java_bytes(salt_number).hex()
        self._verifier = password_verifier(self.pool_name, user_id, password, java_bytes(salt_number))
        self._b = secrets.randbits(PRIVATE_BITS) % GROUP_PRIME
        self.big_b = (MULTIPLIER * self._verifier + pow(GENERATOR, self._b, GROUP_PRIME)) % GROUP_PRIME
        self.secret_block = base64.b64encode(secrets.token_bytes(SECRET_BLOCK_BYTES)).decode()

    def challenge(self) -> dict[str, str]:
        return {"SALT": self.salt, "SRP_B": f"{self.big_b:x}", "SECRET_BLOCK": self.secret_block}

    def key(self) -> bytes:
        """K: u = H(A | B), S = (A * v^u)^b mod N."""
        scrambler = _hash_number(java_bytes(self.big_a), java_bytes(self.big_b))
        if scrambler == 0:
            raise SrpError("u is zero")
        premaster = pow(self.big_a * pow(self._verifier, scrambler, GROUP_PRIME), self._b, GROUP_PRIME)
        return session_key(premaster, scrambler)

    def verify(self, responses: dict[str, str]) -> bool:
        """Whether PASSWORD_CLAIM_SIGNATURE proves the password for this challenge's secret block and TIMESTAMP."""
        if responses.get("PASSWORD_CLAIM_SECRET_BLOCK") != self.secret_block:
            return False
        try:
            key = self.key()
        except SrpError:
            return False
        expected = password_claim(
            key, self.pool_name, self.user_id, base64.b64decode(self.secret_block), responses.get("TIMESTAMP", "")
        )
        given = responses.get("PASSWORD_CLAIM_SIGNATURE", "")
        return hmac.compare_digest(expected.encode(), given.encode() if isinstance(given, str) else b"")
