"""Replay runtime: history played in (accelerated) real time through the live machinery.

Each candle is one atomic step: the bot and the in-process simulated exchange process it
in memory, then ONE store transaction records the engine and exchange state, the orders,
fills and exits of the step, and the replay position. A kill at any moment therefore
resumes from the last committed candle with both sides in agreement: the step is redone
identically (the core is deterministic), no order is submitted twice, nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from optiflow.adapters.files.exports import write_state_files
from optiflow.adapters.sim.exchange import sim_restore, sim_to_snapshot
from optiflow.config.loader import config_hash
from optiflow.config.models import BotConfig
from optiflow.domain.errors import UserInputError
from optiflow.domain.events import (
    CancelOrder,
    Command,
    Notify,
    OrderFilled,
    OrderRejected,
    SubmitOrder,
)
from optiflow.domain.results import ExitRow
from optiflow.domain.timefmt import iso_utc
from optiflow.engine.bot import Bot
from optiflow.engine.snapshot import from_snapshot, position_to_dict, to_snapshot
from optiflow.marketdata.features import compute_features, features_at
from optiflow.marketdata.loaders import CandleArrays
from optiflow.ports.notifier import Notifier
from optiflow.ports.store import FillRow, OrderRow, StateBatch, Store
from optiflow.runtimes.backtest import feature_spec, new_loop, prepare
from optiflow.runtimes.bar_loop import BarLoop
from optiflow.runtimes.decision_log import log_decisions, new_near_misses, symbol_loggers
from optiflow.runtimes.pacer import Pacer as Pacer  # rehearsal.py imports it from here
from optiflow.runtimes.shadow_feed import ShadowFeed

log = logging.getLogger("optiflow.runtime")
IMMEDIATE = ("start", "recovery")


@dataclass(slots=True)
class StepLog:
    """What one step did, gathered for its commit."""

    orders: dict[str, OrderRow] = field(default_factory=dict)
    fills: list[FillRow] = field(default_factory=list)
    notes: list[Notify] = field(default_factory=list)


class RecordingLoop(BarLoop):
    """A bar loop that also records orders, fills and notifications for the store."""

    step: StepLog
    open_rows: dict[str, OrderRow]

    def dispatch(self, commands: list[Command], t: int) -> None:
        """Record, then carry out, the bot's commands."""
        for cmd in commands:
            if isinstance(cmd, SubmitOrder):
                row = OrderRow(
                    cmd.client_id,
                    cmd.position_id,
                    cmd.symbol,
                    cmd.side,
                    cmd.reason,
                    cmd.qty,
                    Decimal(0),
                    "open",
                    cmd.ref_price,
                    cmd.ts,
                    cmd.ts,
                )
                self.step.orders[cmd.client_id] = self.open_rows[cmd.client_id] = row
            elif isinstance(cmd, CancelOrder):
                if cmd.client_id in self.open_rows:
                    was = self.open_rows.pop(cmd.client_id)
                    self.step.orders[cmd.client_id] = was.updated(was.filled, "cancelled", cmd.ts)
            elif isinstance(cmd, Notify):
                self.step.notes.append(cmd)
        super().dispatch(commands, t)

    def record_result(self, res: OrderFilled | OrderRejected) -> None:
        """Note an exchange result against its order."""
        row = self.open_rows.get(res.client_id)
        if isinstance(res, OrderFilled):
            # the order's cumulative filled quantity names the fill: the same on a redone
            # step, and different for two partial fills of one order
            done = (row.filled if row is not None else Decimal(0)) + res.qty
            self.step.fills.append(
                FillRow(
                    f"{res.client_id}#{format(done.normalize(), 'f')}",
                    res.client_id,
                    res.symbol,
                    res.side,
                    res.qty,
                    res.price,
                    res.fee,
                    res.ts,
                )
            )
            if row is not None:
                filled = row.filled + res.qty
                status = "filled" if filled >= row.qty else "partial"
                row = row.updated(filled, status, res.ts)
        elif row is not None:
            row = row.updated(row.filled, "rejected", res.ts)
        if row is not None:
            self.step.orders[res.client_id] = row
            if row.status in ("filled", "rejected"):
                del self.open_rows[res.client_id]
            else:
                self.open_rows[res.client_id] = row


def positions_for_export(bot: Bot) -> list[dict[str, Any]]:
    """Open positions as the active_trades.json rows."""
    out = []
    for p in bot.positions.values():
        d = position_to_dict(p)
        lv = d["levels"]
        out.append(
            {
                "position_id": p.position_id,
                "symbol": p.symbol,
                "ts_entry": p.ts_entry,
                "entry_price": d["entry_price"],
                "qty": d["qty"],
                "qty_original": d["qty0"],
                "tp1_price": lv["tp1"],
                "tp2_price": lv["tp2"],
                "sl_price": lv["sl"],
                "stop_price": p.stop,
                "stop_is_breakeven": p.stop_is_breakeven,
                "tp1_hit": p.tp1_hit,
                "steps_fired": list(p.steps_fired),
                "step_prices": lv["steps"],
            }
        )
    return out


