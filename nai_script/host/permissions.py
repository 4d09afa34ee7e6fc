"""Who answers a script's permission requests: the host asks a policy, never the script.

A policy gets the script, the names it wants and its stated reason, and returns what it
grants; ``serve`` asks a person, ``run`` picks one of the two fixed answers below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nai_script.host.script import LoadedScript

PermissionPolicy = Callable[[LoadedScript, list[str], str | None], Awaitable[list[str]]]


async def deny_permissions(
    script: LoadedScript, wanted: list[str], reason: str | None
) -> list[str]:
    """The default policy: nothing is granted without a person to ask."""
    return []


async def grant_permissions(
    script: LoadedScript, wanted: list[str], reason: str | None
) -> list[str]:
    """``nai-script run --grant-permissions``: grant what is asked."""
    return list(wanted)
