"""A fleet folder: bot configs plus an optional ``fleet.json``, all checked before anything starts.

``fleet.json`` keys (all optional; command-line flags override them):

- ``mode``: replay | paper | live (default paper)
- ``state_root``: folder holding one state folder per bot (default ``state``; relative
  paths are relative to the fleet folder's parent working directory, i.e. the cwd)
- ``stagger_s``: seconds between two bot starts (default 2)
- ``exposure_cap_usdt``: fleet-wide cap on total open exposure (default none)
- ``telegram``: start ``optiflow telegram --state-root ROOT`` too (default false)
- ``metrics_port``: serve Prometheus metrics on 127.0.0.1:PORT (default none)
- ``allow_shared_pairs``: let two bots trade one pair on one account (default false)
- ``bots_per_process``: bots sharing one OS process (a host, one asyncio task per bot, one
  ccxt client per account); 1 = one ``optiflow run`` process per bot, full isolation
  (default ``DEFAULT_BOTS_PER_PROCESS``: nine bots fit in 600 MB)
- ``max_restarts_per_hour`` (default 10), ``backoff_s`` (first wait, default 1),
  ``backoff_max_s`` (default 60), ``heartbeat_s`` (a bot silent this long is restarted;
  default max(120, 6 x its interval)), ``stop_timeout_s`` (default 60).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from optiflow.config.loader import load_config
from optiflow.config.models import BotConfig
from optiflow.domain.errors import UserInputError

FLEET_FILE = "fleet.json"
Mode = Literal["replay", "paper", "live"]
DEFAULT_BOTS_PER_PROCESS = 5  # nine bots: two hosts (one per core of a small VPS)


class FleetSettings(BaseModel):
    """The keys of ``fleet.json``; unknown keys are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    mode: Mode = "paper"
    state_root: str = "state"
    stagger_s: Annotated[float, Field(ge=0)] = 2.0
    exposure_cap_usdt: Annotated[float, Field(gt=0)] | None = None
    telegram: bool = False
    metrics_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    allow_shared_pairs: bool = False
    bots_per_process: Annotated[int, Field(ge=1)] = DEFAULT_BOTS_PER_PROCESS
    max_restarts_per_hour: Annotated[int, Field(ge=1)] = 10
    backoff_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 60.0
    heartbeat_s: Annotated[float, Field(gt=0)] | None = None
    stop_timeout_s: Annotated[float, Field(gt=0)] = 60.0


@dataclass(frozen=True)
class BotEntry:
    """One bot of the fleet: its config file, parsed config and state folder."""

    name: str
    config_path: Path
    config: BotConfig
    state_dir: Path


@dataclass(frozen=True)
class Replay:
    """Replay arguments passed to every bot (``--data --speed --from --to``)."""

    data: Path | None = None
    speed: float | None = None
    when_from: str | None = None
    when_to: str | None = None


@dataclass(frozen=True)
class Fleet:
    """A checked fleet: settings, bots and where their state lives."""

    folder: Path
    settings: FleetSettings
    bots: tuple[BotEntry, ...]
    replay: Replay

    @property
    def state_root(self) -> Path:
        """The folder holding every bot's state folder and the supervisor's files."""
        return Path(self.settings.state_root)

    def heartbeat_s(self, bot: BotEntry) -> float:
        """How long a bot may go without committing before it counts as stuck."""
        base = self.settings.heartbeat_s or max(120.0, 6 * bot.config.interval_s)
        if self.settings.mode == "replay" and self.replay.speed:
            base += 250 * 60 / self.replay.speed  # replay commits every <= 200 candles
        return base

    def without_telegram(self) -> Fleet:
        """The same fleet with the Telegram service switched off."""
        return replace(self, settings=self.settings.model_copy(update={"telegram": False}))


def read_settings(folder: Path, overrides: dict[str, Any] | None = None) -> FleetSettings:
    """``fleet.json`` of `folder` (defaults when absent) with command-line overrides applied."""
    path = folder / FLEET_FILE
    data: dict[str, Any] = {}
    if path.exists():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserInputError(f"{path}: not a readable JSON file ({exc})") from None
        if not isinstance(raw, dict):
            raise UserInputError(f"{path}: must be a JSON object {{...}} of fleet settings")
        data = raw
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    data = {**data, **given}
    try:
        return FleetSettings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in err["loc"]) or "(file)"
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(FleetSettings.model_fields)
            raise UserInputError(
                f"{path}: unknown key {key!r} = {err['input']!r}; allowed keys: {allowed}"
            ) from None
        if key in given:  # the value came from the command line, not the file
            flag = "--" + key.replace("_", "-").removesuffix("-s").removesuffix("-usdt")
            raise UserInputError(f"{flag} {err['input']!r}: {err['msg']}") from None
        raise UserInputError(f"{path}: {key} = {err['input']!r}: {err['msg']}") from None


def config_files(folder: Path) -> list[Path]:
    """The bot configs of a fleet folder: every ``*.json`` but ``fleet.json``, sorted."""
    if not folder.is_dir():
        raise UserInputError(f"fleet folder {folder}: not a folder (give a folder of configs)")
    files = sorted(p for p in folder.glob("*.json") if p.name != FLEET_FILE)
    if not files:
        raise UserInputError(f"fleet folder {folder}: holds no bot config (*.json)")
    return files


def load_fleet(
    folder: Path, overrides: dict[str, Any] | None = None, replay: Replay | None = None
) -> Fleet:
    """Read and check a whole fleet folder; the first problem raises UserInputError."""
    settings = read_settings(folder, overrides)
    root = Path(settings.state_root)
    bots: list[BotEntry] = []
    for path in config_files(folder):
        cfg = load_config(path)  # a broken config: its own clear ConfigError
        bots.append(BotEntry(cfg.name, path, cfg, root / cfg.name))
    check_names(bots)
    if not settings.allow_shared_pairs:
        check_pairs(bots, folder / FLEET_FILE)
    if settings.mode == "live":
        for b in bots:
            if b.config.mode != "live":
                raise UserInputError(
                    f"{b.config_path}: mode = {b.config.mode!r}: a live fleet needs "
                    "mode: live in every bot config"
                )
    return Fleet(folder, settings, tuple(bots), replay or Replay())


def check_names(bots: list[BotEntry]) -> None:
    """Two configs with one bot name would share a state folder: refused."""
    seen: dict[str, Path] = {}
    for b in bots:
        if b.name in seen:
            raise UserInputError(
                f"{b.config_path}: name = {b.name!r}: already used by {seen[b.name]}; "
                "every bot of a fleet needs its own name"
            )
        seen[b.name] = b.config_path


def account_of(cfg: BotConfig) -> str:
    """The exchange account a bot trades on (one key per exchange, market and endpoint)."""
    ex = cfg.exchange
    return f"{ex.id}-{ex.market}" + (f"@{ex.api_base_url}" if ex.api_base_url else "")


def check_pairs(bots: list[BotEntry], fleet_file: Path) -> None:
    """Two bots trading one pair on one account fight over the balance: refused."""
    owner: dict[tuple[str, str], BotEntry] = {}
    for b in bots:
        for pair in b.config.pairs:
            key = (account_of(b.config), pair)
            if key in owner:
                first = owner[key]
                raise UserInputError(
                    f"{b.config_path}: pairs: {pair} is also traded by bot {first.name} "
                    f"({first.config_path.name}) on the same account {key[0]}; give each bot "
                    f'its own pairs or set "allow_shared_pairs": true in {fleet_file}'
                )
            owner[key] = b
