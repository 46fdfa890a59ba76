"""The search space: which config fields a study varies, over which ranges, and applying them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from optiflow.config.models import BotConfig
from optiflow.domain.errors import UserInputError

DEFAULT_SPACE = Path(__file__).with_name("default_space.json")
LEVELS_SCALE = "exits.stepwise.levels_scale"  # multiplies the config's stepwise levels
TP2_RATIO = "exits.tp2_over_tp1"  # TP2 as a multiple of TP1 (always above it when > 1)
DERIVED = (LEVELS_SCALE, TP2_RATIO)
ONLY = "$only"  # a space file with "$only": true replaces the default space instead of editing it
JOINED = frozenset({"signals.primary", "signals.confirming"})  # "a+b" -> ("a", "b")
KINDS = ("float", "int", "categorical")
Value = float | int | str | bool


class Suggester(Protocol):
    """The part of ``optuna.Trial`` a space needs (so tests and callers can stand in)."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """A float in [low, high]."""

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An int in [low, high]."""

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        """One of the choices."""


@dataclass(frozen=True, slots=True)
class Param:
    """One searched field: a dotted config path and its range or choices."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Value, ...] = ()

    def suggest(self, trial: Suggester) -> Value:
        """Draw this parameter's value from an Optuna trial."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))  # type: ignore[no-any-return]
        if self.kind == "int":
            step = int(self.step or 1)
            return trial.suggest_int(
                self.key, int(self.low), int(self.high), step=step, log=self.log
            )
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> str:
        """The range as text, e.g. 'float 0.15..1.5 (log)'."""
        if self.kind == "categorical":
            return "one of " + ", ".join(str(c) for c in self.choices)
        return f"{self.kind} {self.low:g}..{self.high:g}" + (" (log)" if self.log else "")


Space = tuple[Param, ...]


def _read(path: Path) -> dict[str, Any]:
    """A space file's JSON object; a UserInputError naming the file if unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserInputError(f"--space {path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UserInputError(
            f"--space {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise UserInputError(
            f"--space {path}: must be a JSON object of 'field': {{range}} entries, "
            f"got {type(data).__name__}"
        )
    return data


def _number(file: str, key: str, name: str, value: object) -> float:
    """A finite number from a space entry, or a UserInputError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UserInputError(f"{file}: {key}.{name} = {value!r}: must be a finite number")
    return float(value)


def parse_param(file: str, key: str, entry: object) -> Param:
    """One space entry checked for shape: type, low < high, log > 0, choices present."""
    if not isinstance(entry, dict):
        raise UserInputError(
            f"{file}: {key} = {entry!r}: must be an object like "
            '{"type": "float", "low": 0.1, "high": 1.0} or null to stop searching it'
        )
    allowed = {"type", "low", "high", "log", "step", "choices"}
    extra = sorted(set(entry) - allowed)
    if extra:
        raise UserInputError(
            f"{file}: {key}.{extra[0]}: unknown key; allowed: {', '.join(sorted(allowed))}"
        )
    kind = entry.get("type")
    if kind not in KINDS:
        raise UserInputError(f"{file}: {key}.type = {kind!r}: allowed: {', '.join(KINDS)}")
    if kind == "categorical":
        choices = entry.get("choices")
        if not isinstance(choices, list) or not choices:
            raise UserInputError(f"{file}: {key}.choices = {choices!r}: a non-empty list")
        for c in choices:
            if not isinstance(c, str | bool | int | float):
                raise UserInputError(f"{file}: {key}.choices: {c!r} is not a string/number/bool")
        return Param(key, "categorical", choices=tuple(choices))
    low = _number(file, key, "low", entry.get("low"))
    high = _number(file, key, "high", entry.get("high"))
    if not low < high:
        raise UserInputError(f"{file}: {key}: low {low:g} must be below high {high:g}")
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise UserInputError(f"{file}: {key}.log = {log!r}: true or false")
    if log and low <= 0:
        raise UserInputError(f"{file}: {key}.low = {low:g}: a log range needs low > 0")
    step = entry.get("step")
    if step is not None:
        step = _number(file, key, "step", step)
        if step <= 0 or step > high - low:
            raise UserInputError(f"{file}: {key}.step = {step:g}: must be in (0, high - low]")
        if log:
            raise UserInputError(f"{file}: {key}: step and log cannot be combined")
    if kind == "int" and any(v != int(v) for v in (low, high, step or 1)):
        raise UserInputError(f"{file}: {key}: an int range needs whole low/high/step")
    return Param(key, kind, low, high, log, step)


