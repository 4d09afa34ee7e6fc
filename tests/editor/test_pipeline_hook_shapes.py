"""The generation hooks in NovelAI's shapes (script-types.d.ts), end to end: real scripts, the
simulator, a real story file. onTextAdventureInput, onDocumentConvertedToText and
onBeforeContextBuild used shapes of their own; stopFurtherScripts was not honoured and
continuityId reached onContextBuilt only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import EditorEnv, editor_env

from nai_script.editor.models import CategorySettings, LorebookCategory, LorebookEntry
from nai_script.tokenizers import context_size

GENERATION_HOOKS = (
    "onTextAdventureInput",
    "onGenerationRequested",
    "onDocumentConvertedToText",
    "onBeforeContextBuild",
    "onContextBuilt",
    "onResponse",
    "onGenerationEnd",
)


def logged(e: EditorEnv, script_id: str | None = None) -> list[Any]:
    return [json.loads(line) for line in e.env.lines(script_id)]


def errors(e: EditorEnv) -> list[str]:
    return e.env.lines(level="error")


# ------------------------------------------------------------------ onTextAdventureInput


async def test_adventure_params_and_the_paragraph_per_mode(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.env.run("api.v1.hooks.register('onTextAdventureInput', lambda p: api.v1.log(p))\n")
        await e.editor.update_settings({"params": {"max_tokens": 1}})
        await e.editor.send("open\nthe door", adventure=True)
        (params,) = logged(e)
        assert set(params) == {"continuityId", "inputText", "rawInputText", "mode"}
        assert params["inputText"] == "open the door", "newlines become spaces"
        assert params["rawInputText"] == "open\nthe door"
        assert params["mode"] == "action"
        assert isinstance(params["continuityId"], str)
        assert params["continuityId"]
        sections = await e.editor.sections()
        assert any(s.text.startswith("> open the door") for s in sections)
        await e.editor.send("Hello there", adventure=True, mode="dialogue")
        assert any(s.text.startswith('> "Hello there"') for s in await e.editor.sections())
        await e.editor.send("The wind rose.", adventure=True, mode="story")
        assert any(s.text.startswith("The wind rose.") for s in await e.editor.sections())
        assert [p["mode"] for p in logged(e)] == ["action", "dialogue", "story"]
        with pytest.raises(ValueError, match="mode: must be one of action, dialogue, story"):
            await e.editor.send("x", adventure=True, mode="shout")  # type: ignore[arg-type]


async def test_adventure_results_apply_in_load_order(tmp_path: Path) -> None:
    """Every script gets the params as typed; the answers apply in load order (per field, the
    last wins)."""
    first = (
        "api.v1.hooks.register('onTextAdventureInput',"
        " lambda p: {'inputText': 'You\\nwave ' + p.inputText, 'mode': 'dialogue'})\n"
    )
    second = (
        "def seen(p):\n"
        "    api.v1.log(p)\n"
        "    return {'inputText': p.inputText + '!'}\n"
        "api.v1.hooks.register('onTextAdventureInput', seen)\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(first, "a.py")
        b = await e.env.run(second, "b.py")
        await e.editor.update_settings({"params": {"max_tokens": 2}})
        result = await e.editor.send("hi", adventure=True)
        assert result.text
        (params,) = logged(e, b.id)
        assert (params["inputText"], params["rawInputText"], params["mode"]) == (
            "hi",
            "hi",
            "action",
        )
        assert any(s.text.startswith('> "hi!"') for s in await e.editor.sections())
        await e.env.host.unload_script(b.id)
        await e.editor.send("ho", adventure=True)
        assert any(s.text.startswith('> "You wave ho"') for s in await e.editor.sections()), (
            "newlines in a returned inputText become spaces"
        )


async def test_adventure_empty_input_text_inserts_nothing_but_generates(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.env.run(
            "api.v1.hooks.register('onTextAdventureInput', lambda p: {'inputText': ''})\n"
        )
        await e.editor.update_settings({"params": {"max_tokens": 3}})
        result = await e.editor.send("look around", adventure=True)
        assert not result.stopped
        assert result.text
        assert "look" not in await e.editor.text()
        assert await e.editor.text() == result.text


async def test_adventure_bad_result_is_reported_and_ignored(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.env.run(
            "api.v1.hooks.register('onTextAdventureInput',"
            " lambda p: {'inputText': 'CHANGED', 'mode': 'shout'})\n"
        )
        await e.editor.update_settings({"params": {"max_tokens": 1}})
        await e.editor.send("jump", adventure=True)
        assert any(
            "hook onTextAdventureInput returned a bad value: result.mode" in line
            for line in errors(e)
        ), errors(e)
        assert any(s.text.startswith("> jump") for s in await e.editor.sections())


# ------------------------------------------------------------- onDocumentConvertedToText


async def test_document_converted_params_and_sections_result(tmp_path: Path) -> None:
    first = (
        "def upper(p):\n"
        "    api.v1.log(p)\n"
        "    return {'sections': [{'sectionId': s.sectionId, 'text': s.text.upper()}"
        " for s in p.sections]}\n"
        "api.v1.hooks.register('onDocumentConvertedToText', upper)\n"
    )
    second = "api.v1.hooks.register('onDocumentConvertedToText', lambda p: api.v1.log(p))\n"
    async with editor_env(tmp_path) as e:
        a = await e.env.run(first, "a.py")
        b = await e.env.run(second, "b.py")
        await e.editor.edit(lambda doc: doc.append_paragraph("one\ntwo", "user"))
        ids = [s.id for s in await e.editor.sections()]
        built = await e.editor.build_context()
        assert built.messages[-1].content == "ONE\nTWO"
        (params,) = logged(e, a.id)
        assert set(params) == {"continuityId", "reason", "sections"}
        assert params["reason"] == "context"
        assert params["sections"] == [
            {"sectionId": ids[0], "text": "one"},
            {"sectionId": ids[1], "text": "two"},
        ]
        (later,) = logged(e, b.id)
        assert later == params, "every script gets the sections as converted"
        assert await e.editor.text() == "one\ntwo", "the stored text is untouched"


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("p.sections[:1]", "must include all 2 sections that were provided"),
        ("list(reversed(p.sections))", "with the same sectionIds in the same order"),
        ("[{'sectionId': 'nope', 'text': 'x'}, p.sections[1]]", "'nope'"),
        ("[{'text': 'x'}, p.sections[1]]", "result.sections.0.sectionId: Field required"),
    ],
)
async def test_document_converted_bad_sections_are_refused(
    tmp_path: Path, answer: str, problem: str
) -> None:
    hook = (
        f"api.v1.hooks.register('onDocumentConvertedToText', lambda p: {{'sections': {answer}}})\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(hook)
        await e.editor.edit(lambda doc: doc.append_paragraph("one\ntwo", "user"))
        built = await e.editor.build_context()
        assert built.messages[-1].content == "one\ntwo", "the answer is ignored"
        bad = [line for line in errors(e) if "onDocumentConvertedToText returned a bad" in line]
        assert len(bad) == 1, errors(e)
        assert problem in bad[0]


async def test_document_converted_sections_stop_at_the_build_position(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.env.run(
            "api.v1.hooks.register('onDocumentConvertedToText', lambda p: api.v1.log(p.sections))\n"
        )
        await e.editor.edit(lambda doc: doc.append_paragraph("alpha\nbeta\ngamma", "user"))
        ids = [s.id for s in await e.editor.sections()]
        await e.editor.build_context(until=(ids[1], 2))
        assert logged(e) == [
            [{"sectionId": ids[0], "text": "alpha"}, {"sectionId": ids[1], "text": "be"}]
        ]


# ------------------------------------------------------------------ onBeforeContextBuild


async def _lorebook_story(e: EditorEnv) -> tuple[str, str, str]:
    """A story with three entries: one its text activates (in a category with a header), one
    it does not, one disabled."""
    people = await e.editor.put_category(
        LorebookCategory(name="people", settings=CategorySettings(entryHeader="[person]"))
    )
    ada = await e.editor.put_entry(
        LorebookEntry(displayName="Ada", keys=["ada"], text="Ada is a smith.", category=people.id)
    )
    bob = await e.editor.put_entry(LorebookEntry(keys=["bob"], text="Bob is a baker."))
    off = await e.editor.put_entry(LorebookEntry(keys=["ada"], text="OFF", enabled=False))
    await e.editor.update_settings(
        {
            "memory": "MEM",
            "authorsNote": "NOTE",
            "systemPrompt": "SYS",
            "prefill": "PRE",
            "params": {"max_tokens": 2},
        }
    )
    await e.editor.edit(lambda doc: doc.append("Ada works.", "user"))
    return ada.id, bob.id, off.id


async def test_before_build_params_are_novelais(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.env.run("api.v1.hooks.register('onBeforeContextBuild', lambda p: api.v1.log(p))\n")
        ada, bob, off = await _lorebook_story(e)
        await e.editor.build_context()
        (params,) = logged(e)
        continuity = params.pop("continuityId")
        assert isinstance(continuity, str)
        assert continuity
        assert params == {
            "model": (await e.editor.settings()).params.model,
            "dryRun": True,
            "lorebookEntries": [
                [ada, {"active": True, "content": "Ada is a smith."}],
                [bob, {"active": False, "content": "Bob is a baker."}],
                [off, {"active": False, "content": "OFF"}],
            ],
            "lorebookEntryOrder": [ada, bob, off],
            "systemPrompt": {"active": True, "content": "SYS"},
            "prefill": {"active": True, "content": "PRE"},
            "memory": {"active": True, "content": "MEM"},
            "authorsNote": {"active": True, "content": "NOTE"},
            "storyText": {"active": True, "content": "Ada works."},
        }


async def test_before_build_results_change_this_build_only(tmp_path: Path) -> None:
    hook = (
        "def before(p):\n"
        "    ada, bob, off = p.lorebookEntryOrder\n"
        "    return {\n"
        "        'lorebookEntries': [[ada, {'content': 'Ada forges.'}], [off, {'active': True}]],\n"
        "        'temporaryLorebookEntries': [\n"
        "            {'id': 'tmp', 'name': 'T', 'content': 'TEMP', 'appearWithPermanent': True},\n"
        "            {'name': 'U', 'content': 'UNUSED', 'active': False},\n"
        "        ],\n"
        "        'lorebookEntryOrder': ['tmp', off],\n"
        "        'memory': {'active': False, 'content': 'never'},\n"
        "        'authorsNote': {'content': 'NEW NOTE'},\n"
        "        'prefill': {'active': False, 'content': 'PRE'},\n"
        "        'storyText': {'content': 'Ada rests.'},\n"
        "    }\n"
        "api.v1.hooks.register('onBeforeContextBuild', before)\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(hook)
        await _lorebook_story(e)
        built = await e.editor.build_context()
        assert [m.model_dump() for m in built.messages] == [
            {"role": "system", "content": "SYS\n\nTEMP\n\nOFF\n\n[person]\nAda forges."},
            {"role": "user", "content": "NEW NOTE\nAda rests."},
        ]
        assert await e.editor.text() == "Ada works."
        settings = await e.editor.settings()
        assert (settings.memory, settings.authorsNote) == ("MEM", "NOTE"), "nothing is saved"
        assert not errors(e)


async def test_before_build_answers_apply_in_load_order(tmp_path: Path) -> None:
    first = (
        "def before(p):\n"
        "    ada, bob, off = p.lorebookEntryOrder\n"
        "    return {'lorebookEntries': [[bob, {'active': True}]], 'lorebookEntryOrder': [bob],\n"
        "            'memory': {'content': 'M2'}, 'contextLimitReduction': 100}\n"
        "api.v1.hooks.register('onBeforeContextBuild', before)\n"
    )
    second = (
        "def before(p):\n"
        "    api.v1.log([p.memory, p.lorebookEntries[1], p.lorebookEntryOrder])\n"
        "    return {'memory': {'content': 'M3'}, 'contextLimitReduction': 50}\n"
        "api.v1.hooks.register('onBeforeContextBuild', before)\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(first, "a.py")
        b = await e.env.run(second, "b.py")
        ada, bob, off = await _lorebook_story(e)
        built = await e.editor.build_context()
        assert logged(e, b.id) == [
            [
                {"active": True, "content": "MEM"},
                [bob, {"active": False, "content": "Bob is a baker."}],
                [ada, bob, off],
            ]
        ], "b gets the pieces as gathered, not as a changed them"
        system = "SYS\n\nM3\n\nBob is a baker.\n\n[person]\nAda is a smith."
        assert built.messages[0].content == system, "a's entry changes stay, b's memory wins"
        model = (await e.editor.settings()).params.model
        assert built.limit == context_size(model, e.editor.tier) - 150, "reductions are summed"
        limited = await e.editor.build_context(limit=1000)
        assert limited.limit == 850


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (
            "{'lorebookEntries': [['ghost', {'active': True}]], 'memory': {'content': 'X'}}",
            "result.lorebookEntries.0.0: no lorebook entry 'ghost'",
        ),
        (
            "{'contextLimitReduction': -1, 'memory': {'content': 'X'}}",
            "result.contextLimitReduction",
        ),
        ("{'memory': {'active': True}}", "result.memory.content: Field required"),
        (
            "{'temporaryLorebookEntries': [{'content': 'X'}]}",
            "result.temporaryLorebookEntries.0.name: Field required",
        ),
        ("{'memory': 'X'}", "result.memory"),
    ],
)
async def test_before_build_bad_results_are_reported_and_ignored(
    tmp_path: Path, answer: str, problem: str
) -> None:
    async with editor_env(tmp_path) as e:
        await e.env.run(f"api.v1.hooks.register('onBeforeContextBuild', lambda p: {answer})\n")
        await _lorebook_story(e)
        built = await e.editor.build_context()
        assert built.messages[0].content == "SYS\n\nMEM\n\n[person]\nAda is a smith."
        assert "X" not in built.messages[0].content
        bad = [line for line in errors(e) if "onBeforeContextBuild returned a bad value" in line]
        assert len(bad) == 1, errors(e)
        assert problem in bad[0]
        result = await e.editor.send(None)
        assert result.error is None
        assert result.text, "a bad answer never stops the generation"


# --------------------------------------------------- stopFurtherScripts and continuityId


def _logs_every_hook(answer: str) -> str:
    lines = ["def make(name):"]
    lines.append("    def hook(p):")
    lines.append("        api.v1.log([name, p.continuityId])")
    lines.append(f"        return {answer}")
    lines.append("    return hook")
    lines.append(f"for name in {list(GENERATION_HOOKS)!r}:")
    lines.append("    api.v1.hooks.register(name, make(name))")
    return "\n".join(lines) + "\n"


async def test_one_continuity_id_across_a_generations_hooks(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.env.run(_logs_every_hook("None"))
        await e.editor.update_settings({"params": {"max_tokens": 3}})
        await e.editor.send("go", adventure=True)
        first = logged(e)
        assert {name for name, _ in first} == set(GENERATION_HOOKS)
        assert len({cid for _, cid in first}) == 1
        await e.editor.send(None)
        second = logged(e)[len(first) :]
        assert len({cid for _, cid in second}) == 1
        assert second[0][1] != first[0][1], "each generation has its own"
        await e.editor.build_context()  # api.v1.buildContext: a dry run has its own too
        build = logged(e)[len(first) + len(second) :]
        assert [name for name, _ in build] == [
            "onDocumentConvertedToText",
            "onBeforeContextBuild",
            "onContextBuilt",
        ]
        assert len({cid for _, cid in build}) == 1
        assert build[0][1] not in {first[0][1], second[0][1]}


async def test_stop_further_scripts_in_every_generation_hook(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        a = await e.env.run(_logs_every_hook("{'stopFurtherScripts': True}"), "a.py")
        b = await e.env.run(_logs_every_hook("None"), "b.py")
        await e.editor.update_settings({"params": {"max_tokens": 3}})
        result = await e.editor.send("go", adventure=True)
        assert result.text
        assert not result.stopped
        assert {name for name, _ in logged(e, a.id)} == set(GENERATION_HOOKS)
        assert logged(e, b.id) == [], "b is never asked"
        assert not errors(e)


async def test_stop_further_scripts_keeps_the_answer_of_the_script_that_set_it(
    tmp_path: Path,
) -> None:
    first = (
        "api.v1.hooks.register('onResponse',"
        " lambda p: {'text': [p.text[0].upper()], 'stopFurtherScripts': True})\n"
    )
    second = "api.v1.hooks.register('onResponse', lambda p: {'text': ['never']})\n"
    async with editor_env(tmp_path) as e:
        await e.env.run(first, "a.py")
        await e.env.run(second, "b.py")
        await e.editor.update_settings({"params": {"max_tokens": 5}})
        result = await e.editor.send("x")
        assert result.text == result.text.upper()
        assert "never" not in result.text


async def test_stop_generation_asks_no_further_script(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        a = await e.env.run(
            "api.v1.hooks.register('onGenerationRequested', lambda p: {'stopGeneration': True})\n",
            "a.py",
        )
        b = await e.env.run(_logs_every_hook("None"), "b.py")
        result = await e.editor.send("go")
        assert result.stopped
        assert result.stoppedBy == a.id
        assert [name for name, _ in logged(e, b.id)] == ["onGenerationEnd"]


async def test_a_refused_answer_does_not_stop_further_scripts(tmp_path: Path) -> None:
    first = (
        "api.v1.hooks.register('onDocumentConvertedToText',"
        " lambda p: {'sections': [], 'stopFurtherScripts': True})\n"
    )
    second = "api.v1.hooks.register('onDocumentConvertedToText', lambda p: api.v1.log('asked'))\n"
    async with editor_env(tmp_path) as e:
        await e.env.run(first, "a.py")
        b = await e.env.run(second, "b.py")
        await e.editor.edit(lambda doc: doc.append("words", "user"))
        await e.editor.build_context()
        assert e.env.lines(b.id) == ["asked"]
        assert any("result.sections" in line for line in errors(e))
