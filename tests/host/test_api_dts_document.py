"""api.v1.document as NovelAI's type definitions shape it, from real scripts in real workers
against a real editor: partial sections for writes, ``scan``'s range, ``textFromSelection``
with its ends left out, ``redo(nodeId)`` and ``nodeState``'s ``HistoryNodeState``."""

from __future__ import annotations

from pathlib import Path

from host_helpers import TRY
from test_api_editor import ALL, ran_with_all_edits, script, with_editor

from nai_script.host.permissions import grant_permissions


async def test_writes_take_partial_sections(tmp_path: Path) -> None:
    """NovelAI's ``appendParagraph({text})`` and the rest were refused ('must be a string');
    ``updateParagraphs`` took ``{sectionId, text}`` where NovelAI's takes ``{sectionId,
    section}``. A section read by ``scan`` goes back as it is."""
    body = TRY + (
        "doc = api.v1.document\n"
        "await doc.appendParagraph({'text': 'one'})\n"
        "await doc.appendParagraphs([{'text': 'two'}, {'text': 'three'}])\n"
        "ids = await doc.sectionIds()\n"
        "await doc.insertParagraphAfter(ids[0], {'text': 'one and a half'})\n"
        "await doc.insertParagraphsAfter(ids[2], [{'text': 'four'}, 'five'])\n"
        "await doc.updateParagraph(ids[1], {'text': 'TWO'})\n"
        "await doc.updateParagraphs([{'sectionId': ids[0], 'section': {'text': 'ONE'}},"
        " {'sectionId': ids[2], 'section': {'text': 'THREE'}}])\n"
        "scanned = (await doc.scan())[0]\n"
        "await doc.updateParagraph(scanned.sectionId, scanned.section)\n"
        "await doc.updateParagraph(ids[1], {'origin': []})\n"
        "api.v1.log([s.section.text for s in await doc.scan()])\n"
        "await ta('old form', lambda: doc.updateParagraphs([{'sectionId': ids[0], 'text': 'x'}]))\n"
        "await ta('formatting', lambda: doc.appendParagraph({'text': 'x',"
        " 'formatting': [{'position': 0, 'length': 1, 'data': 'bold'}]}))\n"
        "await ta('typo', lambda: doc.appendParagraph({'txt': 'x'}))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, editor):
        assert env.lines() == [
            '["ONE", "one and a half", "TWO", "THREE", "four", "five"]',
            "old form ValueError document.updateParagraphs updates[0]: must be {sectionId, "
            "section}",
            "formatting ValueError document.appendParagraph section.formatting: formatting is "
            "not supported (the editor keeps plain text)",
            "typo ValueError document.appendParagraph section.txt: Extra inputs are not permitted",
        ], env.lines(level="error")
        assert await editor.text() == "ONE\none and a half\nTWO\nTHREE\nfour\nfive"


async def test_scan_range_and_selection_ends_may_be_left_out(tmp_path: Path) -> None:
    """``scan(callback, {from?, to?})`` was refused ('takes at most 1 argument');
    ``textFromSelection()`` and a selection without ``to`` or without offsets were refused
    where NovelAI reads from the start / to the end."""
    body = TRY + (
        "doc = api.v1.document\n"
        "await doc.appendParagraphs(['a1', 'b22', 'c333', 'd4444'])\n"
        "ids = await doc.sectionIds()\n"
        "seen = []\n"
        "part = await doc.scan(lambda sid, s, i: seen.append(i), {'from': ids[1], 'to': ids[2]})\n"
        "api.v1.log([(p.index, p.section.text) for p in part], seen)\n"
        "api.v1.log(len(await doc.scan(None, {'from': ids[2]})), len(await doc.scan(range={})))\n"
        "api.v1.log(repr(await doc.textFromSelection()))\n"
        "api.v1.log(repr(await doc.textFromSelection({'from': {'sectionId': ids[2]}})))\n"
        "api.v1.log(repr(await doc.textFromSelection({'to': {'sectionId': ids[1], 'offset': 2}})))\n"
        "await ta('unknown', lambda: doc.scan(None, {'from': 'zz'}))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == [
            '[[1, "b22"], [2, "c333"]] [1, 2]',
            "2 4",
            "'a1\\nb22\\nc333\\nd4444'",
            "'c333\\nd4444'",
            "'a1\\nb2'",
            "unknown ValueError document.scan range.from: no section 'zz'",
        ], env.lines(level="error")


async def test_redo_to_a_given_child_and_node_state_shape(tmp_path: Path) -> None:
    """``redo(nodeId)`` was refused ('takes at most 0 arguments'); ``nodeState`` answered
    ``{id, parent, children, kind, created, current, sections}`` where NovelAI's
    ``HistoryNodeState`` is ``{backwardPath, forwardPath, backwardChanges, forwardChanges,
    sections, targetNode: {id, parent, children, route, genPosition}}``."""
    body = TRY + (
        "h = api.v1.document.history\n"
        "await api.v1.document.appendParagraph('abc')\n"
        "a = await h.currentNodeId()\n"
        "sid = (await api.v1.document.sectionIds())[0]\n"
        "await api.v1.document.appendParagraph('b')\n"
        "b1 = await h.currentNodeId()\n"
        "await h.undo()\n"
        "await api.v1.document.appendParagraph('c')\n"
        "b2 = await h.currentNodeId()\n"
        "await h.undo()\n"
        "api.v1.log(await h.redo(b1), await h.currentNodeId() == b1)\n"
        "api.v1.log(await h.redo(a), await h.currentNodeId() == b1)\n"
        "s = await h.nodeState(b2)\n"
        "api.v1.log(s.backwardPath == [b1], s.forwardPath == [b2])\n"
        "(back_sid, back), = s.backwardChanges[0]\n"
        "(fwd_sid, fwd), = s.forwardChanges[0]\n"
        "api.v1.log(back.type, back.previous.text, back.after == sid)\n"
        "api.v1.log(fwd.type, fwd.section.text, fwd.after == sid, fwd_sid != back_sid)\n"
        "api.v1.log([x.section.text for x in s.sections])\n"
        "t = s.targetNode\n"
        "api.v1.log(t.id == b2, t.parent == a, t.children, t.route, t.genPosition)\n"
        "api.v1.log((await h.nodeState(a)).targetNode.route == b1)\n"
        "await h.jump(a)\n"
        "await api.v1.document.updateParagraph(sid, {'text': 'aXc'})\n"
        "u = await h.currentNodeId()\n"
        "await h.undo()\n"
        "(_, step), = (await h.nodeState(u)).forwardChanges[0]\n"
        "api.v1.log(step.type, step.diff)\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == [
            "True True",
            "False True",
            "True True",
            "remove b True",
            "create c True True",
            '["abc", "c"]',
            "True True [] None None",
            "True",
            'update {"parts": [{"from": 1, "insert": "X", "delete": "b"}], "origin": [],'
            ' "formatting": []}',
        ], env.lines(level="error")


async def test_history_storage_takes_a_node_id(tmp_path: Path) -> None:
    """NovelAI's ``historyStorage.get(key, nodeId?)`` and the rest were refused ('takes at
    most 1 argument'): a value can be read at, or written to, another history node."""
    body = TRY + (
        "hs = api.v1.historyStorage\n"
        "await api.v1.document.appendParagraph('a')\n"
        "a = await api.v1.document.history.currentNodeId()\n"
        "await hs.set('k', 'at a')\n"
        "await api.v1.document.appendParagraph('b')\n"
        "await hs.set('k', 'at b')\n"
        "await hs.set('j', 1, a)\n"
        "api.v1.log(await hs.get('k'), await hs.get('k', a), await hs.get('j'))\n"
        "api.v1.log(await hs.has('j', a), await hs.list(a), await hs.getOrDefault('z', 0, a),"
        " await hs.setIfAbsent('j', 2, nodeId=a))\n"
        "await hs.remove('j', a)\n"
        "api.v1.log(await hs.has('j'), await hs.get('k'))\n"
        "await ta('unknown', lambda: hs.get('k', 'zz'))\n"
        "await ta('number', lambda: hs.get('k', 5))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == [
            "at b at a 1",
            'True ["j", "k"] 0 False',
            "False at b",
            "unknown ValueError historyStorage.get nodeId: the story has no history node 'zz'",
            "number ValueError historyStorage.get nodeId: must be a history node id string, got 5",
        ], env.lines(level="error")


async def test_build_context_takes_position_and_suppresses_hooks(tmp_path: Path) -> None:
    """``buildContext({position, suppressScriptHooks, forGeneration})`` and
    ``generateWithStory(..., {position, suppressScriptHooks})`` were refused ('Extra inputs
    are not permitted')."""
    hook = (
        "def built(p):\n"
        "    return {{'messages': [*p.messages, {{'role': 'user', 'content': '{0}'}}]}}\n"
        "api.v1.hooks.register('onContextBuilt', built)\n"
    )
    body = hook.format("SELF") + (
        "await api.v1.document.appendParagraphs(['Once upon a time.', 'Second part.'])\n"
        "ids = await api.v1.document.sectionIds()\n"
        "def tail(c):\n    return [m.content for m in c]\n"
        "api.v1.log(tail(await api.v1.buildContext()))\n"
        "api.v1.log(tail(await api.v1.buildContext({'suppressScriptHooks': 'self'})))\n"
        "api.v1.log(tail(await api.v1.buildContext({'suppressScriptHooks': 'all',"
        " 'forGeneration': True})))\n"
        "at = {'sectionId': ids[1], 'offset': 3}\n"
        "api.v1.log(tail(await api.v1.buildContext(options={'position': at,"
        " 'suppressScriptHooks': 'all'})))\n"
        "r = await api.v1.generateWithStory([{'role': 'user', 'content': 'Go on.'}],"
        " {'model': 'glm-4-6', 'max_tokens': 2}, {'position': at, 'suppressScriptHooks': 'self'})\n"
        "api.v1.log(len(r.choices[0].token_ids))\n"
        "try:\n    await api.v1.buildContext({'position': {'sectionId': 'zz'}})\n"
        "except ValueError as e:\n    api.v1.log(str(e))\n"
    )
    async with with_editor(tmp_path, permission_policy=grant_permissions) as (env, _):
        await env.run(script(hook.format("OTHER"), ALL, "other"), "other.py")
        await env.run(script(body, ALL))
        assert env.lines("t") == [
            '["Once upon a time.\\nSecond part.", "SELF"]',  # the last hook's answer
            '["Once upon a time.\\nSecond part.", "OTHER"]',
            '["Once upon a time.\\nSecond part."]',
            '["Once upon a time.\\nSec"]',
            "2",
            "buildContext options.position.sectionId: no section 'zz'",
        ], env.lines(level="error")


async def test_lorebook_takes_hidden_entries_and_category_headers(tmp_path: Path) -> None:
    """NovelAI's ``LorebookEntry.hidden`` and ``LorebookCategory.settings.entryHeader`` were
    refused ('Extra inputs are not permitted'); the header now leads each of the category's
    entries in the context."""
    body = (
        "cid = await api.v1.lorebook.createCategory({'name': 'People',"
        " 'settings': {'entryHeader': '----'}})\n"
        "eid = await api.v1.lorebook.createEntry({'text': 'Ada is a smith.', 'category': cid,"
        " 'forceActivation': True, 'hidden': True})\n"
        "e = await api.v1.lorebook.entry(eid)\n"
        "api.v1.log(e.hidden, (await api.v1.lorebook.category(cid)).settings.entryHeader)\n"
        "await api.v1.lorebook.updateEntry(eid, {'hidden': False})\n"
        "api.v1.log((await api.v1.lorebook.entry(eid)).hidden)\n"
        "api.v1.log(repr((await api.v1.buildContext())[0].content))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == ["True ----", "False", "'----\\nAda is a smith.'"], env.lines(
            level="error"
        )
