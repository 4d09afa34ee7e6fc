"""api.v1 calls from a real sandboxed script with edge and bad arguments: each error names the
call and the argument, bad input is a ``ValueError`` and a well-formed call that cannot be done
an ``ApiError`` (docs/api.md), and nothing of the host's internals reaches the script."""

from __future__ import annotations

from pathlib import Path

from host_helpers import TRY, hosted

from nai_script.host.storage import STORAGE_CAP_BYTES


async def test_rollover_helper_takes_keyword_options_and_checks_them(tmp_path: Path) -> None:
    """SPEC 4: keyword arguments stand in for the options object; they were refused as
    'unknown argument'. ``True`` passed as maxTokens, and an unknown model came back as an
    ``ApiError`` that did not name the call."""
    source = TRY + (
        "h = api.v1.createRolloverHelper(maxTokens=10, rolloverTokens=2, model='glm-4-6')\n"
        "api.v1.log(h.getConfig())\n"
        "t('bool', lambda: api.v1.createRolloverHelper({'maxTokens': True, 'model': 'glm-4-6'}))\n"
        "t('model', lambda: api.v1.createRolloverHelper({'maxTokens': 10, 'model': 'nope'}))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        lines = env.lines()
        assert lines[0] == '{"maxTokens": 10, "rolloverTokens": 2, "model": "glm-4-6"}'
        assert (
            lines[1]
            == "bool ValueError createRolloverHelper.maxTokens: Input should be a valid integer"
        )
        assert lines[2].startswith(
            "model ValueError createRolloverHelper.model: unknown model 'nope'"
        )


async def test_rollover_add_refuses_non_items_in_its_own_words(tmp_path: Path) -> None:
    """``add(5)`` said "'int' object is not iterable": Python's internals, not what the script
    got wrong. (A string is an item, as in NovelAI: test_hunt_api_contract.)"""
    source = TRY + (
        "h = api.v1.createRolloverHelper({'maxTokens': 10, 'model': 'glm-4-6'})\n"
        "await ta('int', lambda: h.add(5))\n"
        "await ta('in list', lambda: h.add([{'content': 'a', 'tokens': 1}, 5]))\n"
        "api.v1.log(h.count())\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        items = (
            "rolloverHelper.add item: must be a string, an item {content, tokens?} or a list "
            "of them"
        )
        assert env.lines() == [
            f"int ValueError {items}, got int",
            "in list ValueError rolloverHelper.add: rollover item 1: must be a string or an "
            "object {content, tokens?}, got int",
            "0",  # all or nothing: the good first item was not added either
        ]


async def test_time_until_for_more_than_capacity_names_the_call(tmp_path: Path) -> None:
    source = TRY + (
        "t('out', lambda: api.v1.script.getTimeUntilAllowedOutput(2049))\n"
        "t('in', lambda: api.v1.script.getTimeUntilAllowedInput(57345))\n"
        "t('edge', lambda: api.v1.script.getTimeUntilAllowedOutput(2048))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "out ValueError script.getTimeUntilAllowedOutput minTokens: output budget: 2049 tokens can never be "
            "available (capacity 2048)",
            "in ValueError script.getTimeUntilAllowedInput minTokens: input budget: 57345 tokens can never be "
            "available (capacity 57344)",
            "edge -> 0",
        ]


async def test_logging_functions_and_api_objects_shows_stand_ins(tmp_path: Path) -> None:
    """A logged function printed ``CallbackHandle(id=2)``, a helper the host's class and memory
    address, and a function inside a dict made ``api.v1.log`` raise a TypeError."""
    source = (
        "def f():\n    pass\n"
        "h = api.v1.createRolloverHelper({'maxTokens': 10, 'model': 'glm-4-6'})\n"
        "api.v1.log(f, h, {'cb': f, 'n': [1, h]})\n"
        "api.v1.error('bad', [f])\n"
    )
    async with hosted(tmp_path) as env:
        script = await env.run(source)
        assert env.lines() == [
            '[Function: f] [object] {"cb": "[Function: f]", "n": [1, "[object]"]}'
        ]
        assert env.lines(level="error") == ['bad ["[Function: f]"]']
        assert script.failures == 0


async def test_logging_what_is_not_data_prints_its_text(tmp_path: Path) -> None:
    """``api.v1.log("failed:", error)`` raised a TypeError (cannot pass a ValueError), as did a
    set, an api namespace or a script's object: log's arguments were checked like a call's
    data, where ``console.log`` prints anything."""
    source = (
        "class Point:\n"
        "    def __init__(self, x):\n        self.x = x\n"
        "    def __str__(self):\n        return 'Point(' + str(self.x) + ')'\n"
        "class Broken:\n"
        "    def __str__(self):\n        raise RuntimeError('no')\n"
        "try:\n    int('x')\nexcept ValueError as e:\n    caught = e\n"
        "api.v1.log('failed:', caught, KeyError())\n"
        "api.v1.log({1, 2} == {2, 1}, {3}, Point(2), Broken(), api.v1.storage)\n"
        "api.v1.log({'a': {4}}, [1, Point(5)])\n"
        "loop = [1]\nloop.append(loop)\napi.v1.log('cycle', loop)\n"
        "deep = []\nfor _ in range(100000):\n    deep = [deep]\napi.v1.log('deep', deep)\n"
        "api.v1.error(ValueError('bad input'))\n"
    )
    async with hosted(tmp_path) as env:
        script = await env.run(source)
        assert env.lines() == [
            "failed: ValueError: invalid literal for int() with base 10: 'x' KeyError",
            "True {3} Point(2) <Broken object> <api namespace v1.storage>",
            # data stays data (JSON), with what is not data as its text inside it
            '{"a": "{4}"} [1, "Point(5)"]',
            "cycle [1, [...]]",
            "deep <list object>",  # too deep for data, and its str hits the recursion limit
        ]
        assert env.lines(level="error") == ["ValueError: bad input"]
        assert script.failures == 0


async def test_logging_data_at_the_depth_limit_never_fails(tmp_path: Path) -> None:
    """Two values a log line failed on: 200 nested lists (they fit the limit, then the
    call's arguments list made 201 levels: TypeError), and 150 nested dicts holding a marker
    key (each travels wrapped, two levels: the frame stopped the worker). Both print."""
    source = (
        "plain = []\nfor _ in range(199):\n    plain = [plain]\n"
        "marked = {}\nfor _ in range(150):\n    marked = {'$remote': 1, 'v': marked}\n"
        "api.v1.log('plain', plain)\n"
        "api.v1.log('marked', marked)\n"
        "api.v1.log('fits', [[[{'$remote': 1}]]])\n"
    )
    async with hosted(tmp_path) as env:
        script = await env.run(source)
        lines = env.lines()
        assert lines[0] == "plain " + "[" * 200 + "]" * 200
        assert lines[1].startswith("marked {'$remote': 1, 'v': {'$remote': 1, 'v': {")  # text
        assert lines[2] == 'fits [[[{"$remote": 1}]]]'  # data: its marker key is only a key
        assert script.failures == 0


async def test_an_object_that_logs_itself_while_printed_ends(tmp_path: Path) -> None:
    """A ``__str__`` that logs its own object recurses through the host: the worker's
    recursion limit ends it (the deepest one prints by its type), and the script goes on."""
    source = (
        "class Loop:\n"
        "    def __str__(self):\n"
        "        api.v1.log('inner', self)\n"
        "        return 'loop'\n"
        "api.v1.log('outer', Loop())\n"
        "api.v1.log('after')\n"
    )
    async with hosted(tmp_path) as env:
        script = await env.run(source)
        lines = env.lines()
        assert lines[-2:] == ["outer loop", "after"]
        assert lines[0] == "inner <Loop object>"
        assert set(lines[1:-2]) <= {"inner loop", "inner <Loop object>"}
        assert script.failures == 0


async def test_storage_bad_arguments_are_value_errors_and_a_full_store_an_api_error(
    tmp_path: Path,
) -> None:
    """docs/api.md: bad arguments raise ``ValueError``; every storage error was an
    ``ApiError``, and a function value was refused as 'Object of type CallbackHandle'."""
    source = TRY + (
        "def f():\n    pass\n"
        "for ns in ('storage', 'storyStorage', 'historyStorage', 'tempStorage'):\n"
        "    st = getattr(api.v1, ns)\n"
        "    await ta(ns, lambda: st.set('', 1))\n"
        "    await ta(ns, lambda: st.get(3))\n"
        "    await ta(ns, lambda: st.set('k', {'f': f}))\n"
        "    await ta(ns, lambda: st.set('k', float('inf')))\n"
        f"await api.v1.storage.set('big', 'x' * ({STORAGE_CAP_BYTES} - 100))\n"
        "await ta('full', lambda: api.v1.storage.set('more', 'y' * 200))\n"
        "api.v1.log(await api.v1.storage.list())\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        expected = []
        for ns in ("storage", "storyStorage", "historyStorage", "tempStorage"):
            expected += [
                f"{ns} ValueError {ns}.set: storage key must be a non-empty string, got ''",
                f"{ns} ValueError {ns}.get: storage key must be a non-empty string, got 3",
                f"{ns} ValueError {ns}.set: storage value for 'k' is not JSON: a function "
                "cannot be stored (JSON values only)",
                f"{ns} ValueError {ns}.set: storage value for 'k' is not JSON: Out of range "
                "float values are not JSON compliant",
            ]
        lines = env.lines()
        assert lines[:-2] == expected
        assert lines[-2] == (
            "full ApiError storage.set: storage is full: writing 'more' would use 4194415 "
            "bytes, over the 4 MB limit per script"
        )
        assert lines[-1] == '["big"]'


async def test_random_float_refuses_infinite_bounds(tmp_path: Path) -> None:
    """``random.float(0, inf)`` returned ``inf`` and ``random.float(nan, 1)`` ``nan``."""
    source = TRY + (
        "t('inf', lambda: api.v1.random.float(0, float('inf')))\n"
        "t('nan', lambda: api.v1.random.float(float('nan'), 1))\n"
        "t('chance', lambda: api.v1.random.bool(float('nan')))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "inf ValueError random.float max: must be a finite number, got inf",
            "nan ValueError random.float min: must be a finite number, got nan",
            "chance ValueError random.bool chance: must be a finite number, got nan",
        ]


async def test_permission_reason_and_message_target_must_be_strings(tmp_path: Path) -> None:
    """A dict reason went to the page, which showed '[object Object]'; ``send(None)`` looked
    for a script with id 'None' and failed as an ``ApiError``."""
    source = TRY + (
        "await ta('reason', lambda: api.v1.permissions.request('storyEdit', {'why': 1}))\n"
        "await ta('target', lambda: api.v1.messaging.send(None, 1))\n"
        "await ta('ok', lambda: api.v1.permissions.request('storyEdit', 'to edit'))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "reason ValueError permissions.request message: must be a string, got dict",
            "target ValueError messaging.send toScriptId: must be a script id string, got None",
            "ok -> False",
        ]


async def test_config_get_with_a_non_string_name_says_so(tmp_path: Path) -> None:
    """``config.get({})`` raised "unhashable type: 'dict'" from the host's dict lookup."""
    source = TRY + (
        "await ta('dict', lambda: api.v1.config.get({}))\n"
        "await ta('list', lambda: api.v1.config.get(['a']))\n"
        "await ta('missing', lambda: api.v1.config.get('a'))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "dict ValueError config.get key: must be a string, got dict",
            "list ValueError config.get key: must be a string, got list",
            "missing ValueError config.get: no config option 'a' (options: none)",
        ]
