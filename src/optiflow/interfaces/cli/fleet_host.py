"""A fleet's bot host: several bots in one OS process, one asyncio task each.

The supervisor starts one host per group of ``bots_per_process`` bots (fleet.json):

    python -m optiflow.interfaces.cli.fleet_host run --mode paper [--data D --speed N
        --from T --to T] [--live] --stagger S --max-restarts N --state-root ROOT
        --config A.json --state-dir state/A --config B.json --state-dir state/B ...

Each bot keeps what it has alone: its state-folder lock (``bot.lock``, held by this
process: a second process on that folder is refused), store, client-id prefix, capital
ledger, logs (``bot.log`` keeps only its task's records, ``console.log`` its console lines)
and notifier. Bots of one exchange account share one ccxt exchange (its markets, its HTTP
session) and, as every bot does, the account's request-weight budget.

Isolation: an exception in one bot's task stops that bot only (announced as a crash); the
host restarts it with doubling back-off (1 s .. 60 s) and gives it up after
``--max-restarts`` crashes within an hour (a note in the fleet's outbox either way). What
is *not* isolated: the process itself (a segfault, OOM kill or ``kill -9`` takes every bot
of the host down; the supervisor restarts the host and so its bots) and the event loop (a
bot blocking it stalls its neighbours; the supervisor's heartbeat then restarts the host).
SIGTERM/SIGINT stop every bot cleanly (each announces its shutdown), then the host exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optiflow.adapters.console_notifier import ConsoleNotifier
from optiflow.adapters.files.statedir import StateDirLock
from optiflow.adapters.logs import (
    CURRENT_BOT,
    DEFAULT_TOTAL_MB,
    add_bot_files,
    host_console,
    remove_bot_files,
)
from optiflow.config.advice import config_warnings
from optiflow.config.loader import load_config
from optiflow.config.models import BotConfig
from optiflow.domain.errors import UserInputError
from optiflow.domain.events import Notify
from optiflow.engine.settings import settings_from_config
from optiflow.interfaces.cli.run import (
    Runtime,
    _crashed,
    build_live_runtime,
    last_bar_ts,
    open_store,
    replay_finished,
    save_config,
)
from optiflow.interfaces.cli.secrets import load_keys
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.loaders import load_folder
from optiflow.ports.notifier import Notifier
from optiflow.runtimes.pacer import interrupt_waits
from optiflow.runtimes.replay import ReplayRuntime

log = logging.getLogger("optiflow.host")
BACKOFF_MAX_S = 60.0
BUNDLED = Path(__file__).resolve().parents[4] / "data" / "binance_spot_1m"  # as optiflow run


@dataclass(frozen=True)
class HostedBot:
    """One bot of the host: its config file and state folder."""

    config: Path
    state_dir: Path


class Host:
    """Runs its bots as tasks until each ends or a stop is requested."""

    def __init__(self, args: argparse.Namespace, bots: list[HostedBot]) -> None:
        """Prepare (nothing starts until `run`)."""
        self.args, self.bots = args, bots
        self.stopping = False
        self.stop_event: asyncio.Event | None = None
        self.runtimes: dict[str, tuple[Runtime, Notifier]] = {}
        self.exchanges: dict[tuple[str | None, ...], Any] = {}  # one ccxt client per account

    async def run(self) -> int:
        """Every bot as its own task, staggered; 0 when each ended cleanly."""
        self.stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        tasks = [
            asyncio.create_task(self.keep(b, i * self.args.stagger), name=str(b.state_dir))
            for i, b in enumerate(self.bots)
        ]
        codes = await asyncio.gather(*tasks)
        for exchange in self.exchanges.values():
            with contextlib.suppress(Exception):
                await exchange.close()
        return 0 if all(c == 0 for c in codes) else 1

    def stop(self) -> None:
        """SIGTERM/SIGINT: every bot stops cleanly (each announces it)."""
        self.stopping = True
        if self.stop_event is not None:
            self.stop_event.set()
        for name, (runtime, notifier) in self.runtimes.items():
            if not runtime.stop_requested:
                token = CURRENT_BOT.set(name)  # the line belongs in that bot's console.log
                notifier.notify(Notify("shutdown", "", f"🛑 Bot shutting down… ({name})", 0))
                CURRENT_BOT.reset(token)
            runtime.stop_requested = True
            interrupt_waits(runtime)  # also a paced replay's wait for its next candle

    async def pause(self, seconds: float) -> None:
        """Sleep, ending at once when a stop is requested."""
        if self.stop_event is not None and seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), seconds)

    async def keep(self, bot: HostedBot, delay: float) -> int:
        """Run one bot; restart it after a crash with back-off, up to the hourly cap."""
        CURRENT_BOT.set(bot.state_dir.name)  # this task's log records belong to this bot
        await self.pause(delay)
        crashes: list[float] = []
        rc = 0
        while not self.stopping:
            try:
                rc = await self.once(bot)
            except Exception:  # noqa: BLE001 - e.g. its log folder: this bot only, not the host
                log.exception("%s: could not run", bot.state_dir.name)
                rc = 1
            if rc == 0 or self.stopping:
                return rc
            now = time.time()
            crashes = [t for t in crashes if now - t < 3600] + [now]
            name = bot.state_dir.name
            if len(crashes) >= self.args.max_restarts:
                self.note(
                    "giveup",
                    name,
                    f"🚫 {name} crashed {len(crashes)} times within an "
                    "hour in its host: given up (optiflow fleet restart to try again)",
                )
                return rc
            wait = min(BACKOFF_MAX_S, self.args.backoff * 2 ** (len(crashes) - 1))
            self.note(
                "restart",
                name,
                f"🔁 {name} exited with code {rc} in its host "
                f"(pid {os.getpid()}); restarting it in {wait:.0f} s",
            )
            await self.pause(wait)
        return rc

    def note(self, kind: str, bot: str, text: str) -> None:
        """Log a restart or give-up and leave it in the fleet's outbox (Telegram)."""
        log.warning("%s", text)
        if self.args.state_root is None:
            return
        from optiflow.supervisor.outbox import Outbox

        with contextlib.suppress(Exception):
            box = Outbox(self.args.state_root)
            try:
                box.add(kind, bot, text)
            finally:
                box.close()

    async def once(self, bot: HostedBot) -> int:
        """One life of a bot: lock, store, runtime, run; the exit code `optiflow run` gives."""
        try:
            cfg = load_config(bot.config)
            CURRENT_BOT.set(cfg.name)  # this task's log records belong to this bot
            lock = StateDirLock(bot.state_dir, cfg.name)
            bot.state_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except UserInputError as exc:
            log.error("%s", exc)
            return 2
        total = int(self.args.log_max_mb * 2**20)
        files = add_bot_files(bot.state_dir, cfg.name, list(cfg.pairs), total)
        try:
            store = open_store(bot.state_dir, cfg.name, str(bot.config))
            try:
                save_config(bot.state_dir, cfg)
                return await self.serve(cfg, bot.state_dir, store)
            finally:
                store.close()
        except UserInputError as exc:
            log.error("%s", exc)
            return 2
        finally:
            remove_bot_files(files)
            lock.release()

    def build(self, cfg: BotConfig, folder: Path, store: Any, notifier: Notifier) -> Runtime | None:
        """The bot's runtime (None: a replay that already ran to the end of its data)."""
        a = self.args
        if a.mode == "replay":
            data = load_folder(
                a.data, list(cfg.pairs), parse_when("--from", a.when_from),
                parse_when("--to", a.when_to),
            )  # fmt: skip
            if replay_finished(store, last_bar_ts(data, settings_from_config(cfg).timeframe_ms)):
                log.info("%s: the replay in %s is finished; nothing changed", cfg.name, folder)
                return None
            return ReplayRuntime(cfg, data, store, folder, notifier, a.speed, time.monotonic)
        keys = load_keys(None) if a.mode == "live" else None
        if a.mode == "live" and keys is None:
            raise UserInputError(f"{cfg.name}: live trading needs API keys in the environment")
        return build_live_runtime(cfg, a.mode, keys, store, notifier, folder, shared=self.exchanges)

    async def serve(self, cfg: BotConfig, folder: Path, store: Any) -> int:
        """Run the bot until it ends; a crash is logged, announced and gives exit code 1."""
        notifier: Notifier = ConsoleNotifier(cfg.name)
        if cfg.telegram.enabled:  # the fleet's Telegram service delivers the outbox
            from optiflow.interfaces.telegram.notifier import TelegramNotifier
            from optiflow.queries.view import BotView

            notifier = TelegramNotifier(notifier, BotView(folder, cfg), None)
        for text in config_warnings(cfg, self.args.mode):
            log.warning("%s: WARNING %s", cfg.name, text)
        try:
            runtime = self.build(cfg, folder, store, notifier)
            if runtime is None:
                return 0
            self.runtimes[cfg.name] = (runtime, notifier)
            if self.stopping:
                runtime.stop_requested = True
            await runtime.run()
        except UserInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - this bot's crash must not stop the others
            return _crashed(notifier, cfg.name, exc)
        finally:
            self.runtimes.pop(cfg.name, None)
        if runtime.stop_requested:
            log.info("%s: stopped cleanly; state saved", cfg.name)
        return 0


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[HostedBot]]:
    """The host's command line (written by the supervisor, not by users)."""
    ap = argparse.ArgumentParser(prog="fleet_host", description=__doc__)
    ap.add_argument("command", choices=("run",))
    ap.add_argument("--mode", choices=("replay", "paper", "live"), required=True)
    ap.add_argument("--data", type=Path, default=BUNDLED)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--from", dest="when_from")
    ap.add_argument("--to", dest="when_to")
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--stagger", type=float, default=0.0)
    ap.add_argument("--backoff", type=float, default=1.0)
    ap.add_argument("--max-restarts", type=int, default=10)
    ap.add_argument("--log-max-mb", type=float, default=DEFAULT_TOTAL_MB)
    ap.add_argument("--state-root", type=Path)
    ap.add_argument("--config", type=Path, action="append", default=[])
    ap.add_argument("--state-dir", type=Path, action="append", default=[])
    args = ap.parse_args(argv)
    if len(args.config) != len(args.state_dir) or not args.config:
        ap.error("give --config and --state-dir once per bot, in pairs")
    if args.mode == "live" and not args.live:
        ap.error("--mode live needs --live")
    return args, [HostedBot(c, d) for c, d in zip(args.config, args.state_dir, strict=True)]


def main(argv: list[str] | None = None) -> int:
    """Run the host; its exit code is 0 when every bot ended cleanly."""
    args, bots = parse_args(sys.argv[1:] if argv is None else argv)
    host_console()
    return asyncio.run(Host(args, bots).run())


if __name__ == "__main__":
    sys.exit(main())
