"""The simulator's demo account: fixed credentials and deterministic encrypted data.

Everything is derived from :data:`DEMO_EMAIL` / :data:`DEMO_PASSWORD` (documented in
``docs/account.md``), so ``nai-script account sanity-check`` and the tests decrypt the
simulator's data exactly as they would decrypt NovelAI's.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from nai_script.account.crypto import NONCE_SIZE, derive_encryption_key
from nai_script.account.keystore import Keystore
from nai_script.account.objects import UserObject, seal_object

DEMO_EMAIL = "demo@sim.nai-script.local"
DEMO_PASSWORD = "nai-script-demo-password"


def _derived(label: str, size: int) -> bytes:
    # Deterministic stand-ins for random keys and nonces, so the demo data never changes.
    return hashlib.blake2b(label.encode(), digest_size=size, person=b"nai-script-demo").digest()


@dataclass
class DemoAccount:
    encryption_key: bytes
    keystore: Keystore
    objects: dict[str, list[UserObject]]

    def keystore_wire(self) -> dict[str, str]:
        return self.keystore.seal(self.encryption_key)


@functools.cache
def demo_encryption_key() -> bytes:
    return derive_encryption_key(DEMO_EMAIL, DEMO_PASSWORD)


def build_demo_account() -> DemoAccount:
    """Two stories (one content compressed), a shelf and a preset, sealed like NovelAI's."""
    key = demo_encryption_key()
    metas = {name: f"00000000-0000-4000-8000-00000000000{i}" for i, name in enumerate("abcde", 1)}
    keystore = Keystore(
        {meta: _derived(f"key:{meta}", 32) for meta in metas.values()},
        nonce=_derived("keystore-nonce", NONCE_SIZE),
    )

    def seal(
        oid: str, kind: str, data: object, meta: str = "", compressed: bool = False
    ) -> UserObject:
        nonce = _derived(f"nonce:{oid}", NONCE_SIZE)
        return seal_object(
            oid,
            kind,
            data,
            keystore,
            meta=meta,
            compressed=compressed,
            nonce=nonce,
            updated_at=1_700_000_000_000,
        )

    stories = [
        seal(
            "story-1",
            "stories",
            {
                "storyMetadataVersion": 1,
                "id": "local-1",
                "remoteStoryId": "content-1",
                "title": "The Lighthouse Keeper",
                "description": "A simulated story.",
            },
            metas["a"],
        ),
        seal(
            "story-2",
            "stories",
            {
                "storyMetadataVersion": 1,
                "id": "local-2",
                "remoteStoryId": "content-2",
                "title": "Clockwork Garden",
                "description": "Another simulated story.",
            },
            metas["b"],
        ),
    ]
    contents = [
        seal(
            "content-1",
            "storycontent",
            {
                "storyContentVersion": 6,
                "document": "The lamp turned.",
                "settings": {"model": "kayra-v1"},
            },
            metas["c"],
        ),
        seal(
            "content-2",
            "storycontent",
            {
                "storyContentVersion": 6,
                "document": "Gears bloomed. " * 40,
                "settings": {"model": "llama-3-erato-v1"},
            },
            metas["d"],
            compressed=True,
        ),
    ]
    shelf = [
        seal("shelf-1", "shelf", {"title": "Simulated shelf", "children": ["story-1"]}, metas["e"])
    ]
    presets = [
        seal(
            "preset-1",
            "presets",
            {
                "name": "Simulated preset",
                "model": "kayra-v1",
                "parameters": {"temperature": 1.0, "max_length": 40},
            },
            compressed=True,
        ),
    ]
    objects = {"stories": stories, "storycontent": contents, "shelf": shelf, "presets": presets}
    return DemoAccount(encryption_key=key, keystore=keystore, objects=objects)
