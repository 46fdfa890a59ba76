"""``optiflow run``: one bot through the live runtime (replay now; paper/live via ccxt)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from optiflow.adapters.ccxt.ratelimit import FileWeightBudget
from optiflow.adapters.clock import RealClock
from optiflow.adapters.console_notifier import ConsoleNotifier
from optiflow.adapters.files.exports import write_if_changed
from optiflow.adapters.files.statedir import (
    LOCK_FILE,
    SEQ_FILE,
    StateDirLock,
    probe_writable,
    wipe_state,
)
from optiflow.adapters.files.write_errors import set_file_error_hook
from optiflow.adapters.logs import DEFAULT_TOTAL_MB, setup_logging
from optiflow.adapters.sim.exchange import SimExchange
from optiflow.adapters.sim.faults import FaultSpec, FaultyGateway, parse_faults
from optiflow.adapters.sim.gateway import SimGateway
from optiflow.adapters.sim.rehearsal import RehearsalExchange
from optiflow.adapters.sqlite.migrations import corrupt_error, is_corruption
from optiflow.adapters.sqlite.store import Durability, SqliteStore
from optiflow.config.advice import book_only_confirming, config_warnings
from optiflow.config.loader import load_config
from optiflow.config.models import BotConfig
from optiflow.config.presets import find_config
from optiflow.domain.errors import UserInputError
from optiflow.domain.events import Notify
from optiflow.engine.settings import settings_from_config
from optiflow.interfaces.cli.paths import writable_folder
from optiflow.interfaces.cli.run_flags import check_run_flags
from optiflow.interfaces.cli.secrets import (
    ENV_KEY,
    ENV_SECRET,
    ApiKeys,
    load_keys,
    load_telegram_token,
)
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.candles import CandleArrays
from optiflow.marketdata.loaders import load_folder
from optiflow.ports.exchange import ExchangeGateway
from optiflow.ports.feed import PriceFeed
from optiflow.ports.notifier import Notifier
from optiflow.runtimes.backtest import prepare
from optiflow.runtimes.live.runtime import LiveRuntime
from optiflow.runtimes.pacer import interrupt_waits
from optiflow.runtimes.rehearsal import RehearsalRuntime
from optiflow.runtimes.replay import ReplayRuntime

if TYPE_CHECKING:  # python-telegram-bot is imported only when a bot uses Telegram
    from optiflow.interfaces.telegram.service import TelegramService

log = logging.getLogger("optiflow.runtime")


class Runtime(Protocol):
    """What the CLI needs of a runtime: run until done or stopped."""

    stop_requested: bool

    async def run(self) -> None:
        """Recover, then trade until the data ends or a stop is requested."""
        ...


def default_state_dir(bot_name: str) -> Path:
    """Where a bot keeps its database, state files and logs unless told otherwise."""
    return Path("state") / bot_name


def run_command(
    config: str,
    mode: str,
    data: Path,
    speed: float,
    when_from: str | None,
    when_to: str | None,
    state_dir: Path | None,
    live: bool,
    secrets: Path | None = None,
    websocket: bool = True,
    accept_config_change: bool = False,
    fresh: bool = False,
    yes: bool = False,
    log_max_mb: float = DEFAULT_TOTAL_MB,
    faults: str | None = None,
    telegram: bool = True,
) -> int:
    """Start a bot; returns the process exit code (0 after a clean stop)."""
    path = find_config(config)
    cfg = load_config(path)
    use_telegram = telegram and cfg.telegram.enabled
    check_run_flags(cfg, config, mode, live, secrets, use_telegram, accept_config_change, faults)
    spec = parse_faults(faults, parse_when) if faults is not None else None
    history = mode in ("replay", "rehearsal")
    if history and (problem := book_only_confirming(cfg)):
        raise UserInputError(f"{path}: {problem}")
    folder = writable_folder("--state-dir", state_dir or default_state_dir(cfg.name))
    if history:
        if speed < 0:
            raise UserInputError(f"--speed {speed}: must be 0 (as fast as possible) or more")
        candles = load_folder(
            data, list(cfg.pairs), parse_when("--from", when_from), parse_when("--to", when_to)
        )
    keys = load_keys(secrets) if mode == "live" else None
    if mode == "live" and keys is None:
        raise UserInputError(
            f"live trading needs API keys: set {ENV_KEY} and {ENV_SECRET}, "
            "or --secrets FILE (JSON, chmod 600)"
        )
    token = load_telegram_token(secrets) if use_telegram else None
    if log_max_mb <= 0:
        raise UserInputError(f"--log-max-mb {log_max_mb}: must be more than 0")
    probe_writable(folder)  # before anything (SQLite's -shm mapping included) touches it
    with StateDirLock(folder, cfg.name):
        if fresh:
            confirm_wipe(cfg.name, folder, yes, "--fresh")
            gone = wipe_state(folder)
            print(f"{cfg.name}: started fresh; removed {', '.join(gone) or 'nothing'}")
        store = open_store(folder, cfg.name, config, mode == "rehearsal")
        save_config(folder, cfg)  # what `optiflow ask` and `optiflow telegram` read
        try:
            more = (
                last_bar_ts(candles, settings_from_config(cfg).timeframe_ms)
                if mode == "replay"
                else None
            )  # a finished replay given more data (a later --to) resumes
            if history and replay_finished(store, more):
                print(
                    f"{cfg.name}: the {mode} in {folder} is finished; nothing changed. "
                    f"To start over: optiflow state reset {config} --state-dir {folder}, "
                    "or run again with --fresh"
                )
                return 0
            setup_logging(
                folder / "logs", cfg.name, list(cfg.pairs), total_bytes=int(log_max_mb * 2**20)
            )
            for text in config_warnings(cfg, mode):
                log.warning("%s: WARNING %s", cfg.name, text)
            notifier: Notifier = ConsoleNotifier(cfg.name)
            service = None
            if cfg.telegram.enabled:
                from optiflow.interfaces.cli.telegram_run import in_process_service
                from optiflow.interfaces.telegram.notifier import TelegramNotifier
                from optiflow.queries.view import BotView

            if token is not None:
                service = in_process_service(token, cfg, folder)
            if cfg.telegram.enabled:  # the outbox is written even when another process sends
                delivery = service.delivery if service is not None else None
                notifier = TelegramNotifier(notifier, BotView(folder, cfg), delivery)
            set_file_error_hook(lambda text: notifier.notify(Notify("files", "", text, 0)))
            runtime: Runtime
            if mode == "replay":
                runtime = ReplayRuntime(
                    cfg,
                    candles,
                    store,
                    folder,
                    notifier,
                    speed,
                    time.monotonic,
                    accept_config_change=accept_config_change,
                )
            elif mode == "rehearsal":
                runtime = RehearsalRuntime(
                    cfg,
                    prepare(cfg, candles),
                    store,
                    notifier,
                    folder,
                    speed,
                    wrap=None if spec is None else partial(faulty, spec),
                )
            else:
                runtime = build_live_runtime(cfg, mode, keys, store, notifier, folder, websocket)
            return serve_protected(runtime, notifier, cfg.name, service)
        finally:
            set_file_error_hook(None)
            store.close()


def faulty(
    spec: FaultSpec, exchange: RehearsalExchange, now_ms: Callable[[], int]
) -> FaultyGateway:
    """The rehearsal exchange with ``--faults`` injected."""
    return FaultyGateway(exchange, spec, now_ms)


def save_config(folder: Path, cfg: BotConfig) -> None:
    """Leave the bot's effective config (no secrets in it) as ``config.json`` in its folder."""
    with contextlib.suppress(OSError):
        write_if_changed(folder / "config.json", cfg.model_dump_json(indent=2) + "\n")


