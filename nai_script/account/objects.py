"""User objects (``GET /user/objects/{type}``): stories, story contents, shelves, presets...

Stories, story contents and shelves are encrypted with the keystore key named by the object's
``meta``; presets and AI modules are only (optionally) compressed base64 JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nai_script.account.crypto import (
    COMPRESSION_PREFIX,
    DecryptionError,
    decrypt_blob,
    deflate_raw,
    encrypt_blob,
    inflate_raw,
)
from nai_script.account.keystore import Keystore, KeystoreError

ENCRYPTED_TYPES = frozenset({"stories", "storycontent", "shelf"})
PLAIN_TYPES = frozenset({"presets", "aimodules"})
OBJECT_TYPES = ENCRYPTED_TYPES | PLAIN_TYPES


class UserObject(BaseModel):
    """One object as the server sends it (``data`` is base64)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    meta: str = ""
    data: str
    lastUpdatedAt: int | None = None
    changeIndex: int | None = None


class ObjectList(BaseModel):
    model_config = ConfigDict(extra="allow")

    objects: list[UserObject] = Field(default_factory=list)


class OpenedObject(BaseModel):
    """A decrypted (or decompressed) object: ``data`` is the parsed JSON."""

    id: str
    type: str
    meta: str
    data: Any
    compressed: bool
    encrypted: bool


class ObjectError(ValueError):
    """An object that will not open; the message names its type and id."""


def open_object(obj: UserObject, keystore: Keystore | None) -> OpenedObject:
    """Decrypt (for encrypted types) or decompress an object and parse its JSON."""
    where = f"{obj.type} {obj.id}"
    try:
        raw = base64.b64decode(obj.data, validate=True)
    except (binascii.Error, ValueError):
        raise ObjectError(f"{where}: data is not base64") from None
    encrypted = obj.type in ENCRYPTED_TYPES
    try:
        if encrypted:
            if keystore is None:
                raise ObjectError(f"{where}: encrypted, but no keystore was given")
            opened = decrypt_blob(raw, keystore.key_for(obj.meta))
            payload, compressed = opened.plaintext, opened.compressed
        else:
            compressed = raw.startswith(COMPRESSION_PREFIX)
            payload = inflate_raw(raw[len(COMPRESSION_PREFIX) :]) if compressed else raw
        data = json.loads(payload.decode("utf-8"))
    except (DecryptionError, KeystoreError) as exc:
        raise ObjectError(f"{where}: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise ObjectError(f"{where}: content is not JSON ({exc})") from None
    return OpenedObject(
        id=obj.id,
        type=obj.type,
        meta=obj.meta,
        data=data,
        compressed=compressed,
        encrypted=encrypted,
    )


def seal_object(
    object_id: str,
    object_type: str,
    data: Any,
    keystore: Keystore | None,
    *,
    meta: str = "",
    compressed: bool = False,
    nonce: bytes | None = None,
    updated_at: int = 0,
) -> UserObject:
    """The inverse of :func:`open_object`: JSON, then compress and/or encrypt, then base64."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if object_type in ENCRYPTED_TYPES:
        if keystore is None:
            raise ObjectError(f"{object_type} {object_id}: encrypting needs a keystore")
        blob = encrypt_blob(text, keystore.key_for(meta), nonce=nonce, compressed=compressed)
    else:
        blob = COMPRESSION_PREFIX + deflate_raw(text) if compressed else text
    return UserObject(
        id=object_id,
        type=object_type,
        meta=meta,
        data=base64.b64encode(blob).decode("ascii"),
        lastUpdatedAt=updated_at,
        changeIndex=0,
    )
