"""Fast positional constructors of the frozen records built on every engine event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def builder(cls: type[T]) -> Callable[..., T]:
    """A constructor of the frozen slots dataclass ``cls`` taking every field, in order.

    It builds the very same object as ``cls(...)`` (same class, still frozen, equal and
    hashed alike) but stores each field through its slot directly, which costs half of
    the generated ``__init__`` (that one goes through ``object.__setattr__`` per field).
    No defaults, no ``__post_init__``: the caller passes every field.
    """
    if not is_dataclass(cls) or not hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} is not a slots dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__ the builder would skip")
    names = [f.name for f in fields(cls)]
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    for i, name in enumerate(names):
        scope[f"set{i}"] = cls.__dict__[name].__set__  # the slot's own descriptor
    args = ", ".join(f"a{i}" for i in range(len(names)))
    body = "".join(f"    set{i}(o, a{i})\n" for i in range(len(names)))
    exec(f"def build({args}):\n    o = new(cls)\n{body}    return o\n", scope)  # noqa: S102
    build: Callable[..., T] = scope["build"]
    build.__name__ = build.__qualname__ = f"build_{cls.__name__}"
    build.__doc__ = f"A {cls.__name__} from every field, in order ({', '.join(names)})."
    return build
