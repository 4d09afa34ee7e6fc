"""SPEC 4: where NovelAI's signature takes one options object, keyword arguments stand in for
it (``ui.window.open(title="Hi")`` for ``ui.window.open({title: "Hi"})``). From real scripts
on a real host: the keywords give what the dict gives, a bad field is refused naming the field,
and a dict plus a stray keyword is refused naming the keyword (nothing is done)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from host_helpers import TRY, hosted
from test_api_editor import ran_with_all_edits
from test_api_image import GRANTED
from test_api_ui import script as ui_script
from test_api_ui import with_page

IMAGE_HEADER = '"""\n---\nid: t\npermissions: [imageGeneration]\n---\n"""\n'


def _without_ids(window: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in window.items() if k != "id"}


@pytest.mark.parametrize("kind", ["window", "modal"])
async def test_window_open_and_update_take_keyword_options(tmp_path: Path, kind: str) -> None:
    body = TRY + (
        f"o = api.v1.ui.{kind}.open\n"
        "content = [{'type': 'text', 'id': 'p', 'text': 'hi'}]\n"
        "a = await o({'id': 'a', 'title': 'T'})\n"
        "b = await o(id='b', title='T')\n"
        "c = await o(options={'id': 'c', 'title': 'T'})\n"
        "await a.update({'title': 'T2', 'content': content})\n"
        "await b.update(title='T2', content=content)\n"
        "await c.update(options={'title': 'T2', 'content': content})\n"
        "await ta('bad', lambda: o(id='d', bogus=1))\n"
        "await ta('mixed', lambda: o({'id': 'e'}, title='x'))\n"
        "await ta('bad update', lambda: b.update(title=5))\n"
        "await ta('mixed update', lambda: b.update({'title': 'x'}, content=[]))\n"
    )
    async with with_page(tmp_path) as (env, state, _sub):
        await env.run(ui_script(body))
        assert env.lines("uitest") == [
            f"bad ValueError ui.{kind}.open options.bogus: Extra inputs are not permitted",
            f"mixed ValueError api.v1.ui.{kind}.open: unknown argument 'title'",
            f"bad update ValueError ui.{kind}.update options.title: Input should be a valid string",
            f"mixed update ValueError ui.{kind}.update: unknown argument 'content'",
        ], env.lines("uitest", level="error")
        windows = state.windows_of("uitest")
        assert [w["id"] for w in windows] == ["a", "b", "c"]  # the refused calls opened nothing
        first, *others = windows
        assert first["title"] == "T2"
        assert first["content"][0]["text"] == "hi"
        assert all(_without_ids(w) == _without_ids(first) for w in others)


async def test_part_helpers_share_the_rule(tmp_path: Path) -> None:
    body = TRY + (
        "text = api.v1.ui.part.text\n"
        "api.v1.log(text(text='hi', id='t') == text({'text': 'hi', 'id': 't'}))\n"
        "api.v1.log(text(config={'text': 'hi'}))\n"
        "t('bad', lambda: text(text='hi', bogus=1))\n"
        "t('mixed', lambda: text({'text': 'hi'}, id='t'))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(ui_script(body))
        assert env.lines() == [
            "True",
            '{"text": "hi", "type": "text"}',
            "bad ValueError ui.part.text.bogus: Extra inputs are not permitted",
            "mixed ValueError api.v1.ui.part.text: unknown argument 'id'",
        ], env.lines(level="error")


async def test_rollover_helper_refuses_a_dict_plus_keywords(tmp_path: Path) -> None:
    source = TRY + (
        "make = api.v1.createRolloverHelper\n"
        "by_dict = make({'maxTokens': 10, 'rolloverTokens': 2, 'model': 'glm-4-6'})\n"
        "by_kw = make(maxTokens=10, rolloverTokens=2, model='glm-4-6')\n"
        "by_name = make(config={'maxTokens': 10, 'rolloverTokens': 2, 'model': 'glm-4-6'})\n"
        "api.v1.log(by_dict.getConfig() == by_kw.getConfig() == by_name.getConfig())\n"
        "t('bad', lambda: make(maxTokens=10, model='glm-4-6', bogus=1))\n"
        "t('mixed', lambda: make({'maxTokens': 10, 'model': 'glm-4-6'}, rolloverTokens=2))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "True",
            "bad ValueError createRolloverHelper.bogus: Extra inputs are not permitted",
            "mixed ValueError api.v1.createRolloverHelper: unknown argument 'rolloverTokens'",
        ], env.lines(level="error")


async def test_image_generate_keywords_match_the_dict(tmp_path: Path) -> None:
    source = (
        IMAGE_HEADER
        + TRY
        + (
            "g = api.v1.image.generate\n"
            "p = {'prompt': 'a lighthouse', 'width': 64, 'height': 64, 'steps': 2, 'seed': 7}\n"
            "by_dict = await g(p)\n"
            "by_kw = await g(**p)\n"
            "by_name = await g(params=p)\n"
            "api.v1.log(by_dict == by_kw == by_name, by_kw['seed'])\n"
            "await ta('bad', lambda: g(prompt='x', width=100))\n"
            "await ta('mixed', lambda: g(p, samples=2))\n"
        )
    )
    async with hosted(tmp_path, **GRANTED) as env:
        await env.run(source)
        lines = env.lines()
        assert lines[0] == "True 7", env.lines(level="error")
        assert lines[1].startswith("bad ValueError image.generate params.width:"), lines[1]
        assert lines[2:] == ["mixed ValueError api.v1.image.generate: unknown argument 'samples'"]
        assert env.host.image_budget.available("t") == 5  # the refused calls cost nothing


async def test_build_context_takes_keyword_options(tmp_path: Path) -> None:
    body = TRY + (
        "await api.v1.memory.set('MEMORY')\n"
        "await api.v1.document.appendParagraph('Once upon a time.')\n"
        "b = api.v1.buildContext\n"
        "by_dict = await b({'contextLimitReduction': 10, 'forGeneration': True})\n"
        "by_kw = await b(contextLimitReduction=10, forGeneration=True)\n"
        "by_name = await b(options={'contextLimitReduction': 10})\n"
        "api.v1.log(by_dict == by_kw == by_name, len(by_kw))\n"
        "await ta('bad', lambda: b(contextLimitReduction=-1))\n"
        "await ta('unknown', lambda: b(bogus=1))\n"
        "await ta('mixed', lambda: b({'contextLimitReduction': 1}, forGeneration=True))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        lines = env.lines()
        assert lines[0] == "True 2", env.lines(level="error")
        assert lines[1].startswith(
            "bad ValueError buildContext options.contextLimitReduction: Input should be"
        ), lines[1]
        assert lines[2:] == [
            "unknown ValueError buildContext options.bogus: Extra inputs are not permitted",
            "mixed ValueError api.v1.buildContext: unknown argument 'forGeneration'",
        ]


async def test_generation_parameters_update_takes_keywords(tmp_path: Path) -> None:
    body = TRY + (
        "u = api.v1.generationParameters.update\n"
        "await u({'temperature': 0.5, 'top_p': 0.9})\n"
        "by_dict = await api.v1.generationParameters.get()\n"
        "await u(temperature=0.7, top_p=0.8)\n"
        "await u(temperature=0.5, top_p=0.9)\n"
        "by_kw = await api.v1.generationParameters.get()\n"
        "await u(params={'max_tokens': 8})\n"
        "api.v1.log(by_dict == by_kw, (await api.v1.generationParameters.get()).max_tokens)\n"
        "await ta('bad', lambda: u(temperature=99))\n"
        "await ta('unknown', lambda: u(bogus=1))\n"
        "await ta('mixed', lambda: u({'temperature': 0.1}, top_p=0.1))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, editor):
        lines = env.lines()
        assert lines[0] == "True 8", env.lines(level="error")
        assert lines[1].startswith("bad ValueError generationParameters.update params.temperature:")
        assert lines[2:] == [
            "unknown ValueError generationParameters.update params.bogus: not a generation "
            "parameter",
            "mixed ValueError api.v1.generationParameters.update: unknown argument 'top_p'",
        ]
        params = (await editor.settings()).params
        assert (params.temperature, params.top_p) == (0.5, 0.9)  # the refused calls changed nothing


async def test_lorebook_create_entry_and_category_take_keywords(tmp_path: Path) -> None:
    body = TRY + (
        "lb = api.v1.lorebook\n"
        "c1 = await lb.createCategory({'name': 'People', 'enabled': False})\n"
        "c2 = await lb.createCategory(name='People', enabled=False)\n"
        "c3 = await lb.createCategory(category={'name': 'People', 'enabled': False})\n"
        "e1 = await lb.createEntry({'displayName': 'Ada', 'keys': ['ada'], 'category': c1})\n"
        "e2 = await lb.createEntry(displayName='Ada', keys=['ada'], category=c1)\n"
        "e3 = await lb.createEntry(entry={'displayName': 'Ada', 'keys': ['ada'], 'category': c1})\n"
        "def same(items):\n"
        "    return all({**i, 'id': ''} == {**items[0], 'id': ''} for i in items)\n"
        "api.v1.log(same(await lb.categories()), same(await lb.entries()),"
        " len({c1, c2, c3}), len({e1, e2, e3}))\n"
        "await ta('bad entry', lambda: lb.createEntry(keys=['/(/']))\n"
        "await ta('unknown entry', lambda: lb.createEntry(text='x', bogus=1))\n"
        "await ta('mixed entry', lambda: lb.createEntry({'text': 'x'}, keys=['a']))\n"
        "await ta('bad category', lambda: lb.createCategory(name=5))\n"
        "await ta('mixed category', lambda: lb.createCategory({'name': 'x'}, enabled=False))\n"
        "api.v1.log(len(await lb.entries()), len(await lb.categories()))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        lines = env.lines()
        assert lines[0] == "True True 3 3", env.lines(level="error")
        refused = [
            "bad entry ValueError lorebook.createEntry entry.keys: ",
            "unknown entry ValueError lorebook.createEntry entry.bogus: ",
            "mixed entry ValueError api.v1.lorebook.createEntry: unknown argument 'keys'",
            "bad category ValueError lorebook.createCategory category.name: ",
            "mixed category ValueError api.v1.lorebook.createCategory: unknown argument 'enabled'",
        ]
        assert len(lines) == 2 + len(refused), lines
        for line, start in zip(lines[1:-1], refused, strict=True):
            assert line.startswith(start), line
        assert lines[-1] == "3 3"  # the refused calls created nothing
