"""NovelAI's access key: what `/user/login` expects instead of the password.

The key is argon2id over the password, salted with a BLAKE2b digest of part of the password,
the email and a fixed domain string, exactly as NovelAI's web client derives it (t=2,
m=int(2000000/1024) KiB, p=1, 64 bytes, urlsafe base64 cut to 64 characters). NovelAI's site
lowercases the email before deriving, so we do too: "User@Example.com" and "user@example.com"
log in to the same account.

"The first six characters of the password" are JavaScript's: `password.slice(0, 6)` counts
UTF-16 code units, so an emoji (or any character beyond U+FFFF) counts as two, and one cut in
half becomes U+FFFD when the salt input is UTF-8 encoded. Python's `password[:6]` counts code
points and would derive a different key for such passwords than the site that set them.
"""

from __future__ import annotations

import base64
import hashlib

from argon2.low_level import Type, hash_secret_raw

ACCESS_KEY_DOMAIN = "novelai_data_access_key"
ARGON_TIME_COST = 2
ARGON_MEMORY_COST_KIB = int(2_000_000 / 1024)  # 1953
ARGON_PARALLELISM = 1
ACCESS_KEY_LENGTH = 64


def js_prefix(text: str, units: int) -> str:
    """`text.slice(0, units)` as JavaScript computes it, then as its UTF-8 encoder sees it: a
    surrogate pair cut in half leaves a lone surrogate, which encodes as U+FFFD."""
    taken: list[str] = []
    used = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > units:
            if used < units:
                taken.append("\ufffd")
            break
        taken.append(char)
        used += width
    return "".join(taken)


def _argon_hash(email: str, password: str, size: int, domain: str) -> str:
    pre_salt = js_prefix(password, 6) + email + domain
    salt = hashlib.blake2b(pre_salt.encode("utf-8"), digest_size=16).digest()
    raw = hash_secret_raw(
        secret=password.encode("utf-8"),
        salt=salt,
        time_cost=ARGON_TIME_COST,
        memory_cost=ARGON_MEMORY_COST_KIB,
        parallelism=ARGON_PARALLELISM,
        hash_len=size,
        type=Type.ID,
    )
    return base64.urlsafe_b64encode(raw).decode("ascii")[:size]


def derive_access_key(email: str, password: str) -> str:
    """The 64-character access key for `/user/login` (`{"key": ...}`)."""
    if not email.strip():
        raise ValueError("email: must not be empty")
    if not password:
        raise ValueError("password: must not be empty")
    return _argon_hash(email.strip().lower(), password, ACCESS_KEY_LENGTH, ACCESS_KEY_DOMAIN)