def confirm_wipe(name: str, folder: Path, yes: bool, flag: str) -> None:
    """Ask before wiping a bot's state (a TTY); without one, `--yes` is required."""
    if yes or not has_state(folder):
        return
    if not sys.stdin.isatty():
        raise UserInputError(
            f"{flag} deletes the state of bot {name} in {folder} (database, state files, "
            "logs); not a terminal, so confirm with --yes"
        )
    answer = input(f"Delete the state of bot {name} in {folder} (database, files, logs)? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UserInputError(f"{flag}: not confirmed; nothing changed")


def has_state(folder: Path) -> bool:
    """True when the folder holds anything a wipe would delete."""
    return any(p.name != LOCK_FILE for p in folder.iterdir()) if folder.is_dir() else False


def last_bar_ts(candles: dict[str, CandleArrays], timeframe_ms: int) -> int | None:
    """Open time of the latest bar the replay would play (None without data)."""
    ends = [int(a.ts[-1]) for a in candles.values() if len(a.ts)]
    return max(ends) // timeframe_ms * timeframe_ms if ends else None


def replay_finished(store: SqliteStore, last_ts: int | None = None) -> bool:
    """True when the store holds a replay that ran to the end of the data (``last_ts``).

    A finished replay given more data (a later ``--to``) is not finished: it resumes.
    """
    loaded = store.load()
    if loaded is None or not loaded.snapshot.get("done"):
        return False
    cursor = int((loaded.cursor or {}).get("ts", -1))
    return last_ts is None or last_ts <= cursor


def open_store(folder: Path, name: str, config: str, rehearsal: bool = False) -> SqliteStore:
    """Open the bot's database with its commit sequence; damage is one clear line."""
    path = folder / "bot.sqlite"
    try:
        durability: Durability = "rehearsal" if rehearsal else "process"
        store = SqliteStore(path, name, seq_path=folder / SEQ_FILE, durability=durability)
    except sqlite3.Error as exc:
        raise UserInputError(f"{path}: cannot open the state database ({exc})") from None
    try:
        problems = store.problems()
    except sqlite3.Error as exc:
        store.close()
        if is_corruption(exc):
            raise corrupt_error(path, exc) from None
        raise UserInputError(f"{path}: cannot read the state database ({exc})") from None
    if problems:
        store.close()
        raise UserInputError(
            f"{path}: the state database holds {'; '.join(problems)} (two processes wrote "
            f"to it?); repair it with: optiflow state repair {config} --state-dir {folder}"
        )
    return store


def serve_protected(
    runtime: Runtime, notifier: Notifier, name: str, service: TelegramService | None = None
) -> int:
    """Run a bot; an unexpected exception is logged with its traceback and announced.

    Returns the exit code: 0 after a clean stop, 1 after a crash (the supervisor restarts).
    """
    try:
        asyncio.run(_serve(runtime, notifier, name, service))
    except UserInputError:
        raise
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            return _crashed(notifier, name, exc)
        raise UserInputError(f"{name}: the state database is corrupt ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - runtime protection: log, announce, exit non-zero
        return _crashed(notifier, name, exc)
    return 0


def _crashed(notifier: Notifier, name: str, exc: Exception) -> int:
    """Log with the traceback and announce an unexpected error; the exit code is 1."""
    log.error("unexpected error, stopping", exc_info=exc)
    notifier.notify(Notify("crash", "", f"💥 {name} crashed: {type(exc).__name__}: {exc}", 0))
    return 1


def build_live_runtime(
    cfg: BotConfig,
    mode: str,
    keys: ApiKeys | None,
    store: SqliteStore,
    notifier: Notifier,
    folder: Path,
    websocket: bool = True,
    shared: dict[tuple[str | None, ...], object] | None = None,
) -> LiveRuntime:
    """Paper: live public data + simulated fills; live: real orders and exchange stops.

    Prices also stream over the exchange's websocket where ccxt.pro has one (exits react to
    every pushed price); the REST fetch of each cycle stays as the fallback.
    """
    # ccxt is imported here, not at module level: a replay bot never loads it (~76 MB less)
    from optiflow.adapters.ccxt.factory import ExchangeSpec
    from optiflow.adapters.ccxt.gateway import CcxtGateway

    spec = ExchangeSpec(
        cfg.exchange.id,
        cfg.exchange.market,
        api_key=keys.api_key if keys else None,
        secret=keys.secret if keys else None,
        api_base_url=cfg.exchange.api_base_url,
        ws_base_url=cfg.exchange.ws_base_url,
    )
    clock = RealClock()
    # one request-weight budget per exchange account, shared by every bot of the fleet
    # (a file lock next to the bots' state folders); Binance allows 6000 weight/min
    budget = FileWeightBudget(
        folder.parent / ".shared" / f"{cfg.exchange.id}-{cfg.exchange.market}.budget", 6000, 100
    )
    data_gw = CcxtGateway.from_spec(spec, shared=shared, clock=clock, budget=budget)
    orders: ExchangeGateway
    if mode == "paper":
        s = settings_from_config(cfg)
        orders = SimGateway(
            SimExchange(s.fee_rate, s.slippage_rate, {}, {"USDT": s.starting_balance})
        )
    else:
        orders = data_gw
    prices: PriceFeed | None = None
    # a REST base without a websocket base (testnet, proxy, fake) must not mix in the
    # exchange's own stream: prices would come from a different market
    same_place = spec.ws_base_url is not None or spec.api_base_url is None
    if websocket and same_place:  # ccxt.pro (31 MB) loads only when it can be used
        from optiflow.adapters.ccxt.ws_feed import WsPriceFeed, supports_websocket
    if websocket and same_place and supports_websocket(spec):
        prices = WsPriceFeed.from_spec(spec, now_ms=clock.now_ms)
    else:
        log.info("%s: no websocket prices, REST polling every cycle", cfg.name)
    return LiveRuntime(
        cfg,
        data=data_gw,
        orders=orders,
        store=store,
        notifier=notifier,
        clock=clock,
        state_dir=folder,
        mode="paper" if mode == "paper" else "live",
        protect_stops=mode == "live",
        prices=prices,
    )


async def _serve(
    runtime: Runtime, notifier: Notifier, name: str, service: TelegramService | None = None
) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if not runtime.stop_requested:
            notifier.notify(Notify("shutdown", "", f"🛑 Bot shutting down… ({name})", 0))
        runtime.stop_requested = True
        interrupt_waits(runtime)  # the sleep between cycles ends now, not at the next cycle

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    if service is not None:
        from optiflow.interfaces.cli.telegram_run import start_telegram, stop_telegram
    starting = await start_telegram(service) if service is not None else None
    try:
        await runtime.run()
    finally:
        if isinstance(runtime, LiveRuntime):
            await runtime.data.close()
        if service is not None:
            await stop_telegram(service, starting)
    if runtime.stop_requested:
        print(f"{name}: stopped cleanly; state saved", file=sys.stderr)
