"""Turns user mistakes into one clear line on stderr and exit code 2 (no traceback)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from optiflow.domain.errors import UserInputError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_USER_ERROR = 2


def user_errors_exit_2(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator for CLI commands: a ``UserInputError`` prints ``error: ...`` and exits 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except UserInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_USER_ERROR) from None

    return wrapper
