"""api.v1 as a NovelAI script author sees it, from real scripts in real workers against the
simulator: error messages, argument names, and the shapes NovelAI's type definitions give."""

from __future__ import annotations

from pathlib import Path

from host_helpers import TRY, hosted
from test_api_editor import ran_with_all_edits

from nai_script.host.api.basics import PERMISSIONS
from nai_script.host.permissions import grant_permissions
from sandbox.rlimits import WorkerLimits


async def test_a_function_or_api_object_in_a_bad_argument_reads_as_such(tmp_path: Path) -> None:
    """A function nested in a bad ``model`` showed as ``CallbackHandle(id=1)`` (the worker's
    internal id), and an api object as ``RemoteObject(target=<nai_script...RolloverObject object
    at 0x7f...>, methods={...})``: the host's class and a memory address."""
    source = TRY + (
        "def f():\n    pass\n"
        "h = api.v1.createRolloverHelper({'maxTokens': 5, 'model': 'glm-4-6'})\n"
        "await ta('fn', lambda: api.v1.tokenizer.encode('x', {'a': f}))\n"
        "await ta('obj', lambda: api.v1.maxTokens([h]))\n"
        "t('both', lambda: api.v1.random.int({'f': f, 'h': h}, 5))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "fn ValueError tokenizer.encode model: must be a model id string, got {'a': <function>}",
            "obj ValueError maxTokens model: must be a model id string, got [<api object>]",
            "both ValueError random.int min: must be an integer, got "
            "{'f': <function>, 'h': <api object>}",
        ]


