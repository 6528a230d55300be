"""Expression builders remembered by their arguments.

Building an Ibis expression costs time of its own, before any SQL is compiled or run: about a
third of a small compensation run (a what-if tick, one side of a plan model) went into building
the same trees again. `@remembered` returns the expression a builder built before for equal
arguments. Expressions compare by structure (a bound table by its name and schema, as every
backend here binds them), so a later run of the same shape (the same tables, plans' structure,
period and literals) reuses the tree, and with it the compiled SQL
(`backends.duckdb._compiled_sql`).

A remembered builder must be pure: its expression may depend on its arguments only. Arguments
that are not expressions must be hashable values (dates, numbers, text, tuples of them);
anything else (a list, a callable) skips the memory for that call.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

import ibis.expr.types as ir

SIZE = 256
_built: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()

Builder = TypeVar("Builder", bound=Callable[..., Any])


class _Unkeyable(Exception):
    pass


def _key(value: Any) -> Any:
    if isinstance(value, ir.Expr):
        return ("expr", value.op())
    if isinstance(value, tuple):
        return ("tuple", *(_key(item) for item in value))
    if value is None or isinstance(value, str | int | float | bool) \
            or type(value).__module__ in ("datetime", "decimal"):
        return (type(value), value)  # the type too: Decimal(1) == 1 == True
    raise _Unkeyable


def remembered(builder: Builder) -> Builder:
    """`builder`, remembering its expressions by its arguments (module docstring)."""

    @functools.wraps(builder)
    def build(*args: Any, **kwargs: Any) -> Any:
        try:
            key = (builder.__module__, builder.__qualname__,
                   tuple(_key(arg) for arg in args),
                   tuple(sorted((name, _key(arg)) for name, arg in kwargs.items())))
        except _Unkeyable:
            return builder(*args, **kwargs)
        with _lock:
            if key in _built:
                _built.move_to_end(key)
                return _built[key]
        expr = builder(*args, **kwargs)
        with _lock:
            _built[key] = expr
            if len(_built) > SIZE:
                _built.popitem(last=False)
        return expr

    return cast(Builder, build)


def forget() -> None:
    """Empty the memory (tests)."""
    with _lock:
        _built.clear()


__all__ = ["forget", "remembered"]
