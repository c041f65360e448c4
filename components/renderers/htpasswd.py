"""htpasswd files for the nginx edge, hashed with SHA-512-crypt.

nginx checks the hash on EVERY request. bcrypt (cost 10, what pulumi-random offers) costs
~50 ms of CPU per request; SHA-512-crypt at its default 5,000 rounds ~2.7 ms, at the 1,000
rounds glibc allows at least ~0.6 ms (bench/dataplane.py). Every password is generated with
~190 bits of entropy (config: passwords are never configured), so key stretching buys nothing
against brute force of a stolen file; the per-user salt still defeats precomputed tables. A
password a person chose would need the stretching (5,000 rounds or more); the config allows none.
See README "Auth cost".
Verified against OpenSSL (`openssl passwd -6`) in the tests and against nginx in the data plane.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

ROUNDS = 1000  # the least glibc's crypt(3) takes: generated passwords need no stretching
_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# byte triplets of the final digest, in the order the specification encodes them
_ORDER = [
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
    (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
]  # fmt: skip


def sha512_crypt(password: str, salt: str, rounds: int = ROUNDS) -> str:
    """`$6$` crypt(3) hash (Drepper's SHA-crypt), as glibc and therefore nginx verify it."""
    if not 1000 <= rounds <= 999_999_999:
        raise ValueError(f"rounds must be between 1000 and 999999999, got {rounds}")
    if not salt or any(c not in _ALPHABET for c in salt):
        raise ValueError("salt must be 1-16 characters of [./0-9A-Za-z]")
    key, salt_bytes = password.encode(), salt[:16].encode()
    b = hashlib.sha512(key + salt_bytes + key).digest()
    a = hashlib.sha512(key + salt_bytes)
    a.update(_repeat(b, len(key)))
    n = len(key)
    while n:
        a.update(b if n & 1 else key)
        n >>= 1
    digest = a.digest()
    p_seq = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    s_seq = _repeat(hashlib.sha512(salt_bytes * (16 + digest[0])).digest(), len(salt_bytes))
    for i in range(rounds):
        h = hashlib.sha512(p_seq if i & 1 else digest)
        if i % 3:
            h.update(s_seq)
        if i % 7:
            h.update(p_seq)
        h.update(digest if i & 1 else p_seq)
        digest = h.digest()
    encoded = "".join(_b64(digest[x] << 16 | digest[y] << 8 | digest[z], 4) for x, y, z in _ORDER)
    encoded += _b64(digest[63], 2)
    spec = "" if rounds == 5000 else f"rounds={rounds}$"
    return f"$6${spec}{salt[:16]}${encoded}"


def render_htpasswd(hashes: Mapping[str, str]) -> str:
    """One `name:hash` line per user, sorted so the file is stable across runs."""
    for name in hashes:
        if ":" in name or "\n" in name or not name:
            raise ValueError(f"user name {name!r} cannot appear in an htpasswd file")
    return "".join(f"{name}:{hashes[name]}\n" for name in sorted(hashes))


def _repeat(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def _b64(value: int, chars: int) -> str:
    out = []
    for _ in range(chars):
        out.append(_ALPHABET[value & 0x3F])
        value >>= 6
    return "".join(out)
