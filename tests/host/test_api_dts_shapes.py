"""Argument and return shapes as NovelAI's type definitions give them, from real sandboxed
scripts on a real host (the editor's calls: test_api_dts_document)."""

from __future__ import annotations

from pathlib import Path

from host_helpers import TRY, hosted


async def test_random_float_takes_min_and_max_and_max_is_exclusive(tmp_path: Path) -> None:
    """``float(min, max)``: both required, max exclusive. Ours defaulted to 0..1 and could
    return max itself (``random.uniform``)."""
    source = TRY + (
        "api.v1.log(all(0 <= api.v1.random.float(0, 1e-300) < 1e-300 for _ in range(200)))\n"
        "api.v1.log(api.v1.random.float(2.5, 2.5))\n"
        "t('none', lambda: api.v1.random.float())\n"
        "t('one', lambda: api.v1.random.float(1))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "True",
            "2.5",
            "none ValueError api.v1.random.float: missing argument 'min'",
            "one ValueError api.v1.random.float: missing argument 'max'",
        ]


async def test_random_roll_answers_total_rolls_and_breakdown(tmp_path: Path) -> None:
    """``roll(expression)`` -> ``{total, rolls: [{notation, dice, kept}], breakdown}``; it
    was ``{total, rolls: [int], modifier}``, so NovelAI's ``roll.breakdown`` raised."""
    source = (
        "r = api.v1.random.roll('2d1+3')\n"
        "api.v1.log(r.total, r.rolls, r.breakdown)\n"
        "k = api.v1.random.roll('3d1kh2 - 1d1')\n"
        "api.v1.log(k.total, [g.notation for g in k.rolls], k.rolls[0].kept, k.breakdown)\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            '5 [{"notation": "2d1", "dice": [1, 1], "kept": [1, 1]}] 2d1 [1, 1] + 3 = 5',
            '1 ["3d1kh2", "1d1"] [1, 1] 3d1kh2 [1, 1, 1] kept [1, 1] - 1d1 [1] = 1',
        ], env.lines(level="error")


async def test_generate_takes_novelais_message_and_param_shapes(tmp_path: Path) -> None:
    """NovelAI's ``Message`` may leave ``content`` out and its params carry
    ``enable_thinking``: both were refused ('Field required', 'Extra inputs are not
    permitted'). Thinking itself is refused by name, not dropped."""
    source = TRY + (
        "r = await api.v1.generate([{'role': 'system'}, {'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 3, 'enable_thinking': False})\n"
        "api.v1.log(len(r.choices[0].token_ids))\n"
        "await ta('thinking', lambda: api.v1.generate([{'role': 'user', 'content': 'x'}],"
        " {'model': 'glm-4-6', 'enable_thinking': True}))\n"
        "await ta('reasoning', lambda: api.v1.generate([{'role': 'assistant', 'content': 'x',"
        " 'reasoning': 'hmm'}], {'model': 'glm-4-6'}))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "3",
            "thinking ValueError generate params.enable_thinking: thinking is not supported "
            "(no backend here streams thinking)",
            "reasoning ValueError generate messages[0].reasoning: not supported (no chat "
            "template here renders thinking text)",
        ], env.lines(level="error")
