"""A live bot for the soak test: the production runtime on an accelerated clock (a process to kill).

``python tests/runtimes/live/soak_bot.py URL STATE_DIR ORIGIN_MS WALL_ORIGIN_S SPEED``:
runs the live
runtime (real ccxt to the fake Binance at URL, SQLite store, exchange stops) until SIGTERM.
Only the pacing is shortened for speed: market time is accelerated and lookups retry fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.ccxt.factory import ExchangeSpec, build_exchange  # noqa: E402
from optiflow.adapters.ccxt.gateway import CcxtGateway  # noqa: E402
from optiflow.adapters.ccxt.retry import RetryPolicy  # noqa: E402
from optiflow.adapters.clock import AcceleratedClock  # noqa: E402
from optiflow.adapters.console_notifier import ConsoleNotifier  # noqa: E402
from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.interfaces.cli.run import serve_protected  # noqa: E402
from optiflow.runtimes.live.runtime import LiveRuntime  # noqa: E402
from tests.runtimes.live.live_support import fast_bot  # noqa: E402

KEY, SECRET = "k-SOAK0123456789", "s-SOAKSECRET-abcdef012345"


def main() -> int:
    """Run one soak bot until stopped; the exit code of ``optiflow run``."""
    url, state = sys.argv[1], Path(sys.argv[2])
    origin_ms, wall0, speed = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    cfg = fast_bot("Soak", "live", {"api_base_url": url}).model_copy(update={"interval_s": 20})
    clock = AcceleratedClock(origin_ms, speed, wall0)
    spec = ExchangeSpec("binance", "spot", KEY, SECRET, api_base_url=url, timeout_ms=800)
    gw = CcxtGateway(
        build_exchange(spec),
        market="spot",
        clock=clock,
        secrets=(KEY, SECRET),
        retry=RetryPolicy(max_attempts=3, base_delay=0.02, budget_s=2),
    )
    gw.exchange.enableRateLimit = False
    store = SqliteStore(state / "bot.sqlite", cfg.name)
    notifier = ConsoleNotifier(cfg.name)
    rt = LiveRuntime(
        cfg,
        data=gw,
        orders=gw,
        store=store,
        notifier=notifier,
        clock=clock,
        state_dir=state,
        mode="live",
        protect_stops=True,
    )
    rt.executor.lookup_delay_s = 0.02
    try:
        return serve_protected(rt, notifier, cfg.name)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
