"""``optiflow run``: one bot through the live runtime (replay now; paper/live via ccxt)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from pathlib import Path

from optiflow.adapters.console_notifier import ConsoleNotifier
from optiflow.adapters.logs import setup_logging
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.app.replay import ReplayRuntime
from optiflow.config.loader import load_config
from optiflow.config.presets import find_config
from optiflow.domain.errors import UserInputError
from optiflow.domain.events import Notify
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.loaders import load_folder

log = logging.getLogger("optiflow.runtime")


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
) -> int:
    """Start a bot; returns the process exit code (0 after a clean stop)."""
    cfg = load_config(find_config(config))
    if mode != "replay":
        raise UserInputError(
            f"--mode {mode}: not available in this build; use --mode replay "
            "(paper and live trading through ccxt are in progress)"
        )
    if live:
        raise UserInputError("--live only applies to --mode live")
    if speed < 0:
        raise UserInputError(f"--speed {speed}: must be 0 (as fast as possible) or more")
    folder = state_dir or default_state_dir(cfg.name)
    candles = load_folder(
        data, list(cfg.pairs), parse_when("--from", when_from), parse_when("--to", when_to)
    )
    setup_logging(folder / "logs", cfg.name, list(cfg.pairs))
    notifier = ConsoleNotifier(cfg.name)
    store = SqliteStore(folder / "bot.sqlite", cfg.name)
    runtime = ReplayRuntime(cfg, candles, store, folder, notifier, speed, time.monotonic)
    code = 0
    try:
        asyncio.run(_serve(runtime, notifier, cfg.name))
    except Exception as exc:  # noqa: BLE001 - runtime protection: log, announce, exit non-zero
        log.exception("unexpected error, stopping")
        notifier.notify(
            Notify("crash", "", f"💥 {cfg.name} crashed: {type(exc).__name__}: {exc}", 0)
        )
        code = 1
    finally:
        store.close()
    return code


async def _serve(runtime: ReplayRuntime, notifier: ConsoleNotifier, name: str) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if not runtime.stop_requested:
            notifier.notify(Notify("shutdown", "", f"🛑 Bot shutting down… ({name})", 0))
        runtime.stop_requested = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await runtime.run()
    if runtime.stop_requested:
        print(f"{name}: stopped cleanly; state saved", file=sys.stderr)
