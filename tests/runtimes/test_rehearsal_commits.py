"""Rehearsal durability order: no request while a stop placement's answer is uncommitted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optiflow.adapters.sim.rehearsal import RehearsalExchange
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.domain.events import Notify
from optiflow.runtimes.backtest import prepare
from optiflow.runtimes.rehearsal import RehearsalRuntime
from tests.runtimes.runs_support import bundled

REQUESTS = (
    "submit_order",
    "cancel_order",
    "fetch_order",
    "fetch_open_orders",
    "fetch_my_trades",
    "fetch_balances",
)


class _Quiet:
    def notify(self, note: Notify) -> None:
        """Drop notifications."""


class Watching:
    """The rehearsal's exchange, asking ``check`` before every order-side request."""

    def __init__(self, market: RehearsalExchange, check: Callable[[str], None]) -> None:
        """Forward everything to ``market``."""
        self._market, self._check = market, check

    def __getattr__(self, name: str) -> Any:
        """Requests are checked first; the rest goes straight through."""
        attr = getattr(self._market, name)
        if name not in REQUESTS:
            return attr
        check = self._check

        async def request(*args: Any, **kwargs: Any) -> Any:
            check(name)
            return await attr(*args, **kwargs)

        return request


def test_a_stop_answer_is_committed_before_any_further_request(tmp_path: Path) -> None:
    """A placement's answer rides on the next commit, which always precedes the next request."""
    cfg, data = bundled("runtime_config_optiscalpA.json", "2023-04-03", "2023-04-04")
    seen: list[str] = []  # requests made with an answer still uncommitted
    held: list[int] = []  # every order-side request
    rt: RehearsalRuntime | None = None

    def check(name: str) -> None:
        p = rt.protector if rt is not None else None
        if p is not None and p.unsaved:
            seen.append(name)
        held.append(1)

    def wrap(market: RehearsalExchange, now_ms: Callable[[], int]) -> Any:
        return Watching(market, check)

    store = SqliteStore(tmp_path / "bot.sqlite", cfg.name, durability="rehearsal")
    rt = RehearsalRuntime(cfg, prepare(cfg, data), store, _Quiet(), tmp_path, 0, wrap=wrap)
    placed: list[int] = []
    p = rt.protector
    assert p is not None
    drain = p.drain

    def counting_drain() -> Any:
        placed.append(int(p.unsaved))  # a commit took a placement's answer along
        return drain()

    p.drain = counting_drain  # type: ignore[method-assign]
    asyncio.run(rt.run())
    stops = [r for r in store.orders() if r.reason == "protective_stop"]
    store.close()
    assert len(held) > 1000 and len(stops) > 100
    assert seen == []
    assert sum(placed) == len(stops)  # every placement's answer went out with a later commit
    assert all(r.status != "intent" for r in stops)  # and each one's row says what came back
