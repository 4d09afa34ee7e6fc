"""The compile-time policy: RestrictedPython's transformer, extended for async scripts.

NovelAI scripts are async by nature (``await api.v1.generate(...)`` at top level), so on top of
what RestrictedPython allows we accept ``async def``, ``await``, ``async for``/``async with``
and async comprehensions, with async iteration routed through ``_getaiter_`` exactly as sync
iteration goes through ``_getiter_``. We also accept ``nonlocal`` and augmented assignment to
attributes and items (rewritten through ``_getattr_``/``_getitem_``/``_write_``), which scripts
need and which add no reach. Everything else RestrictedPython rejects stays rejected, and each
rejection becomes a :class:`~sandbox.errors.Problem` with a position and, where one exists,
the allowed alternative.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any, cast

from RestrictedPython.transformer import (
    FORBIDDEN_FUNC_NAMES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)

from sandbox.errors import Problem
from sandbox.guards import BLOCKED_ATTRIBUTES, SCRIPT_DUNDER_METHODS

#: Builtins scripts do not get; calling one is reported at compile time unless the script
#: defines that name itself.
UNAVAILABLE_CALLS: Mapping[str, str | None] = {
    "eval": None,
    "exec": None,
    "compile": None,
    "open": "use api.v1.storage to keep data",
    "input": "use api.v1.ui for user input",
    "breakpoint": None,
    "help": None,
    "globals": None,
    "locals": None,
    "vars": None,
    "memoryview": None,
    "exit": None,
    "quit": None,
    "id": None,
}

_UNSUPPORTED_NODES: Mapping[str, tuple[str, str | None]] = {
    "Match": ("`match` statements are not supported", "use `if`/`elif`"),
    "TryStar": (
        "`except*` is not allowed: exception groups can be used to escape the sandbox",
        "use a plain `except`",
    ),
    "TypeAlias": ("`type` aliases are not supported", "assign the type to a name"),
}

Result = ast.AST | Iterable[ast.AST] | None


def _name(identifier: str, ctx: ast.expr_context | None = None) -> ast.Name:
    return ast.Name(identifier, ctx or ast.Load())


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(function), args=list(args), keywords=[])


def _is_super_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def _rename_hint(name: str) -> str:
    stripped = name.strip("_")
    if not stripped:
        return "use a name that starts with a letter"
    return f"rename `{name}` to `{stripped}_`"


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's transformer plus async support, friendlier errors and import checks."""

    def __init__(self, filename: str, allowed_modules: Mapping[str, frozenset[str]]) -> None:
        super().__init__()
        self.filename = filename
        self.allowed_modules = allowed_modules
        self.problems: list[Problem] = []
        self._bound_names: set[str] = set()

    # --- reporting ------------------------------------------------------------------------

    def report(self, node: ast.AST, message: str, hint: str | None = None) -> None:
        line = getattr(node, "lineno", None) or 1
        column = (getattr(node, "col_offset", None) or 0) + 1
        if isinstance(node, ast.Attribute) and node.end_lineno == line and node.end_col_offset:
            # Point at the attribute name itself, not at the start of `a.b.c.__x__`.
            column = node.end_col_offset - len(node.attr) + 1
        self.problems.append(
            Problem(filename=self.filename, line=line, column=column, message=message, hint=hint)
        )

    def error(self, node: ast.AST, info: str) -> None:
        """RestrictedPython's own rejections, kept verbatim where we have no better words."""
        self.report(node, info.rstrip("."))

    def warn(self, node: ast.AST, info: str) -> None:
        """RestrictedPython's warnings (unused ``printed``...) mean nothing for scripts."""

    def not_allowed(self, node: ast.AST) -> None:
        kind = type(node).__name__
        if isinstance(node, ast.AnnAssign):
            self._report_annotation(node)
            return
        message, hint = _UNSUPPORTED_NODES.get(kind, (f"`{kind}` is not allowed in scripts", None))
        self.report(node, message, hint)

    def generic_visit(self, node: ast.AST) -> Result:  # type: ignore[override]
        self.not_allowed(node)
        return node

    def _report_annotation(self, node: ast.AnnAssign) -> None:
        target = ast.unparse(node.target)
        written = ast.unparse(node)
        if node.value is None:
            self.report(node, f"`{written}` is not supported", "remove the annotation line")
        else:
            value = ast.unparse(node.value)
            self.report(node, f"`{written}` is not supported", f"write `{target} = {value}`")

    # --- names ----------------------------------------------------------------------------

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is None:
            return
        if name.startswith("_") and name != "_":
            if allow_magic_methods and name in SCRIPT_DUNDER_METHODS and node.col_offset != 0:
                return
            self.report(
                node, f"names starting with `_` are not allowed: `{name}`", _rename_hint(name)
            )
        elif name.endswith("__roles__"):
            self.report(node, f"names ending with `__roles__` are not allowed: `{name}`")
        elif name in FORBIDDEN_FUNC_NAMES:
            self.report(node, f"`{name}` is a reserved name", "choose another name")

    def check_function_argument_names(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    ) -> None:
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None]
        for arg in every:
            self.check_name(arg, arg.arg)

    def visit_Name(self, node: ast.Name) -> Result:
        if isinstance(node.ctx, ast.Load):
            if node.id == "print":
                self.print_info.print_used = True
                printer = ast.Attribute(value=_name("_print"), attr="_call_print", ctx=ast.Load())
                copy_locations(printer, node)
                return printer
            self.used_names[node.id] = True
        self.check_name(node, node.id)
        return node

    def visit_Global(self, node: ast.Global) -> Result:
        for name in node.names:
            self.check_name(node, name)
        return node

    def visit_Nonlocal(self, node: ast.Nonlocal) -> Result:
        for name in node.names:
            self.check_name(node, name)
        return node

    # --- attributes -----------------------------------------------------------------------

    def check_attribute_name(self, node: ast.AST, attr: str) -> None:
        if attr.startswith("_") and attr != "_":
            hint = "use `type(x)`" if attr == "__class__" else None
            self.report(
                node,
                f"attribute `.{attr}` is not allowed: names starting with `_` are private",
                hint,
            )
        elif attr.endswith("__roles__"):
            self.report(node, f"attribute `.{attr}` is not allowed")
        elif attr in BLOCKED_ATTRIBUTES:
            self.report(
                node,
                f"attribute `.{attr}` is not allowed: it exposes interpreter internals "
                "(frames, code, tracebacks, class hierarchy)",
            )

    def visit_Attribute(self, node: ast.Attribute) -> Result:
        if (
            isinstance(node.ctx, ast.Load)
            and node.attr in SCRIPT_DUNDER_METHODS
            and _is_super_call(node.value)
        ):
            node = self.node_contents_visit(node)
            reader = _call("_getattr_super_", node.value, ast.Constant(node.attr))
            copy_locations(reader, node)
            return reader
        self.check_attribute_name(node, node.attr)
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            reader = _call("_getattr_", node.value, ast.Constant(node.attr))
            copy_locations(reader, node)
            return reader
        writer = _call("_write_", node.value)
        copy_locations(writer, node.value)
        node.value = writer
        return node

    # --- calls and imports ----------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> Result:
        func = node.func
        if (
            isinstance(func, ast.Name)
            and func.id in UNAVAILABLE_CALLS
            and func.id not in self._bound_names
        ):
            self.report(
                node, f"`{func.id}()` is not available in scripts", UNAVAILABLE_CALLS[func.id]
            )
        needs_apply = any(isinstance(arg, ast.Starred) for arg in node.args) or any(
            keyword.arg is None for keyword in node.keywords
        )
        node = self.node_contents_visit(node)
        if needs_apply:
            node.args.insert(0, node.func)
            node.func = _name("_apply_")
            copy_locations(node.func, node.args[0])
        return node

    def visit_Import(self, node: ast.Import) -> Result:
        for alias in node.names:
            self._check_module(node, alias.name)
        return self.check_import_names(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Result:
        if node.level or node.module is None:
            self.report(node, "relative imports are not allowed in scripts")
            return node
        if self._check_module(node, node.module):
            allowed = self.allowed_modules[node.module]
            for alias in node.names:
                if alias.name != "*" and alias.name not in allowed:
                    self.report(
                        node,
                        f"`from {node.module} import {alias.name}` is not allowed",
                        f"allowed names from {node.module}: {', '.join(sorted(allowed))}",
                    )
        return self.check_import_names(node)

    def _check_module(self, node: ast.AST, module: str) -> bool:
        if module in self.allowed_modules:
            return True
        self.report(
            node,
            f"`import {module}` is not allowed",
            f"allowed modules: {', '.join(sorted(self.allowed_modules))}",
        )
        return False

    # --- assignment -----------------------------------------------------------------------

    def visit_AugAssign(self, node: ast.AugAssign) -> Result:
        target = node.target
        if isinstance(target, ast.Name):
            # `n += 1` stays native: it reads and rebinds a local name, and the in-place
            # operator is the same method call `n + 1` makes (RestrictedPython allows that).
            self.check_name(target, target.id)
            node.value = cast(ast.expr, self.visit(node.value))
            return node
        operator_text = IOPERATOR_TO_STR[type(node.op)]
        if isinstance(target, ast.Attribute):
            self.check_attribute_name(target, target.attr)
            holder = self.gen_tmp_name()
            obj = cast(ast.expr, self.visit(target.value))
            value = cast(ast.expr, self.visit(node.value))
            read = _call("_getattr_", _name(holder), ast.Constant(target.attr))
            store: ast.expr = ast.Attribute(
                value=_call("_write_", _name(holder)), attr=target.attr, ctx=ast.Store()
            )
            setup: list[ast.stmt] = [ast.Assign(targets=[_name(holder, ast.Store())], value=obj)]
            temporaries = [holder]
        elif isinstance(target, ast.Subscript) and not _has_slice(target.slice):
            holder, key_name = self.gen_tmp_name(), self.gen_tmp_name()
            obj = cast(ast.expr, self.visit(target.value))
            key = cast(ast.expr, self.visit(target.slice))
            value = cast(ast.expr, self.visit(node.value))
            read = _call("_getitem_", _name(holder), _name(key_name))
            store = ast.Subscript(
                value=_call("_write_", _name(holder)), slice=_name(key_name), ctx=ast.Store()
            )
            setup = [
                ast.Assign(targets=[_name(holder, ast.Store())], value=obj),
                ast.Assign(targets=[_name(key_name, ast.Store())], value=key),
            ]
            temporaries = [holder, key_name]
        else:
            text = ast.unparse(target)
            self.report(
                node,
                f"`{text} {operator_text} ...` on a slice is not supported",
                f"write `{text} = {text} {operator_text[:-1]} ...`",
            )
            return node
        update = ast.Assign(
            targets=[store], value=_call("_inplacevar_", ast.Constant(operator_text), read, value)
        )
        cleanup = ast.Delete(targets=[_name(name, ast.Del()) for name in temporaries])
        statements: list[ast.stmt] = [
            *setup,
            ast.Try(body=[update], handlers=[], orelse=[], finalbody=[cleanup]),
        ]
        for statement in statements:
            copy_locations(statement, node)
        return statements

    # --- classes --------------------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> Result:
        self.check_name(node, node.name)
        node = self.node_contents_visit(node)
        if node.keywords:
            self.report(
                node,
                "class keyword arguments (`metaclass=`...) are not supported",
                "list only base classes",
            )
        metaclass = ast.keyword(arg="metaclass", value=_name("__metaclass__"))
        node.keywords = [metaclass]
        copy_locations(metaclass.value, node)
        ast.fix_missing_locations(node)
        return node

    # --- async ----------------------------------------------------------------------------

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> Result:
        self.check_name(node, node.name, allow_magic_methods=True)
        self.check_function_argument_names(node)
        with self.print_info.new_print_scope():
            node = self.node_contents_visit(node)
            self.inject_print_collector(cast(ast.FunctionDef, node))
        return node

    def visit_Await(self, node: ast.Await) -> Result:
        return self.node_contents_visit(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> Result:
        return self.guard_async_iter(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> Result:
        return super().visit_With(cast(ast.With, node))

    def visit_comprehension(self, node: ast.comprehension) -> Result:
        if node.is_async:
            return self.guard_async_iter(node)
        return super().visit_comprehension(node)

    def guard_async_iter(self, node: ast.AsyncFor | ast.comprehension) -> Result:
        """``async for x in it`` -> ``async for x in _getaiter_(it)`` (tuples unpacked safely)."""
        node = self.node_contents_visit(node)
        if isinstance(node.target, ast.Tuple):
            spec = self.gen_unpack_spec(node.target)
            wrapped = _call("_aiter_unpack_sequence_", node.iter, spec, _name("_getiter_"))
        else:
            wrapped = _call("_getaiter_", node.iter)
        copy_locations(wrapped, node.iter)
        node.iter = wrapped
        return node

    # --- module ---------------------------------------------------------------------------

    def visit_Module(self, node: ast.Module) -> Result:
        self._bound_names = _names_bound_in(node)
        return super().visit_Module(node)


def _has_slice(node: ast.expr) -> bool:
    if isinstance(node, ast.Slice):
        return True
    return isinstance(node, ast.Tuple) and any(isinstance(item, ast.Slice) for item in node.elts)


def _names_bound_in(tree: ast.AST) -> set[str]:
    """Every name the script binds anywhere, so calling its own ``open()`` is not refused."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound
