"""Password hashing for console accounts: scrypt from the standard library.

Why scrypt through `hashlib`: it is OpenSSL's well-kept primitive, memory-hard (so GPUs
gain little), and needs no new dependency next to Rasa's pinned tree. The stored string
names its own parameters, `scrypt$16384$8$1$<b64 salt>$<b64 hash>`, so they can be raised
later without breaking existing accounts (`needs_rehash` tells when to re-hash on login).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
# scrypt needs 128 * N * r bytes; OpenSSL refuses beyond maxmem, so give it room
_MAXMEM = 64 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=length)


def hash_password(password: str) -> str:
    """A fresh salt each time: the same password never gives the same string."""
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, N, R, P, HASH_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    # refuse absurd parameters rather than let a tampered row burn memory or CPU
    if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16 and salt and digest):
        return None
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison; a malformed stored string simply does not match."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)


def needs_rehash(stored: str) -> bool:
    parsed = _parse(stored)
    return parsed is None or parsed[:3] != (N, R, P)


# Verified against when the login does not exist, so an unknown login costs the same time
# as a wrong password and response times do not reveal which accounts exist.
DUMMY_HASH = f"{SCHEME}${N}${R}${P}${_b64(b'patentdesk-dummy')}${_b64(bytes(HASH_BYTES))}"
