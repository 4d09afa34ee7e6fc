"""``random.roll(expression)``: dice notation, answered in NovelAI's shape
``{total, rolls: [{notation, dice, kept}], breakdown}``.

An expression is terms joined by ``+``/``-``; a term is a number or a dice group ``NdS``
(``N`` defaults to 1, ``d%`` is ``d100``) optionally keeping the highest or lowest few
(``4d6kh3``, ``k3`` = ``kh3``, ``2d20kl1``) or dropping them (``4d6dl1``, ``dh``). Each dice
group is one entry of ``rolls``: every die rolled (``dice``) and those that count (``kept``).
Counts and sides are bounded so a roll cannot tie up the host.
"""

from __future__ import annotations

import random
import re
from typing import Any

from pydantic import BaseModel

from nai_script.host.dispatch import ApiUsageError

MAX_DICE = 1000
MAX_SIDES = 1_000_000
MAX_TERMS = 50
_TERM = re.compile(
    r"\s*([+-])?\s*(?:(\d*)[dD](\d+|%)(?:(kh|kl|k|dh|dl)(\d+))?|(\d+))\s*", re.IGNORECASE
)


class DiceGroup(BaseModel):
    """One ``NdS`` group of a roll, as NovelAI reports it."""

    notation: str
    dice: list[int]
    kept: list[int]


def _kept(dice: list[int], rule: str, n: int) -> list[int]:
    """The dice that count, in the order they were rolled."""
    order = sorted(range(len(dice)), key=lambda i: dice[i])  # lowest first
    if rule in ("k", "kh"):
        chosen = order[len(dice) - n :] if n else []
    elif rule == "kl":
        chosen = order[:n]
    elif rule == "dl":
        chosen = order[n:]
    else:  # dh
        chosen = order[: len(dice) - n]
    keep = set(chosen)
    return [die for i, die in enumerate(dice) if i in keep]


def _group(count_text: str, sides_text: str, rule: str | None, n_text: str | None) -> DiceGroup:
    count = int(count_text or 1)
    sides = 100 if sides_text == "%" else int(sides_text)
    if not 1 <= count <= MAX_DICE or not 1 <= sides <= MAX_SIDES:
        raise ApiUsageError(
            f"random.roll: between 1 and {MAX_DICE} dice of 1 to {MAX_SIDES} sides, "
            f"got {count}d{sides_text}"
        )
    notation = f"{count}d{sides}"
    dice = [random.randint(1, sides) for _ in range(count)]
    kept = dice
    if rule is not None and n_text is not None:
        n = int(n_text)
        if n > count:
            raise ApiUsageError(
                f"random.roll: {notation}{rule}{n} keeps or drops more dice than it rolls"
            )
        rule = rule.lower()
        notation += f"{rule}{n}"
        kept = _kept(dice, rule, n)
    return DiceGroup(notation=notation, dice=dice, kept=kept)


def _shown(group: DiceGroup) -> str:
    if group.kept == group.dice:
        return f"{group.notation} {group.dice}"
    return f"{group.notation} {group.dice} kept {group.kept}"


def roll_dice(expression: Any) -> dict[str, Any]:
    """Roll ``expression``; a malformed one is the script's mistake (a ``ValueError``)."""
    if not isinstance(expression, str) or not expression.strip():
        raise ApiUsageError(f"random.roll: {expression!r} is not dice notation like '3d6+2'")
    groups: list[DiceGroup] = []
    parts: list[str] = []
    total = 0
    at = 0
    while at < len(expression):
        match = _TERM.match(expression, at)
        sign = match.group(1) if match else None
        if match is None or match.end() == at or (not sign and parts):
            raise ApiUsageError(f"random.roll: {expression!r} is not dice notation like '3d6+2'")
        if len(parts) >= MAX_TERMS:
            raise ApiUsageError(f"random.roll: at most {MAX_TERMS} terms")
        factor = -1 if sign == "-" else 1
        if match.group(6) is not None:
            value, shown = int(match.group(6)), match.group(6)
        else:
            group = _group(*match.group(2, 3, 4, 5))
            groups.append(group)
            value, shown = sum(group.kept), _shown(group)
        total += factor * value
        parts.append(f"{'- ' if factor < 0 else '+ ' if parts else ''}{shown}")
        at = match.end()
    if not groups:
        raise ApiUsageError(f"random.roll: {expression!r} rolls no dice (like '3d6+2')")
    return {
        "total": total,
        "rolls": [group.model_dump() for group in groups],
        "breakdown": f"{' '.join(parts)} = {total}",
    }