def _get(tree: dict[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) of a dotted path in a nested dict."""
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _set(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted path in a nested dict (the path must exist)."""
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def apply_params(cfg: BotConfig, params: dict[str, Any]) -> BotConfig:
    """``cfg`` with the searched values set; raises pydantic's ValidationError if invalid."""
    tree = cfg.model_dump()
    for key, value in params.items():
        if key == TP2_RATIO:
            tp1 = params.get("exits.tp1_pct", cfg.exits.tp1_pct) or cfg.exits.tp2_pct / 2
            _set(tree, "exits.tp2_pct", float(tp1) * float(value))
        elif key == LEVELS_SCALE:
            scale = Decimal(repr(float(value)))
            levels = cfg.exits.stepwise.levels_usdt
            _set(tree, "exits.stepwise.levels_usdt", tuple((lv * scale) for lv in levels))
        elif key in JOINED:
            _set(tree, key, tuple(str(value).split("+")))
        else:
            _set(tree, key, value)
    return BotConfig.model_validate(tree)


def _check_value(file: str, cfg: BotConfig, p: Param, value: Value, label: str) -> None:
    """A UserInputError when the config rejects ``value`` for this field itself."""
    if p.key in DERIVED:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise UserInputError(f"{file}: {p.key}.{label} = {value!r}: must be > 0")
        return
    try:
        apply_params(cfg, {p.key: value})
    except ValidationError as exc:
        loc = tuple(p.key.split("."))
        for err in exc.errors():
            if tuple(str(x) for x in err["loc"][: len(loc)]) == loc:
                raise UserInputError(
                    f"{file}: {p.key}.{label} = {value!r}: not allowed by the config: {err['msg']}"
                ) from None
    except (ValueError, TypeError) as exc:
        raise UserInputError(f"{file}: {p.key}.{label} = {value!r}: {exc}") from None


def validate_param(file: str, cfg: BotConfig, p: Param) -> None:
    """Every range end and choice must be a value the config accepts for that field."""
    found, _ = _get(cfg.model_dump(), p.key)
    if not found and p.key not in DERIVED:
        raise UserInputError(
            f"{file}: {p.key}: not a config field (use dotted paths such as exits.tp1_pct, "
            f"filters.atr.mult, timeframe; or {', '.join(DERIVED)})"
        )
    if p.kind == "categorical":
        for i, c in enumerate(p.choices):
            _check_value(file, cfg, p, c, f"choices[{i}]")
    else:
        _check_value(file, cfg, p, int(p.low) if p.kind == "int" else p.low, "low")
        _check_value(file, cfg, p, int(p.high) if p.kind == "int" else p.high, "high")


def load_space(cfg: BotConfig, path: Path | None = None) -> Space:
    """The default space, narrowed or widened by ``path`` (null removes a field); validated."""
    entries = _read(DEFAULT_SPACE)
    if path is not None:
        own = _read(path)
        only = own.pop(ONLY, False)
        if not isinstance(only, bool):
            raise UserInputError(f"{path}: {ONLY} = {only!r}: true or false")
        entries = own if only else {**entries, **own}
    file = str(path) if path is not None else str(DEFAULT_SPACE)
    params = []
    for key, entry in entries.items():
        if entry is None:
            continue
        origin = file if path is not None else str(DEFAULT_SPACE)
        p = parse_param(origin, key, entry)
        validate_param(origin, cfg, p)
        params.append(p)
    if not params:
        raise UserInputError(f"--space {file}: no field left to search")
    return tuple(params)


def suggest(trial: Suggester, space: Space) -> dict[str, Value]:
    """One value per parameter from an Optuna trial, in space order."""
    return {p.key: p.suggest(trial) for p in space}


def space_text(space: Space) -> dict[str, str]:
    """Each parameter's range as text (for fingerprints and reports)."""
    return {p.key: p.describe() for p in space}
