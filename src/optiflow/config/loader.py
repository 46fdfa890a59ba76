"""Read a bot config file and turn every failure into one ConfigError naming field and value."""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from optiflow.config.models import BotConfig
from optiflow.config.rules import RULE_ERROR_TYPE
from optiflow.domain.errors import ConfigError


class _Missing:
    """Stands for the value of a key that is absent."""

    def __repr__(self) -> str:
        """Show as (missing) in messages."""
        return "(missing)"


MISSING = _Missing()

_TYPE_PHRASES: dict[str, str] = {
    "float_type": "a number",
    "float_parsing": "a number",
    "decimal_type": "a number",
    "decimal_parsing": "a number",
    "finite_number": "a finite number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a text string in quotes",
    "tuple_type": "a list [...]",
    "list_type": "a list [...]",
    "dict_type": "an object {...}",
    "model_type": "an object {...}",
    "model_attributes_type": "an object {...}",
    "missing": "a required key: give it a value",
}


def load_config(path: Path) -> BotConfig:
    """Load and validate one JSON bot config; every problem raises ConfigError."""
    file = str(path)
    data = _read_json(path)
    return parse_config(data, file=file)


def parse_config(data: object, *, file: str = "<config>") -> BotConfig:
    """Validate already-parsed JSON data into a BotConfig, raising ConfigError on failure."""
    if not isinstance(data, Mapping):
        raise ConfigError(file, "(top level)", type(data).__name__, "a JSON object {...}")
    try:
        return BotConfig.model_validate(data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, file, data) from None


def _read_json(path: Path) -> object:
    """Read the file as UTF-8 JSON, translating I/O and syntax errors."""
    file = str(path)
    if not path.exists():
        raise ConfigError(file, "(file)", file, "an existing JSON config file; none found here")
    if not path.is_file():
        raise ConfigError(file, "(file)", file, "a JSON config file, not a folder")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(file, "(file)", file, f"UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(file, "(file)", file, f"a readable file ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line_text = exc.doc.splitlines()[exc.lineno - 1] if exc.doc.strip() else ""
        raise ConfigError(
            file,
            f"line {exc.lineno}, column {exc.colno}",
            line_text.strip(),
            f"valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
        ) from None


def config_error_from_validation(exc: ValidationError, file: str, data: object) -> ConfigError:
    """Translate the first pydantic error (deterministic order) into a ConfigError."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    field, value, allowed = _describe(first, data)
    more = len(errors) - 1
    if more:
        allowed += f" (and {more} more problem{'s' if more > 1 else ''} in this file)"
    return ConfigError(file, field, value, allowed)


def _describe(err: ErrorDetails, data: object) -> tuple[str, object, str]:
    """Field path, offending value and allowed phrase of one pydantic error."""
    loc = tuple(err["loc"])
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    kind = err["type"]
    if kind == RULE_ERROR_TYPE:
        return _join(loc, str(ctx["field"])), ctx["value"], str(ctx["allowed"])
    field = _join(loc, "")
    if kind == "extra_forbidden":
        return field, err["input"], _unknown_key_phrase(loc)
    if kind == "missing":
        return field, MISSING, _TYPE_PHRASES[kind]
    return field, err["input"], _phrase(kind, ctx, err["msg"])


def _phrase(kind: str, ctx: Mapping[str, Any], msg: str) -> str:
    """The plain phrase for a pydantic error type."""
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return "one of " + ", ".join(options)
    bounds = {
        "greater_than": ("gt", ">"),
        "greater_than_equal": ("ge", ">="),
        "less_than": ("lt", "<"),
        "less_than_equal": ("le", "<="),
    }
    if kind in bounds:
        key, sign = bounds[kind]
        bound = ctx[key]
        return (
            f"a number {sign} {bound:g}" if isinstance(bound, float) else f"a number {sign} {bound}"
        )
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"a list with at least {n} item{'s' if n != 1 else ''}"
    if kind == "string_too_short":
        return f"text of at least {ctx.get('min_length', 1)} character(s)"
    if kind in _TYPE_PHRASES:
        return _TYPE_PHRASES[kind]
    return msg


def _join(loc: Sequence[int | str], tail: str) -> str:
    """Dotted path with list indexes in brackets: ``signals.primary[1]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    if tail:
        out += tail if tail.startswith("[") or not out else f".{tail}"
    return out or "(top level)"


def _unknown_key_phrase(loc: tuple[int | str, ...]) -> str:
    """'no such key; allowed keys: ...' with a did-you-mean hint."""
    model = _model_at(loc[:-1])
    if model is None:
        return "no such key"
    allowed = list(model.model_fields)
    phrase = "no such key"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    if close:
        phrase += f" (did you mean {close[0]}?)"
    return phrase + "; allowed keys: " + ", ".join(allowed)


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The config model class that sits at a location inside BotConfig."""
    annotation: Any = BotConfig
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not isinstance(part, str) or part not in annotation.model_fields:
                return None
            annotation = annotation.model_fields[part].annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        elif typing.get_origin(annotation) is tuple:
            annotation = typing.get_args(annotation)[0]
        else:
            return None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional and Annotated wrappers from a type annotation."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation
