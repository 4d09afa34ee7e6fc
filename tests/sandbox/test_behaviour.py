"""Behaviour suite: ordinary scripts work under the sandbox exactly as plain Python would."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from sandbox.compiler import compile_script
from sandbox.runtime import make_globals, run_compiled
from sandbox.values import JSObject, to_script_value


class HostApi:
    """A host-made api object: scripts may read it and call it, not change it."""

    def __init__(self) -> None:
        self.response = to_script_value(
            {"choices": [{"text": "Once upon", "index": 0, "token_ids": [1, 2]}], "model": "m"}
        )
        self.calls: list[Any] = []

    async def generate(self, prompt: str) -> JSObject:
        self.calls.append(prompt)
        return to_script_value({"choices": [{"text": prompt.upper()}]})

    def record(self, value: Any) -> None:
        self.calls.append(value)


async def run(source: str, api: Any = None) -> tuple[list[str], dict[str, Any]]:
    printed: list[str] = []
    compiled = compile_script(textwrap.dedent(source), "behaviour.py")
    script_globals = make_globals(api or HostApi(), print_sink=printed.append)
    pending = run_compiled(compiled, script_globals)
    if pending is not None:
        await pending
    return printed, script_globals


SYNC_CASES: list[tuple[str, str, list[str]]] = [
    (
        "classes_and_inheritance",
        """
        class Animal:
            kind = "animal"
            def __init__(self, name):
                self.name = name
            def describe(self):
                return self.name + " is an " + self.kind
        class Dog(Animal):
            kind = "dog"
            def __init__(self, name, tricks):
                super().__init__(name)
                self.tricks = list(tricks)
            def learn(self, trick):
                self.tricks.append(trick)
                return self
        d = Dog("Rex", ["sit"]).learn("roll")
        print(d.describe(), d.tricks, isinstance(d, Animal), Dog.kind, Animal.kind)
        """,
        ["Rex is an dog ['sit', 'roll'] True dog animal"],
    ),
    (
        "property_staticmethod_classmethod",
        """
        class Temp:
            count = 0
            def __init__(self, c):
                self.c = c
                Temp.count = Temp.count + 1
            @property
            def f(self):
                return self.c * 9 / 5 + 32
            @staticmethod
            def zero():
                return Temp(0)
            @classmethod
            def made(cls):
                return cls.count
        print(Temp(100).f, Temp.zero().f, Temp.made())
        """,
        ["212.0 32.0 2"],
    ),
    (
        "closures_and_nonlocal",
        """
        def counter():
            n = 0
            def step(by=1):
                nonlocal n
                n += by
                return n
            return step
        c = counter()
        c(); c(5)
        print(c())
        """,
        ["7"],
    ),
    (
        "comprehensions_and_generators",
        """
        def squares(n):
            for i in range(n):
                yield i * i
        pairs = {k: v for k, v in zip("abc", squares(3))}
        odd = {x for x in squares(6) if x % 2}
        nested = [a + b for a, b in [(1, 2), (3, 4)]]
        first, *rest = squares(4)
        print(pairs, sorted(odd), nested, first, rest, sum(x for x in squares(4)))
        """,
        ["{'a': 0, 'b': 1, 'c': 4} [1, 9, 25] [3, 7] 0 [1, 4, 9] 14"],
    ),
    (
        "fstrings_and_formatting",
        """
        name = "Ada"
        value = 3.14159
        print(f"{name!r}:{value:.2f}:{name:>5}|", "%s=%d" % ("n", 4), format(255, "x"))
        """,
        ["'Ada':3.14:  Ada| n=4 ff"],
    ),
    (
        "try_except_finally",
        """
        log = []
        def risky(x):
            try:
                if x == 0:
                    raise ValueError("zero")
                return 10 // x
            except ValueError as error:
                log.append("caught " + str(error))
                return -1
            finally:
                log.append("done")
        print(risky(2), risky(0), log)
        try:
            {}["missing"]
        except KeyError as error:
            print("key", error.args)
        """,
        ["5 -1 ['done', 'caught zero', 'done']", "key ('missing',)"],
    ),
    (
        "with_on_script_class",
        """
        class Block:
            def __init__(self, log):
                self.log = log
            def __enter__(self):
                self.log.append("enter")
                return self
            def __exit__(self, kind, value, tb):
                self.log.append("exit " + str(kind is RuntimeError))
                return True
        log = []
        with Block(log) as block:
            raise RuntimeError("swallowed")
        print(log)
        """,
        ["['enter', 'exit True']"],
    ),
    (
        "stdlib_modules",
        """
        import json, re, math, random, datetime, itertools, functools, collections, string
        from textwrap import shorten
        data = json.loads('{"a": [1, 2]}')
        words = re.findall(r"[a-z]+", "One two, three")
        rng = random
        rng.seed(7)
        roll = rng.randint(1, 6)
        day = datetime.date(2024, 2, 29) + datetime.timedelta(days=1)
        combos = list(itertools.combinations("abc", 2))
        total = functools.reduce(lambda a, b: a + b, [1, 2, 3])
        counts = collections.Counter("banana")
        counts["z"] += 1
        print(data["a"], words, math.sqrt(16), 1 <= roll <= 6, day.isoformat())
        print(len(combos), total, counts.most_common(1), string.digits, shorten("a b c d e f", 7))
        """,
        ["[1, 2] ['ne', 'two', 'three'] 4.0 True 2024-03-01", "3 6 [('a', 3)] 0123456789 a [...]"],
    ),
    (
        "print_reaches_sink",
        """
        print("a", 1, sep="-", end="!")
        print()
        print("multi", "args")
        def inner():
            print("from a function")
        inner()
        """,
        ["a-1!", "", "multi args", "from a function"],
    ),
    (
        "jsobject_access_and_updates",
        """
        r = api.response
        print(r.choices[0].text, r["choices"][0]["text"], r.model)
        r.choices[0].text += " a time"
        r["choices"][0]["index"] += 1
        r.extra = {"k": 1}
        r.extra["k"] *= 10
        print(r.choices[0]["text"], r.choices[0].index, r.extra["k"], "extra" in r)
        """,
        ["Once upon Once upon m", "Once upon a time 1 10 True"],
    ),
    (
        "augmented_assignment_on_attributes_and_items",
        """
        class Box:
            def __init__(self):
                self.n = 1
                self.items = [1]
        b = Box()
        b.n += 2
        b.n *= 5
        b.items += [2]
        grid = [[0, 0], [0, 0]]
        grid[1][0] -= 3
        d = {"x": "a"}
        d["x"] += "b"
        calls = []
        def key():
            calls.append(1)
            return "x"
        d[key()] += "c"
        print(b.n, b.items, grid, d, len(calls))
        """,
        ["15 [1, 2] [[0, 0], [-3, 0]] {'x': 'abc'} 1"],
    ),
    (
        "slices_and_deletes",
        """
        a = [1, 2, 3, 4, 5]
        head, evens, backwards = a[:2], a[1::2], "abc"[::-1]
        a[0:2] = [9]
        del a[-1]
        grid = {(0, 1): "x"}
        class Note:
            def __init__(self):
                self.text = "t"
                self.tmp = 1
        n = Note()
        del n.tmp
        print(head, evens, backwards, a, grid[0, 1], hasattr(n, "tmp"), n.text)
        """,
        ["[1, 2] [2, 4] cba [9, 3, 4] x False t"],
    ),
    (
        "unpacking_and_walrus",
        """
        (a, b), c = (1, 2), 3
        for i, (x, y) in enumerate([(4, 5)]):
            pass
        if (n := len([1, 2, 3])) > 2:
            print(a, b, c, i, x, y, n)
        """,
        ["1 2 3 0 4 5 3"],
    ),
    (
        "exceptions_defined_by_script",
        """
        class MyError(ValueError):
            pass
        try:
            raise MyError("custom")
        except ValueError as error:
            print(isinstance(error, MyError), type(error) is MyError, str(error))
        """,
        ["True True custom"],
    ),
    (
        "host_calls_and_safe_builtins",
        """
        api.record(sorted([3, 1, 2], reverse=True))
        print(getattr(api, "missing", "default"), hasattr(api, "record"), callable(api.record))
        print(min(3, 1), max([1, 9]), abs(-2), round(2.567, 2), divmod(7, 2), hex(255), chr(65), ord("A"))
        """,
        ["default True True", "1 9 2 2.57 (3, 1) 0xff A 65"],
    ),
]


@pytest.mark.parametrize(
    ("name", "source", "expected"), SYNC_CASES, ids=[case[0] for case in SYNC_CASES]
)
async def test_ordinary_script_behaves_like_python(
    name: str, source: str, expected: list[str]
) -> None:
    printed, _ = await run(source)
    assert printed == expected


async def test_top_level_await_and_async_constructs() -> None:
    api = HostApi()
    printed, script_globals = await run(
        """
        class Ticker:
            def __init__(self, n):
                self.n = n
                self.i = 0
            def __aiter__(self):
                return self
            async def __anext__(self):
                if self.i >= self.n:
                    raise StopAsyncIteration
                self.i += 1
                return self.i, self.i * 10

        class Session:
            def __init__(self):
                self.log = []
            async def __aenter__(self):
                self.log.append("open")
                return self
            async def __aexit__(self, kind, value, tb):
                self.log.append("close")

        async def numbers(n):
            for i in range(n):
                yield i

        resp = await api.generate("hello")
        print(resp.choices[0].text)
        pairs = []
        async for i, tens in Ticker(2):
            pairs.append((i, tens))
        squares = [n * n async for n in numbers(4)]
        evens = {n async for n in numbers(6) if n % 2 == 0}
        async with Session() as session:
            session.log.append("work")
        print(pairs, squares, sorted(evens), session.log)

        async def later():
            return await api.generate("again")
        done = await later()
        """,
        api,
    )
    assert printed == [
        "HELLO",
        "[(1, 10), (2, 20)] [0, 1, 4, 9] [0, 2, 4] ['open', 'work', 'close']",
    ]
    assert api.calls == ["hello", "again"]
    assert script_globals["done"].choices[0].text == "AGAIN"


async def test_script_without_await_runs_synchronously() -> None:
    compiled = compile_script("x = 1\nasync def later():\n    return 2\n", "sync.py")
    assert compiled.is_async is False
    script_globals = make_globals(HostApi(), print_sink=lambda _text: None)
    assert run_compiled(compiled, script_globals) is None
    assert script_globals["x"] == 1
    assert await script_globals["later"]() == 2


async def test_callbacks_defined_by_script_can_be_called_by_host() -> None:
    _, script_globals = await run(
        """
        seen = []
        def on_response(params):
            seen.append(params.text)
            return {"text": params.text + "!"}
        async def on_async(params):
            return params["n"] * 2
        """
    )
    result = script_globals["on_response"](to_script_value({"text": "hi"}))
    assert result == {"text": "hi!"}
    assert await script_globals["on_async"](to_script_value({"n": 21})) == 42
    assert script_globals["seen"] == ["hi"]


async def test_each_script_gets_its_own_random_and_module_views() -> None:
    source = "import random\nrandom.seed(1)\nvalue = random.random()\n"
    _, first = await run(source)
    _, second = await run(source)
    assert first["value"] == second["value"]
    assert first["random"] is not second["random"]