class ReplayRuntime:
    """One bot replaying history with persistence, state files, logs and notifications."""

    def __init__(
        self,
        cfg: BotConfig,
        data: dict[str, CandleArrays],
        store: Store,
        state_dir: Path,
        notifier: Notifier,
        speed: float,
        now_s: Callable[[], float],
        *,
        commit_every: int = 200,
        files_every_s: float = 1.0,
        commit_interval_s: float = 0.05,
        accept_config_change: bool = False,
    ) -> None:
        """Prepare the bot, the simulated exchange and the candles."""
        self.cfg, self.store, self.state_dir, self.notifier = cfg, store, state_dir, notifier
        self.config_hash, self.accept_config_change = config_hash(cfg), accept_config_change
        self.now_s, self.commit_every, self.files_every_s = now_s, commit_every, files_every_s
        # a step with trades is committed at once unless the last commit is under this old;
        # then the next ones join it (a crash redoes them identically; nothing was announced)
        self.commit_interval_s = commit_interval_s
        self._commits = 0
        self._near: list[int] = [-1]  # time of the latest near miss already stored
        self.pacer = Pacer(speed, now_s)
        arrays = prepare(cfg, data)
        spec = feature_spec(cfg, arrays[0].timeframe_ms if arrays else 60_000)
        self.feats = [compute_features(a, spec) for a in arrays]
        loop, self.settings = new_loop(cfg, arrays, self._features)
        self.loop = RecordingLoop(loop.bot, loop.sim, loop.data, loop.features, loop.spread_pct)
        self.loop.shadows = loop.shadows
        self.loop.step = StepLog()
        self.loop.open_rows = {}
        self.loop.bot.trace = []
        self.stop_requested = False
        self.already_finished = False  # set by recover(): nothing to do, nothing is written
        self.symbol_runtime: dict[str, dict[str, Any]] = {
            s: {"errors": 0, "last_cycle_ts": None, "last_cycle_ms": None} for s in cfg.pairs
        }
        self._files_at = 0.0
        self._exits: list[ExitRow] = []
        self.symbol_loggers = symbol_loggers(cfg)

    def _features(self, i: int, row: int) -> Any:
        return features_at(self.feats[i], row)

    def log_decisions(self) -> None:
        """Per-symbol DEBUG lines for every signal and filter decision, with its values."""
        log_decisions(self.loop.bot, self.symbol_loggers)

    def recover(self) -> int:
        """Starting is recovering: restore the last committed state; return the first bar."""
        loaded = self.store.load()
        d = self.loop.data
        if loaded is None:
            self._notify(
                "start",
                f"▶️ {self.cfg.name} starting: replay of "
                f"{', '.join(self.cfg.pairs)} ({len(d.ts)} candles), "
                f"balance {self.loop.bot.cash:.2f} USDT",
            )
            return 0
        snap = loaded.snapshot
        self._check_config(snap.get("config_hash"))
        cursor_ts = int((loaded.cursor or {}).get("ts", -1))
        if snap.get("done") and (not len(d.ts) or int(d.ts[-1]) <= cursor_ts):
            self.already_finished = True
            return len(d.ts)
        self.loop.bot = from_snapshot(self.settings, self.loop.bot.limits, snap["bot"])
        self.loop.bot.trace = []
        seen = {o.client_id for o in self.store.orders()}
        sim_restore(self.loop.sim, snap["sim"], seen)
        self._exits = self.store.exits()
        self.loop.open_rows = {
            o.client_id: o for o in self.store.orders(("intent", "open", "partial"))
        }
        cursor = loaded.cursor or {}
        start = int(np.searchsorted(d.ts, int(cursor.get("ts", -1)), side="right"))
        if isinstance(self.loop.shadows, ShadowFeed):
            self.loop.shadows.resume_at(start)
        bot = self.loop.bot
        self._notify(
            "recovery",
            f"♻️ {self.cfg.name} recovered: {len(bot.positions)} open "
            f"position(s) {sorted(bot.positions)}, {len(bot.entry_orders)} entry "
            f"order(s) in flight; resuming after {cursor.get('iso', '?')}",
        )
        return start

    def _check_config(self, stored: object) -> None:
        """Refuse to resume with a config other than the one the stored state was made with."""
        if stored is None or stored == self.config_hash:
            return
        if not self.accept_config_change:
            raise UserInputError(
                f"{self.cfg.name}: the config changed since this replay's state was saved "
                f"(hash {stored} -> {self.config_hash}); resuming would mix two configs. Rerun "
                "with --accept-config-change to resume under the new config, or start over"
            )
        self._notify(
            "config_change",
            f"⚠️ {self.cfg.name}: config changed (hash {stored} -> {self.config_hash}); "
            "resuming under the new config (--accept-config-change)",
        )

    def _notify(self, kind: str, text: str) -> None:
        """Record a bot-level note; start and recovery are also announced at once."""
        ts = int(self.loop.data.ts[0]) if len(self.loop.data.ts) else 0
        note = Notify(kind, "", text, ts)
        self.loop.step.notes.append(note)
        if kind in IMMEDIATE:
            self.notifier.notify(note)

    def commit(self, t: int, done: bool = False) -> None:
        """Write the step's changes and the replay position in one transaction."""
        loop, step = self.loop, self.loop.step
        exits = tuple(loop.bot.exits)
        loop.bot.exits.clear()
        self._exits.extend(exits)
        ts = int(loop.data.ts[t]) if t >= 0 else -1
        snapshot: dict[str, Any] = {"bot": to_snapshot(loop.bot), "sim": sim_to_snapshot(loop.sim)}
        snapshot["config_hash"] = self.config_hash
        if done:
            snapshot["done"] = True
        try:
            self.store.commit(self._batch(snapshot, ts, exits))
        except Exception as exc:  # noqa: BLE001 - replay: no money at stake, stop clearly
            at = iso_utc(ts) if ts >= 0 else "the start"
            raise UserInputError(
                f"{self.cfg.name}: cannot save the replay state ({type(exc).__name__}: {exc}); "
                f"replay stopped at {at}; fix the state folder {self.state_dir} (space, "
                "permissions) and run again: it resumes from the last saved candle"
            ) from None
        for note in step.notes:
            if note.kind not in IMMEDIATE:
                self.notifier.notify(note)
        loop.step = StepLog()

    def _batch(self, snapshot: dict[str, Any], ts: int, exits: tuple[ExitRow, ...]) -> StateBatch:
        """The step's store transaction."""
        loop, step = self.loop, self.loop.step
        return StateBatch(
            snapshot=snapshot,
            cursor={"ts": ts, "iso": iso_utc(ts) if ts >= 0 else None},
            orders=tuple(step.orders.values()),
            fills=tuple(step.fills),
            exits=exits,
            notes=tuple(step.notes),
            near_misses=new_near_misses(loop.bot, self._near),
            shadows=() if loop.bot.shadows is None else tuple(loop.bot.shadows.drain()),
        )

    def write_files(self, force: bool = False) -> None:
        """Refresh the human/tool state files (at most every ``files_every_s``)."""
        now = self.now_s()
        if not force and now - self._files_at < self.files_every_s:
            return
        self._files_at = now
        bot = self.loop.bot
        write_state_files(
            self.state_dir,
            positions=positions_for_export(self.loop.bot),
            exits=self._exits,
            stats={s: c.frozen() for s, c in bot.counters.items()},
            symbol_runtime=self.symbol_runtime,
            info={"name": self.cfg.name, "mode": "replay", "cash": str(bot.cash)},
            on_error=self._files_problem,
        )

    def _files_problem(self, text: str) -> None:
        """The state files cannot be written (once per outage): tell the operator."""
        self.notifier.notify(Notify("files", "", text, int(self.loop.data.ts[0])))

    async def run(self) -> None:
        """Replay from the recovered position to the end of the data (or a stop request)."""
        start = self.recover()
        if self.already_finished:
            return  # a finished replay is left exactly as it is (start over: state reset)
        d, loop = self.loop.data, self.loop
        loop.on_result = loop.record_result
        last_commit, committed_at, pending = start - 1, -1e9, False
        t = start
        while t < len(d.ts):
            if self.stop_requested:
                break
            await self.pacer.wait(int(d.ts[t]))
            t0 = self.now_s()
            present = [i for i in range(len(d.symbols)) if d.rows[i][t] >= 0]
            before = (len(loop.step.orders), len(loop.bot.exits))
            try:
                loop.process_bar(t, present)
            except ValueError as exc:
                if "duplicate client order id" not in str(exc):
                    raise
                raise UserInputError(
                    f"{self.cfg.name}: the state database in {self.state_dir} already holds "
                    f"orders past its saved position ({exc}; two processes wrote to it?); "
                    f"repair it with: optiflow state repair {self.cfg.name} --state-dir "
                    f"{self.state_dir}"
                ) from None
            self.log_decisions()
            took = (self.now_s() - t0) * 1000
            for i in present:
                rt = self.symbol_runtime[d.symbols[i]]
                rt["last_cycle_ts"], rt["last_cycle_ms"] = int(d.ts[t]) + d.timeframe_ms, took
            pending = pending or (len(loop.step.orders), len(loop.bot.exits)) != before
            now = self.now_s()
            if (pending and now - committed_at >= self.commit_interval_s) or (
                t - last_commit >= self.commit_every
            ):
                self.commit(t)
                last_commit, committed_at, pending = t, now, False
                self.write_files()
                self._commits += 1
                checkpoint = getattr(self.store, "checkpoint", None)
                if checkpoint is not None and self._commits % 50 == 0:
                    checkpoint()
            t += 1
        if t >= len(d.ts) and len(d.ts):
            loop.finish("end_of_data")
            self._notify("finished", f"🏁 {self.cfg.name}: replay finished")
            self.commit(len(d.ts) - 1, done=True)
        elif last_commit < t - 1:
            self.commit(t - 1)
        self.write_files(force=True)
