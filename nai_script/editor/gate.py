"""The ``editor.generate`` gate: a script may press Send three times between user interactions.

NovelAI lets a script start editor generations on its own only a few times; after that the
user must interact (with that script's UI, or by generating) before it may again. The host
tells the gate of every interaction through ``ScriptHost.interaction_listeners``: a script id
resets that script, ``None`` (a manual generation) resets every script.
"""

from __future__ import annotations

EDITOR_GENERATE_LIMIT = 3


class EditorGenerateRefused(Exception):
    """The script used up its editor generations; the message says how to get more."""


class EditorGenerateGate:
    def __init__(self, limit: int = EDITOR_GENERATE_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"editor.generate limit: must be at least 1, got {limit}")
        self.limit = limit
        self._used: dict[str, int] = {}

    def remaining(self, script_id: str) -> int:
        return self.limit - self._used.get(script_id, 0)

    def take(self, script_id: str) -> None:
        """Count one call, or raise ``EditorGenerateRefused`` (counting nothing)."""
        used = self._used.get(script_id, 0)
        if used >= self.limit:
            raise EditorGenerateRefused(
                f"editor.generate: {self.limit} calls without a user interaction in between is "
                "the limit; the next is allowed after the user interacts with this script's UI "
                "or generates"
            )
        self._used[script_id] = used + 1

    def give_back(self, script_id: str) -> None:
        """A call that never started a generation (the editor was blocked) costs nothing."""
        used = self._used.get(script_id, 0)
        if used > 0:
            self._used[script_id] = used - 1

    def on_interaction(self, script_id: str | None) -> None:
        """``ScriptHost.interaction_listeners`` entry."""
        if script_id is None:
            self._used.clear()
        else:
            self._used.pop(script_id, None)
