"""Read a bot config file and turn every failure into one ConfigError naming field and value."""

from __future__ import annotations

import ast
import difflib
import hashlib
import importlib.util
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
        cfg = BotConfig.model_validate(data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, file, data) from None
    check_exchange_id(cfg.exchange.id, file)
    return cfg


def config_hash(cfg: BotConfig) -> str:
    """A short, stable fingerprint of every setting of a config (keys sorted)."""
    # telegram settings change no trade: a bot resumes after its chats or switches change
    dump = cfg.model_dump(mode="json", exclude={"telegram"})
    text = json.dumps(dump, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_exchange_id(exchange_id: str, file: str) -> None:
    """Refuse an exchange id ccxt does not know, with a did-you-mean from ``ccxt.exchanges``."""
    allowed = exchange_id_problem(exchange_id)
    if allowed is not None:
        raise ConfigError(file, "exchange.id", exchange_id, allowed)


def _ccxt_exchanges() -> list[str]:
    """``ccxt.exchanges``, read from ccxt's ``__init__.py`` without importing ccxt (0.4 s)."""
    try:
        spec = importlib.util.find_spec("ccxt")
        origin = spec.origin if spec is not None else None
        if origin is not None:
            text = Path(origin).read_text(encoding="utf-8")
            m = re.search(r"^exchanges = (\[[^\]]*\])", text, re.MULTILINE)
            if m is not None:
                ids = ast.literal_eval(m.group(1))
                if isinstance(ids, list) and ids and all(isinstance(x, str) for x in ids):
                    return ids
    except (OSError, ValueError, SyntaxError, ImportError):
        pass
    import ccxt  # type: ignore[import-untyped]

    return list(ccxt.exchanges)


def exchange_id_problem(exchange_id: str) -> str | None:
    """None for an id in ``ccxt.exchanges``; else what is allowed, with a did-you-mean."""
    known = _ccxt_exchanges()
    if exchange_id in known:
        return None
    close = difflib.get_close_matches(exchange_id, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"a ccxt exchange id{hint}, e.g. binance, kraken, okx"


class _DuplicateKeyError(ValueError):
    """A JSON object names the same key twice."""

    def __init__(self, key: str, first: object, second: object) -> None:
        self.key, self.first, self.second = key, first, second
        super().__init__(key)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that refuses a key given twice in one object."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key, out[key], value)
        out[key] = value
    return out


def _excerpt(doc: str, pos: int, width: int = 30) -> str:
    """A short excerpt of ``doc`` around character ``pos``, the position marked with >>> <<<."""
    lo, hi = max(0, pos - width), min(len(doc), pos + width)
    before = ("…" if lo > 0 else "") + doc[lo:pos]
    after = doc[pos:hi] + ("…" if hi < len(doc) else "")
    return " ".join(f"{before}>>>{after}".split())


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
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as exc:
        raise ConfigError(
            file,
            exc.key,
            exc.second,
            f"each key at most once in an object; {exc.key!r} is given twice "
            f"(first {exc.first!r}), remove one",
        ) from None
    except json.JSONDecodeError as exc:
        line_text = exc.doc.splitlines()[exc.lineno - 1].strip() if exc.doc.strip() else ""
        if len(line_text) > 80:  # a minified file: the position and a short excerpt
            line_text = _excerpt(exc.doc, exc.pos)
        raise ConfigError(
            file,
            f"line {exc.lineno}, column {exc.colno}",
            line_text,
            f"valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}, "
            f"character {exc.pos})",
        ) from None


def config_error_from_validation(exc: ValidationError, file: str, data: object) -> ConfigError:
    """Translate the first pydantic error (deterministic order) into a ConfigError."""
    errors = _root_causes(exc.errors(include_url=False))
    field, value, allowed = _describe(errors[0], data)
    others = [_describe(e, data) for e in errors[1:]]
    if others:
        allowed += "; also: " + "; ".join(f"{f} = {v!r}: {a}" for f, v, a in others)
    return ConfigError(file, field, value, allowed)


def _root_causes(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop errors that only follow from an earlier one inside them (a bad list item makes
    the list "too short"): every problem left is one the message can name."""
    kept: list[ErrorDetails] = []
    for err in errors:
        loc = tuple(err["loc"])
        inner = any(
            len(tuple(o["loc"])) > len(loc) and tuple(o["loc"])[: len(loc)] == loc for o in errors
        )
        if not (inner and err["type"] in ("too_short", "missing")):
            kept.append(err)
    return kept or errors


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