async def test_every_usage_error_starts_with_the_call_it_is_about(tmp_path: Path) -> None:
    """docs/api.md: a bad argument is a ``ValueError`` naming the call and the argument. Shared
    validators named only the argument (``params.model: Field required`` from ``generate``,
    ``hooks: unknown hook``, ``permissions: unknown permission``), and the budget calls named
    half the call (``getTimeUntilAllowedOutput: ...`` for ``script.getTimeUntilAllowedOutput``)."""
    source = TRY + (
        "h = api.v1.createRolloverHelper({'maxTokens': 5, 'model': 'glm-4-6'})\n"
        "await ta('a', lambda: api.v1.generate([{'role': 'user', 'content': 'x'}], {}))\n"
        "await ta('b', lambda: api.v1.generate([{'role': 'bot', 'content': 'x'}], {'model': 'm'}))\n"
        "t('c', lambda: api.v1.hooks.register('onNothing', lambda: None))\n"
        "await ta('d', lambda: api.v1.permissions.has('root'))\n"
        "t('e', lambda: api.v1.script.getTimeUntilAllowedOutput(-1))\n"
        "await ta('f', lambda: api.v1.maxTokens('nope'))\n"
        "t('g', lambda: h.remove(-1))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        heads = [line.split(":")[0] for line in env.lines()]
        assert heads == [
            "a ValueError generate params.model",
            "b ValueError generate messages[0].role",
            "c ValueError hooks.register hookName",
            "d ValueError permissions.has permission",
            "e ValueError script.getTimeUntilAllowedOutput minTokens",
            "f ValueError maxTokens model",
            "g ValueError rolloverHelper.remove n",
        ]


async def test_history_node_ids_are_checked_and_lookups_answer_as_novelai_does(
    tmp_path: Path,
) -> None:
    """``nodeState(5)`` looked up node '5' and raised ``ApiError`` (a bad argument is a
    ``ValueError``); ``nodeState`` of an unknown node raised where NovelAI resolves
    ``undefined``; ``jump`` resolved ``None`` where NovelAI resolves ``true``."""
    body = TRY + (
        "await api.v1.document.appendParagraph('a')\n"
        "first = await api.v1.document.history.currentNodeId()\n"
        "await api.v1.document.appendParagraph('b')\n"
        "await ta('int', lambda: api.v1.document.history.nodeState(5))\n"
        "await ta('unknown', lambda: api.v1.document.history.nodeState('zz'))\n"
        "await ta('jump', lambda: api.v1.document.history.jump(first))\n"
        "state = await api.v1.document.history.nodeState()\n"
        "api.v1.log(state.targetNode.id == first, state.backwardPath + state.forwardPath)\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == [
            "int ValueError document.history.nodeState nodeId: must be a string, got int",
            "unknown -> None",
            "jump -> True",
            "True []",
        ], env.lines(level="error")


async def test_keyword_arguments_use_novelai_parameter_names(tmp_path: Path) -> None:
    """docs/api.md: keyword arguments with NovelAI's parameter names are accepted. These were
    refused as 'unknown argument' because the host named them otherwise (``ms`` for
    ``delay``, ``default`` for ``defaultValue``, ``tokens`` for ``minTokens``, ``name`` for
    ``hookName`` and ``key``, ``dice`` for ``expression``, ``reason`` for ``message``...)."""
    source = (
        '"""\n---\nid: kw\nconfig:\n  - {name: n, type: number, default: 3}\n---\n"""\n'
        "def f(*a):\n    pass\n"
        "v1 = api.v1\n"
        "out = [v1.script.getTimeUntilAllowedOutput(minTokens=1),\n"
        "       v1.script.getTimeUntilAllowedInput(minTokens=1),\n"
        "       await v1.script.waitForAllowedOutput(minTokens=0),\n"
        "       await v1.script.waitForAllowedInput(minTokens=0),\n"
        "       v1.hooks.register(hookName='onResponse', callback=f),\n"
        "       v1.hooks.isRegistered(hookName='onResponse'),\n"
        "       v1.hooks.unregister(hookName='onResponse'),\n"
        "       await v1.config.get(key='n'),\n"
        "       v1.random.roll(expression='2d1+1')['total'],\n"
        "       await v1.permissions.request(permission='storyEdit', message='to edit'),\n"
        "       await v1.timers.sleep(delay=0),\n"
        "       await v1.timers.clearTimeout(timerId=await v1.timers.setTimeout(callback=f,"
        " delay=60000)),\n"
        "       await v1.storage.getOrDefault(key='k', defaultValue=7),\n"
        "       await v1.messaging.unsubscribe(\n"
        "           subscriptionIndex=await v1.messaging.onMessage(callback=f)),\n"
        "       v1.createRolloverHelper(config={'maxTokens': 9, 'model': 'glm-4-6'}).getConfig()"
        "['maxTokens']]\n"
        "api.v1.log(out)\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "[0, 0, null, null, null, true, true, 3, 3, false, null, null, 7, null, 9]"
        ], env.lines(level="error")


async def test_editor_calls_take_novelai_parameter_names(tmp_path: Path) -> None:
    """``updateEntry(id=..., entry=...)``, ``removeEntry(id=...)``, ``entries(category=...)``
    and ``story.title.set(title=...)`` were refused: the host called them ``entryId``,
    ``categoryId`` and ``text``."""
    body = (
        "eid = await api.v1.lorebook.createEntry({'text': 'a'})\n"
        "await api.v1.lorebook.updateEntry(id=eid, entry={'text': 'b'})\n"
        "api.v1.log(len(await api.v1.lorebook.entries(category=None)),"
        " (await api.v1.lorebook.entry(entryId=eid)).text)\n"
        "await api.v1.lorebook.removeEntry(id=eid)\n"
        "await api.v1.story.title.set(title='T')\n"
        "await api.v1.story.description.set(description='D')\n"
        "api.v1.log(len(await api.v1.lorebook.entries()), await api.v1.story.title.get(),"
        " await api.v1.story.description.get())\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == ["1 b", "0 T D"], env.lines(level="error")


async def test_permissions_has_takes_a_list_as_request_does(tmp_path: Path) -> None:
    """NovelAI's ``has(permission | permission[])``: a list was refused as an unknown
    permission ``['storyEdit']``."""
    source = (
        '"""\n---\nid: p\npermissions: [storyEdit]\n---\n"""\n'
        + TRY
        + (
            "await ta('one', lambda: api.v1.permissions.has('storyEdit'))\n"
            "await ta('all held', lambda: api.v1.permissions.has(['storyEdit']))\n"
            "await ta('one missing', lambda: api.v1.permissions.has(['storyEdit', 'documentEdit']))\n"
            "await ta('bad', lambda: api.v1.permissions.has(['storyEdit', 'root']))\n"
        )
    )
    async with hosted(tmp_path, permission_policy=grant_permissions) as env:
        await env.run(source)
        assert env.lines() == [
            "one -> True",
            "all held -> True",
            "one missing -> False",
            "bad ValueError permissions.has permission: unknown permission 'root' ("
            + ", ".join(PERMISSIONS)
            + ")",
        ]


async def test_rollover_helper_takes_strings_and_trims_at_the_edges_as_spec_says(
    tmp_path: Path,
) -> None:
    """NovelAI's ``add("Hello, world!")`` (an item may be a plain string) was refused with
    'must be an item {content, tokens?}'. The edges of SPEC 4's trimming are pinned too: a
    window of exactly maxTokens + rolloverTokens stays whole, one token more trims to
    maxTokens, an item larger than maxTokens is trimmed with the rest, ``remove(n)`` past
    the count empties it, and ``compact`` after a read forgets only what was trimmed."""
    source = (
        "h = api.v1.createRolloverHelper({'maxTokens': 10, 'rolloverTokens': 5,"
        " 'model': 'glm-4-6'})\n"
        "def names(items):\n    return ''.join(i.content[0] for i in items)\n"
        "await h.add('hello')\n"
        "first = h.getAll()[0]\n"
        "api.v1.log(first.content, first['tokens'] > 0)\n"
        "h.clear()\n"
        "await h.add([{'content': 'a', 'tokens': 5}, 'b', {'content': 'c', 'tokens': 5}])\n"
        "h.remove(2)\n"
        "await h.add([{'content': 'b', 'tokens': 5}, {'content': 'c', 'tokens': 5}])\n"
        "api.v1.log('exact', names(h.peek()), h.count(), h.totalTokens())\n"
        "await h.add({'content': 'd', 'tokens': 1})\n"
        "api.v1.log('over', names(h.peek()), h.count(), h.totalTokens(), len(h.getAll()))\n"
        "api.v1.log('read', names(h.read()), len(h.getAll()))\n"
        "h.compact()\n"
        "api.v1.log('compact', names(h.getAll()), names(h.read()))\n"
        "await h.add({'content': 'huge', 'tokens': 11})\n"
        "api.v1.log('huge', names(h.read()), h.totalTokens(), names(h.getAll()))\n"
        "h.remove(99)\n"
        "api.v1.log('remove', h.count(), len(h.getAll()))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "hello True",
            "exact abc 3 15",
            "over cd 2 6 4",
            "read cd 4",
            "compact cd cd",
            "huge  0 cdh",
            "remove 0 0",
        ], env.lines(level="error")


async def test_rollover_adds_land_in_the_order_they_were_called(tmp_path: Path) -> None:
    """Calls start at once (SPEC 3), so a script may start ``add(long_text)`` and, before it
    resolves, ``add(item_with_tokens)``. The second landed first: the long text was still
    being tokenized (on a thread), and the item with its count was appended straight away."""
    source = (
        "h = api.v1.createRolloverHelper({'maxTokens': 1000000, 'model': 'glm-4-6'})\n"
        "first = h.add('word ' * 20000)\n"
        "second = h.add(['two', {'content': 'three', 'tokens': 1}])\n"
        "await h.add({'content': 'four', 'tokens': 1})\n"
        "await first\n"
        "await second\n"
        "api.v1.log([i.content[:5] for i in h.getAll()])\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == ['["word ", "two", "three", "four"]'], env.lines(level="error")


async def test_rollover_items_past_the_scripts_budget_are_an_api_error(tmp_path: Path) -> None:
    """Items with their own ``tokens`` are never tokenized, so a script could pile them up in
    the host's memory without end; its helpers together hold at most 32 MiB."""
    source = (
        "h = api.v1.createRolloverHelper({'maxTokens': 100, 'model': 'glm-4-6'})\n"
        "item = {'content': 'x' * 11_200_000, 'tokens': 1}\n"
        "await h.add(item)\n"
        "other = api.v1.createRolloverHelper({'maxTokens': 100, 'model': 'glm-4-6'})\n"
        "await other.add(item)\n"
        "try:\n"
        "    await h.add(item)\n"
        "except ApiError as error:\n"
        "    api.v1.log('refused', 'over the 33,554,432-byte limit' in str(error), h.count())\n"
        "h.clear()\n"
        "await h.add(item)\n"
        "api.v1.log('after clear', h.count())\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == ["refused True 1", "after clear 1"], env.lines(level="error")


async def test_a_dropped_helpers_items_no_longer_count(tmp_path: Path) -> None:
    """A helper per chat, each dropped for the next: the host drops the helper once the
    script holds no proxy for it, and the 32 MiB its items may take comes back with it."""
    source = (
        "item = {'content': 'x' * 11_200_000, 'tokens': 1}\n"
        "for chat in range(5):\n"
        "    h = api.v1.createRolloverHelper({'maxTokens': 100, 'model': 'glm-4-6'})\n"
        "    await h.add(item)\n"
        "api.v1.log('five chats', h.count())\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == ["five chats 1"], env.lines(level="error")


async def test_held_host_objects_are_capped_per_script(tmp_path: Path) -> None:
    """Signals and helpers live in the host's memory while a script holds them, beyond its
    own memory limit: past ``max_remote_objects`` the call that would make one more fails
    with an ApiError the script can catch; one dropped for the next never counts."""
    source = (
        "kept = []\n"
        "try:\n"
        "    while True:\n"
        "        kept.append(await api.v1.createCancellationSignal())\n"
        "except ApiError as error:\n"
        "    api.v1.log(len(kept), str(error).split(';')[0])\n"
        "try:\n"
        "    api.v1.createRolloverHelper({'maxTokens': 9, 'model': 'glm-4-6'})\n"
        "except ApiError:\n"
        "    api.v1.log('helper refused too')\n"
        "kept = None\n"
        "for i in range(60):\n"
        "    signal = await api.v1.createCancellationSignal()\n"
        "api.v1.log('then', signal.cancelled)\n"
    )
    async with hosted(tmp_path, worker_limits=WorkerLimits(max_remote_objects=20)) as env:
        await env.run(source)
        assert env.lines() == [
            "20 the script holds 20 host objects (signals, windows, helpers: at most 20 at once)",
            "helper refused too",
            "then False",
        ], env.lines(level="error")


async def test_an_unknown_model_or_foreign_token_ids_are_value_errors(tmp_path: Path) -> None:
    """``tokenizer.encode('x', 'nope')`` raised ``ApiError`` while ``maxTokens('nope')``
    raised ``ValueError``: both are the script's bad argument, as are ids outside the
    model's vocabulary."""
    source = TRY + (
        "await ta('enc', lambda: api.v1.tokenizer.encode('x', 'nope'))\n"
        "await ta('dec', lambda: api.v1.tokenizer.decode([1], 'nope'))\n"
        "await ta('ids', lambda: api.v1.tokenizer.decode([10**9], 'glm-4-6'))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        known = "(known models: glm-4-6, xialong-v1, llama-3-erato-v1, kayra-v1, clio-v1"
        lines = env.lines()
        assert lines[0].startswith(
            f"enc ValueError tokenizer.encode model: unknown model 'nope' {known}"
        )
        assert lines[1].startswith(
            f"dec ValueError tokenizer.decode model: unknown model 'nope' {known}"
        )
        assert lines[2].startswith(
            "ids ValueError tokenizer.decode tokens: token id 1000000000 at position 0 is outside"
        )


async def test_generation_parameters_refuse_a_model_the_context_cannot_be_built_for(
    tmp_path: Path,
) -> None:
    """``generationParameters.update({'model': 'nope'})`` was stored; every later Send,
    ``buildContext`` and ``generateWithStory`` then failed with an ``ApiError`` that named
    no call: "unknown model 'nope' (known models: ...)"."""
    body = TRY + (
        "await ta('bad', lambda: api.v1.generationParameters.update({'model': 'nope'}))\n"
        "await ta('type', lambda: api.v1.generationParameters.update({'model': 5}))\n"
        "api.v1.log((await api.v1.generationParameters.get()).model)\n"
        "api.v1.log(len(await api.v1.buildContext()) > 0)\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, editor):
        lines = env.lines()
        assert lines[0].startswith(
            "bad ValueError generationParameters.update params.model: unknown model 'nope'"
        )
        assert lines[1] == (
            "type ValueError generationParameters.update params.model: must be a model id "
            "string, got 5"
        )
        assert lines[2:] == ["glm-4-6", "True"], env.lines(level="error")
        assert (await editor.settings()).params.model == "glm-4-6"


async def test_messages_carry_channels_and_handlers_filter_them(tmp_path: Path) -> None:
    """NovelAI's ``send(toScriptId, data, channel)``, ``broadcast(data, channel)`` and
    ``onMessage(callback, {fromScriptId?, channel?})`` were refused ('takes at most 2
    arguments', 'at most 1'), and a handler got only ``{data, fromScriptId}``."""
    receiver = (
        "def every(m):\n"
        "    api.v1.log('every', m.fromScriptId, m.toScriptId, m.channel, m.data,"
        " m.timestamp > 0)\n"
        "def chat(m):\n    api.v1.log('chat', m.data)\n"
        "def from_c(m):\n    api.v1.log('from c', m.data)\n"
        "await api.v1.messaging.onMessage(every)\n"
        "await api.v1.messaging.onMessage(chat, {'channel': 'chat'})\n"
        "await api.v1.messaging.onMessage(from_c, filter={'fromScriptId': 'c'})\n"
    )
    sender = TRY + (
        "api.v1.log(await api.v1.messaging.send('b', 1, 'chat'))\n"
        "api.v1.log(await api.v1.messaging.broadcast(2))\n"
        "api.v1.log(await api.v1.messaging.send('b', 3, channel='news'))\n"
        "await ta('bad', lambda: api.v1.messaging.broadcast(4, 5))\n"
        "await ta('filter', lambda: api.v1.messaging.onMessage(lambda m: None, {'channl': 'x'}))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(receiver, "b.py")
        await env.run(sender, "a.py")
        for script in env.host.scripts:
            await env.host.wait_idle(script)
        assert env.lines("a") == [
            "None",
            "None",
            "None",
            "bad ValueError messaging.broadcast channel: must be a string or None, got 5",
            "filter ValueError messaging.onMessage filter.channl: Extra inputs are not permitted",
        ]
        assert sorted(env.lines("b")) == [
            "chat 1",
            "every a None None 2 True",
            "every a b chat 1 True",
            "every a b news 3 True",
        ]


async def test_int_keys_pass_as_js_object_keys(tmp_path: Path) -> None:
    """NovelAI's ``logit_bias`` is ``Record<number, number>``; the natural Python spelling
    ``{5: -100}`` failed in the worker with a ``TypeError`` ('key 5 has type int; keys must be
    str'). Int keys now cross as their decimal strings, as in JSON and JS."""
    source = (
        "r = await api.v1.generate([{'role': 'user', 'content': 'hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 2, 'logit_bias': {5: -100, 7: 1.5}})\n"
        "api.v1.log(len(r.choices[0].token_ids))\n"
        "await api.v1.storage.set('k', {1: 'a'})\n"
        "api.v1.log(await api.v1.storage.get('k'))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == ["2", '{"1": "a"}'], env.lines(level="error")
