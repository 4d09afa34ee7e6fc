"""The keystore: the per-object keys of an account, itself encrypted with the account key.

Wire shape (``GET /user/keystore``): ``{"keystore": base64(json({"version", "nonce": [bytes as
ints], "sdata": [bytes as ints]}))}``, or ``{"keystore": null}`` for a new account. ``sdata``
is the secretbox ciphertext *without* the nonce (stored apart), and decrypts to
``{"keys": {meta: [32 ints]}}``.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from nacl.utils import random as random_bytes
from pydantic import BaseModel, Field, ValidationError

from nai_script.account.crypto import (
    COMPRESSION_PREFIX,
    KEY_SIZE,
    NONCE_SIZE,
    DecryptionError,
    decrypt_blob,
    encrypt_blob,
)

KEYSTORE_VERSION = 2


class KeystoreError(ValueError):
    """The keystore is malformed, does not decrypt, or lacks a requested key."""


class EncryptedKeystore(BaseModel):
    """The base64-decoded envelope."""

    version: int
    nonce: list[int] = Field(min_length=NONCE_SIZE, max_length=NONCE_SIZE)
    sdata: list[int] | str = ""


class KeystoreContent(BaseModel):
    keys: dict[str, list[int]]


class Keystore:
    """Decrypted keys by ``meta``. Build with :meth:`open` or :meth:`new`; send with :meth:`seal`."""

    def __init__(
        self,
        keys: dict[str, bytes],
        *,
        nonce: bytes,
        version: int = KEYSTORE_VERSION,
        compressed: bool = False,
    ) -> None:
        self.keys = keys
        self.nonce = nonce
        self.version = version
        self.compressed = compressed

    @classmethod
    def new(cls) -> Keystore:
        return cls({}, nonce=random_bytes(NONCE_SIZE))

    @classmethod
    def open(cls, wire: dict[str, Any], key: bytes) -> Keystore:
        """Decrypt the body of ``GET /user/keystore``."""
        if "keystore" not in wire:
            raise KeystoreError("keystore: missing from the response")
        if wire["keystore"] is None:
            return cls.new()
        try:
            envelope = EncryptedKeystore.model_validate_json(base64.b64decode(wire["keystore"]))
        except (ValueError, ValidationError) as exc:
            raise KeystoreError(f"keystore: not a base64 JSON keystore envelope ({exc})") from None
        nonce = bytes(envelope.nonce)
        if not envelope.sdata:
            return cls({}, nonce=nonce, version=envelope.version)
        sdata = bytes(envelope.sdata) if isinstance(envelope.sdata, list) else b""
        try:
            opened = decrypt_blob(sdata, key, nonce=nonce)
        except DecryptionError as exc:
            raise KeystoreError(f"keystore: {exc} (is the email/password right?)") from None
        try:
            content = KeystoreContent.model_validate_json(opened.plaintext)
        except ValidationError as exc:
            raise KeystoreError(f"keystore: decrypted content is not a key table ({exc})") from None
        keys = {meta: bytes(value) for meta, value in content.keys.items()}
        return cls(keys, nonce=nonce, version=envelope.version, compressed=opened.compressed)

    def seal(self, key: bytes) -> dict[str, str]:
        """The body to send back: the keys encrypted with ``key`` under this keystore's nonce."""
        sdata: list[int] | str = ""
        if self.keys:
            content = {"keys": {meta: list(k) for meta, k in self.keys.items()}}
            text = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
            blob = encrypt_blob(text, key, nonce=self.nonce, compressed=self.compressed)
            prefix = COMPRESSION_PREFIX if self.compressed else b""
            sdata = list(prefix + blob[len(prefix) + NONCE_SIZE :])  # the nonce is stored apart
        envelope = {"version": self.version, "nonce": list(self.nonce), "sdata": sdata}
        raw = json.dumps(envelope, separators=(",", ":")).encode()
        return {"keystore": base64.b64encode(raw).decode("ascii")}

    def key_for(self, meta: str) -> bytes:
        try:
            return self.keys[meta]
        except KeyError:
            raise KeystoreError(f"meta {meta!r}: no key for it in the keystore") from None

    def create(self, meta: str | None = None) -> str:
        """Add a fresh random key (under a new uuid ``meta`` unless one is given)."""
        meta = meta or str(uuid.uuid4())
        while meta in self.keys:
            meta = str(uuid.uuid4())
        self.keys[meta] = random_bytes(KEY_SIZE)
        return meta

    def __contains__(self, meta: object) -> bool:
        return meta in self.keys

    def __len__(self) -> int:
        return len(self.keys)
