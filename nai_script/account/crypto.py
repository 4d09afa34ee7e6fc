"""The account's symmetric crypto: key derivation and xsalsa20-poly1305 blobs.

* The encryption key is argon2id over the password (salt = BLAKE2b-16 of
  ``password[:6] + email + "novelai_data_encryption_key"``, t=2, m=1953 KiB, p=1, 128 bytes),
  urlsafe-base64 with the ``=`` padding removed, then BLAKE2b-32 of that text - the same
  construction as the access key with a different domain, as the seed client does it. The email
  is lowercased first, as for the access key.
* A blob is ``nonce (24 bytes) + secretbox ciphertext``. A *compressed* blob starts with a
  16-byte prefix (15 zero bytes and 0x01) and its plaintext is raw deflate (zlib wbits=-15).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.utils import random as random_bytes

from nai_script.client.auth import js_prefix

ENCRYPTION_KEY_DOMAIN = "novelai_data_encryption_key"
COMPRESSION_PREFIX = b"\x00" * 15 + b"\x01"
NONCE_SIZE: int = SecretBox.NONCE_SIZE  # 24
KEY_SIZE: int = SecretBox.KEY_SIZE  # 32


class DecryptionError(ValueError):
    """A blob did not decrypt (wrong key, tampered or truncated data) or did not inflate."""


def derive_encryption_key(email: str, password: str) -> bytes:
    """The 32-byte key that opens the account's keystore."""
    if not email.strip():
        raise ValueError("email: must not be empty")
    if not password:
        raise ValueError("password: must not be empty")
    email = email.strip().lower()
    salt = hashlib.blake2b(
        (js_prefix(password, 6) + email + ENCRYPTION_KEY_DOMAIN).encode("utf-8"), digest_size=16
    ).digest()
    raw = hash_secret_raw(
        secret=password.encode("utf-8"),
        salt=salt,
        time_cost=2,
        memory_cost=int(2_000_000 / 1024),
        parallelism=1,
        hash_len=128,
        type=Type.ID,
    )
    pre_key = base64.urlsafe_b64encode(raw).decode("ascii").replace("=", "")
    return hashlib.blake2b(pre_key.encode("ascii"), digest_size=32).digest()


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def inflate_raw(data: bytes) -> bytes:
    return zlib.decompress(data, -zlib.MAX_WBITS)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise DecryptionError(f"key: expected {KEY_SIZE} bytes, got {len(key)}")


def encrypt_blob(
    plaintext: bytes, key: bytes, *, nonce: bytes | None = None, compressed: bool = False
) -> bytes:
    """``[prefix] + nonce + ciphertext``; a random nonce unless one is given."""
    _check_key(key)
    nonce = nonce if nonce is not None else random_bytes(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"nonce: expected {NONCE_SIZE} bytes, got {len(nonce)}")
    payload = deflate_raw(plaintext) if compressed else plaintext
    sealed = bytes(SecretBox(key).encrypt(payload, nonce))  # nonce + ciphertext
    return COMPRESSION_PREFIX + sealed if compressed else sealed


@dataclass(frozen=True)
class OpenedBlob:
    """A decrypted blob and what is needed to seal it again the same way."""

    plaintext: bytes
    nonce: bytes
    compressed: bool


def decrypt_blob(data: bytes, key: bytes, *, nonce: bytes | None = None) -> OpenedBlob:
    """Open a blob. ``nonce`` is given when it is stored apart (the keystore); otherwise the
    blob starts with it (after the compression prefix, if any)."""
    _check_key(key)
    compressed = data.startswith(COMPRESSION_PREFIX)
    body = data[len(COMPRESSION_PREFIX) :] if compressed else data
    if nonce is None:
        if len(body) < NONCE_SIZE + SecretBox.MACBYTES:
            raise DecryptionError(f"blob too short to be encrypted ({len(data)} bytes)")
        nonce, body = body[:NONCE_SIZE], body[NONCE_SIZE:]
    try:
        payload = SecretBox(key).decrypt(body, nonce)
    except CryptoError:
        raise DecryptionError(
            "decryption failed: wrong key, or the data was tampered with or truncated"
        ) from None
    if compressed:
        try:
            payload = inflate_raw(payload)
        except zlib.error as exc:
            raise DecryptionError(f"decrypted data does not inflate: {exc}") from None
    return OpenedBlob(plaintext=payload, nonce=nonce, compressed=compressed)
