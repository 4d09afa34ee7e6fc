"""NovelAI account data: the encryption key, the keystore, and encrypted user objects
(stories, story contents, shelves), decrypted the way NovelAI's web client and the seed client
do it."""

from nai_script.account.crypto import (
    COMPRESSION_PREFIX,
    DecryptionError,
    decrypt_blob,
    derive_encryption_key,
    encrypt_blob,
)
from nai_script.account.keystore import Keystore, KeystoreError
from nai_script.account.objects import OpenedObject, UserObject, open_object, seal_object

__all__ = [
    "COMPRESSION_PREFIX",
    "DecryptionError",
    "Keystore",
    "KeystoreError",
    "OpenedObject",
    "UserObject",
    "decrypt_blob",
    "derive_encryption_key",
    "encrypt_blob",
    "open_object",
    "seal_object",
]
