"""Keystore and object crypto: round trips, compressed blobs, tampering, wrong keys."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from nai_script.account.crypto import (
    COMPRESSION_PREFIX,
    NONCE_SIZE,
    DecryptionError,
    decrypt_blob,
    derive_encryption_key,
    encrypt_blob,
)
from nai_script.account.demo import DEMO_EMAIL, DEMO_PASSWORD, build_demo_account
from nai_script.account.keystore import Keystore, KeystoreError
from nai_script.account.objects import ObjectError, open_object, seal_object
from nai_script.client.auth import derive_access_key

KEY = bytes(range(32))
NONCE = bytes(range(100, 124))


def test_encryption_key_properties() -> None:
    key = derive_encryption_key("User@Example.com", "hunter22")
    assert len(key) == 32
    assert key == derive_encryption_key("user@example.com", "hunter22")  # email case ignored
    assert key != derive_encryption_key("user@example.com", "hunter23")
    assert key != derive_encryption_key("other@example.com", "hunter22")
    # same construction, different domain: never equal to the access key's bytes
    assert base64.urlsafe_b64encode(key).decode() not in derive_access_key(
        "user@example.com", "hunter22"
    )
    with pytest.raises(ValueError, match="email"):
        derive_encryption_key(" ", "x")
    with pytest.raises(ValueError, match="password"):
        derive_encryption_key("a@b", "")


@pytest.mark.parametrize("compressed", [False, True])
def test_blob_round_trip(compressed: bool) -> None:
    text = ("hello " * 200).encode()
    blob = encrypt_blob(text, KEY, nonce=NONCE, compressed=compressed)
    assert blob.startswith(COMPRESSION_PREFIX) == compressed
    body = blob[len(COMPRESSION_PREFIX) :] if compressed else blob
    assert body[:NONCE_SIZE] == NONCE
    opened = decrypt_blob(blob, KEY)
    assert (opened.plaintext, opened.nonce, opened.compressed) == (text, NONCE, compressed)
    if compressed:
        assert len(blob) < len(text)  # raw deflate really compressed it


def test_compressed_blob_is_raw_deflate() -> None:
    from nacl.secret import SecretBox

    blob = encrypt_blob(b"abc" * 50, KEY, nonce=NONCE, compressed=True)
    inner = SecretBox(KEY).decrypt(blob[len(COMPRESSION_PREFIX) + NONCE_SIZE :], NONCE)
    assert zlib.decompress(inner, -15) == b"abc" * 50
    with pytest.raises(zlib.error):
        zlib.decompress(inner)  # no zlib header: raw deflate


def test_random_nonce_differs() -> None:
    assert encrypt_blob(b"x", KEY) != encrypt_blob(b"x", KEY)


@pytest.mark.parametrize("position", [0, 24, 30, -1])
def test_tampered_ciphertext_fails_clearly(position: int) -> None:
    blob = bytearray(encrypt_blob(b'{"a":1}', KEY, nonce=NONCE))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError, match="wrong key, or the data was tampered"):
        decrypt_blob(bytes(blob), KEY)


def test_wrong_key_truncated_and_bad_key_size() -> None:
    blob = encrypt_blob(b"x", KEY, nonce=NONCE)
    with pytest.raises(DecryptionError, match="tampered"):
        decrypt_blob(blob, bytes(32))
    with pytest.raises(DecryptionError, match="too short"):
        decrypt_blob(blob[:20], KEY)
    with pytest.raises(DecryptionError, match="expected 32 bytes"):
        decrypt_blob(blob, b"short")


@pytest.mark.parametrize("compressed", [False, True])
def test_keystore_round_trip(compressed: bool) -> None:
    store = Keystore({}, nonce=NONCE, compressed=compressed)
    meta = store.create()
    store.create("fixed-meta")
    wire = store.seal(KEY)
    envelope = json.loads(base64.b64decode(wire["keystore"]))
    assert envelope["version"] == 2
    assert envelope["nonce"] == list(NONCE)
    assert isinstance(envelope["sdata"], list)
    opened = Keystore.open(wire, KEY)
    assert opened.keys == store.keys
    assert meta in opened
    assert opened.compressed == compressed
    assert len(opened.key_for("fixed-meta")) == 32


def test_keystore_wrong_key_and_tampering() -> None:
    store = Keystore({}, nonce=NONCE)
    store.create()
    wire = store.seal(KEY)
    with pytest.raises(KeystoreError, match="email/password"):
        Keystore.open(wire, bytes(32))
    envelope = json.loads(base64.b64decode(wire["keystore"]))
    envelope["sdata"][5] ^= 0xFF
    tampered = {"keystore": base64.b64encode(json.dumps(envelope).encode()).decode()}
    with pytest.raises(KeystoreError, match="tampered"):
        Keystore.open(tampered, KEY)
    with pytest.raises(KeystoreError, match="not a base64 JSON"):
        Keystore.open({"keystore": "!!!"}, KEY)
    with pytest.raises(KeystoreError, match="missing"):
        Keystore.open({}, KEY)
    with pytest.raises(KeystoreError, match="no key for it"):
        store.key_for("nope")


def test_empty_keystore() -> None:
    assert len(Keystore.open({"keystore": None}, KEY)) == 0
    empty = Keystore({}, nonce=NONCE).seal(KEY)
    assert len(Keystore.open(empty, KEY)) == 0


@pytest.mark.parametrize(
    ("kind", "compressed"),
    [
        ("stories", False),
        ("storycontent", True),
        ("shelf", False),
        ("presets", True),
        ("presets", False),
    ],
)
def test_object_round_trip(kind: str, compressed: bool) -> None:
    store = Keystore({}, nonce=NONCE)
    meta = store.create()
    data = {"title": "Ünïcode ✓", "n": [1, 2, 3]}
    obj = seal_object("id-1", kind, data, store, meta=meta, compressed=compressed)
    opened = open_object(obj, store)
    assert opened.data == data
    assert opened.compressed == compressed
    assert opened.encrypted == (kind != "presets")


def test_object_failures_name_type_and_id() -> None:
    store = Keystore({}, nonce=NONCE)
    meta = store.create()
    obj = seal_object("s1", "stories", {"a": 1}, store, meta=meta)
    with pytest.raises(ObjectError, match=r"stories s1: meta .* no key"):
        open_object(obj.model_copy(update={"meta": "other"}), store)
    raw = bytearray(base64.b64decode(obj.data))
    raw[-1] ^= 1
    bad = obj.model_copy(update={"data": base64.b64encode(bytes(raw)).decode()})
    with pytest.raises(ObjectError, match="stories s1: decryption failed"):
        open_object(bad, store)
    with pytest.raises(ObjectError, match="not base64"):
        open_object(obj.model_copy(update={"data": "@@"}), store)
    with pytest.raises(ObjectError, match="no keystore"):
        open_object(obj, None)


def test_demo_account_opens_with_documented_credentials() -> None:
    account = build_demo_account()
    key = derive_encryption_key(DEMO_EMAIL, DEMO_PASSWORD)
    store = Keystore.open(account.keystore_wire(), key)
    titles = [open_object(o, store).data["title"] for o in account.objects["stories"]]
    assert titles == ["The Lighthouse Keeper", "Clockwork Garden"]
    contents = [open_object(o, store) for o in account.objects["storycontent"]]
    assert [c.compressed for c in contents] == [False, True]
    assert build_demo_account().keystore_wire() == account.keystore_wire()  # deterministic
