"""Telegram benchmark (issue 9): notification latency, and cycle time with Telegram on vs off.

* Latency: a note is committed to a bot's SQLite store the way a runtime does (the engine's
  event becomes a note in the outbox) and the notifier is called; the time until the fake
  Bot API (``tests/fakes/telegram.py``, 127.0.0.1, in-process thread) receives the
  ``sendMessage`` is measured, with the production pacing (1 message/s per chat; events
  spaced 1.1 s so no event waits for the previous one's pacing).
* Cycle time: the 9-pair busy bot of ``run_live_bench.py`` (``LiveRuntime`` on the stub
  exchange, accelerated clock, SQLite store) for N cycles, with the Telegram service running
  in the same event loop (delivering every note to the fake) vs without; each cycle is
  timed; runs alternate off/on to spread machine noise.

Usage: ``.venv/bin/python bench/run_telegram_bench.py [--events 40] [--cycles 1500]``;
results to stdout and ``bench/results/telegram.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run_live_bench import (  # noqa: E402
    NINE_PAIRS,
    WARMUP,
    SimClock,
    StubGateway,
    busy_config,
    load_window,
    start_ms,
)

from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.config.markets import market_limits  # noqa: E402
from optiflow.config.telegram import TelegramConfig  # noqa: E402
from optiflow.domain.events import Notify  # noqa: E402
from optiflow.interfaces.telegram.notifier import TelegramNotifier  # noqa: E402
from optiflow.interfaces.telegram.service import TelegramService  # noqa: E402
from optiflow.ports.notifier import Notifier  # noqa: E402
from optiflow.ports.store import StateBatch  # noqa: E402
from optiflow.queries.view import BotView  # noqa: E402
from optiflow.runtimes.live.runtime import LiveRuntime  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

TOKEN = "123456789:AABenchTokenBenchTokenBench_012345"


class Quiet:
    """A notifier that does nothing (the console notifier's logging left out)."""

    def notify(self, note: Notify) -> None:
        """Drop the note."""


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def bench_latency(events: int) -> dict[str, Any]:
    """Event (note committed + notifier called) to sendMessage received by the fake, ms."""
    fake = FakeTelegram(TOKEN).start()
    lat: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = SqliteStore(folder / "bot.sqlite", "Bench")
        tg = TelegramConfig(enabled=True, chat_ids=(1,), base_url=fake.base_url)

        async def run() -> None:
            view = BotView(folder)
            service = TelegramService(TOKEN, tg, {"Bench": view}, None, poll_timeout=1)
            notifier = TelegramNotifier(Quiet(), view, service.delivery)
            await service.start()
            try:
                for i in range(events):
                    note = Notify("entry", "BTC/USDT", f"event {i}", 0)
                    t0 = time.monotonic()
                    store.commit(StateBatch(snapshot={}, notes=(note,)))
                    notifier.notify(note)
                    while not any(f"event {i}" in m.get("text", "") for m in fake.sent[-3:]):
                        await asyncio.sleep(0.0005)
                    t1 = next(m["t"] for m in fake.sent if f"event {i}" in m.get("text", ""))
                    lat.append((t1 - t0) * 1000)
                    await asyncio.sleep(1.1)
            finally:
                await service.stop(flush_s=0)

        asyncio.run(run())
        store.close()
    fake.stop()
    return {
        "events": events,
        "p50_ms": round(pct(lat, 0.5), 2),
        "p99_ms": round(pct(lat, 0.99), 2),
        "max_ms": round(max(lat), 2),
    }


def run_cycles(cycles: int, telegram: bool, data: Any) -> tuple[list[float], int]:
    """Cycle durations (ms) of the busy bot, with or without the Telegram service."""
    cfg = busy_config(NINE_PAIRS, "live")
    clock = SimClock(start_ms())
    stub = StubGateway(data, {p: market_limits(cfg, p) for p in cfg.pairs}, clock)
    times: list[float] = []
    # the fake runs in its own process here, so its thread does not share our GIL
    fake = (
        subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "fakes" / "telegram.py"), TOKEN],
            stdout=subprocess.PIPE,
            text=True,
        )
        if telegram
        else None
    )
    port = int(fake.stdout.readline()) if fake is not None and fake.stdout else 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = SqliteStore(folder / "bot.sqlite", cfg.name)
        view = BotView(folder, cfg)
        service = None
        notifier: Notifier = Quiet()
        if fake is not None:
            base = f"http://127.0.0.1:{port}/bot"
            tg = TelegramConfig(enabled=True, chat_ids=(1,), base_url=base)
            service = TelegramService(TOKEN, tg, {cfg.name: view}, None, poll_timeout=1)
            notifier = TelegramNotifier(notifier, view, service.delivery)
        rt = LiveRuntime(
            cfg, data=stub, orders=stub, store=store, notifier=notifier, clock=clock,
            state_dir=folder, mode="live", warmup_candles=WARMUP,
        )  # fmt: skip
        inner = rt.cycle

        async def timed() -> None:
            t0 = time.perf_counter()
            await inner()
            times.append((time.perf_counter() - t0) * 1000)

        rt.cycle = timed  # type: ignore[method-assign]

        async def run() -> None:
            if service is not None:
                await service.start()
            try:
                await rt.run(max_cycles=cycles)
            finally:
                if service is not None:
                    await service.stop(flush_s=0)

        asyncio.run(run())
        store.close()
    sent = service.delivery.sent if service is not None else 0
    if fake is not None:
        fake.terminate()
        fake.wait(10)
    return times, sent


def bench_cycles(cycles: int, rounds: int) -> dict[str, Any]:
    """p50/p99 cycle time with Telegram off vs on (alternating rounds)."""
    data = load_window(cycles + WARMUP + 10)
    out: dict[str, list[float]] = {"off": [], "on": []}
    sent = 0
    for _ in range(rounds):
        for mode in ("off", "on"):
            times, n = run_cycles(cycles, mode == "on", data)
            out[mode] += times
            sent += n
    res: dict[str, Any] = {"cycles_per_run": cycles, "rounds": rounds, "messages_sent_on": sent}
    for mode, times in out.items():
        res[mode] = {
            "p50_ms": round(statistics.median(times), 3),
            "p99_ms": round(pct(times, 0.99), 3),
        }
    res["p99_diff_pct"] = round((res["on"]["p99_ms"] / res["off"]["p99_ms"] - 1) * 100, 1)
    return res


def main() -> int:
    """Run both measurements and write bench/results/telegram.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=40)
    ap.add_argument("--cycles", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "telegram.json")
    args = ap.parse_args()
    result = {
        "latency": bench_latency(args.events),
        "cycle_time": bench_cycles(args.cycles, args.rounds),
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
