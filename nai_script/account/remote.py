"""Fetch and open account data through the client core (``api`` host).

``GET /user/keystore`` and ``GET /user/objects/{type}``; stories are linked to their content
by the story's ``remoteStoryId``, as NovelAI's web client does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nai_script.account.keystore import Keystore, KeystoreError
from nai_script.account.objects import (
    ObjectError,
    ObjectList,
    OpenedObject,
    UserObject,
    open_object,
)

if TYPE_CHECKING:
    from nai_script.client import NovelAIClient

SANITY_TYPES: tuple[str, ...] = ("stories", "storycontent", "shelf", "presets", "aimodules")


async def fetch_keystore(client: NovelAIClient, encryption_key: bytes) -> Keystore:
    wire = await client.request_json("GET", "api", "/user/keystore", idempotent=True)
    if not isinstance(wire, dict):
        raise KeystoreError("keystore: the response is not a JSON object")
    return Keystore.open(wire, encryption_key)


async def fetch_objects(client: NovelAIClient, object_type: str) -> list[UserObject]:
    wire = await client.request_json("GET", "api", f"/user/objects/{object_type}", idempotent=True)
    return ObjectList.model_validate(wire).objects


@dataclass
class Story:
    """A decrypted story with its decrypted content (None when the content is missing)."""

    story: OpenedObject
    content: OpenedObject | None

    @property
    def title(self) -> str:
        data = self.story.data
        return str(data.get("title", "")) if isinstance(data, dict) else ""


async def download_stories(client: NovelAIClient, keystore: Keystore) -> list[Story]:
    """Every story and its content, decrypted. A story that will not open raises
    ``ObjectError`` (use :func:`sanity_check` to survey failures instead)."""
    stories = [open_object(o, keystore) for o in await fetch_objects(client, "stories")]
    contents = {o.id: open_object(o, keystore) for o in await fetch_objects(client, "storycontent")}
    linked = []
    for story in stories:
        remote_id = story.data.get("remoteStoryId") if isinstance(story.data, dict) else None
        linked.append(Story(story=story, content=contents.get(str(remote_id))))
    return linked


@dataclass
class SanityReport:
    """Which objects opened and which did not (with the reason)."""

    opened: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


async def sanity_check(
    client: NovelAIClient, keystore: Keystore, types: tuple[str, ...] = SANITY_TYPES
) -> SanityReport:
    """Try to open every stored object of ``types``; never stops at the first failure."""
    report = SanityReport()
    for object_type in types:
        for obj in await fetch_objects(client, object_type):
            try:
                open_object(obj, keystore)
            except ObjectError as exc:
                report.failures.append(str(exc))
            else:
                report.opened.append(f"{obj.type} {obj.id}")
    return report
