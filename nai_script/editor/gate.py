"""The ``editor.generate`` gate: a script may press Send three times between user interactions.

NovelAI lets a script start editor generations on its own only a few times; after that the
user must interact (with that script's UI, or by generating) before it may again. The count
lives in the limits file (``limits.editor_calls``), beside the token buckets: an interaction
the host records gives the calls back in the same commit, and neither a reload nor a restart
of the host does.
"""

from __future__ import annotations

from nai_script.limits import Limits

EDITOR_GENERATE_LIMIT = 3


class EditorGenerateRefused(Exception):
    """The script used up its editor generations; the message says how to get more."""


class EditorGenerateGate:
    def __init__(self, limits: Limits, limit: int = EDITOR_GENERATE_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"editor.generate limit: must be at least 1, got {limit}")
        self.limits = limits
        self.limit = limit

    def remaining(self, script_id: str) -> int:
        return max(0, self.limit - self.limits.editor_generates_used(script_id))

    async def take(self, script_id: str) -> None:
        """Count one call, or raise ``EditorGenerateRefused`` (counting nothing)."""
        if not await self.limits.take_editor_generate(script_id, self.limit):
            raise EditorGenerateRefused(
                f"editor.generate: {self.limit} calls without a user interaction in between is "
                "the limit; the next is allowed after the user interacts with this script's UI "
                "or generates"
            )

    async def give_back(self, script_id: str) -> None:
        """A call that never started a generation (the editor was blocked) costs nothing."""
        await self.limits.give_back_editor_generate(script_id)
