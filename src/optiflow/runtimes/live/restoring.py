"""Start-up's first half: each pair's market limits, and the bot restored from the store.

May use: config, domain, engine, ports, adapters/sim (the paper exchange's own state) and
the live runtime's parts (protection, exit guard). No network of its own: the gateway given
answers the markets.
"""

from __future__ import annotations

from typing import Protocol

from optiflow.adapters.sim.exchange import sim_restore
from optiflow.adapters.sim.gateway import SimGateway
from optiflow.config.markets import market_limits
from optiflow.config.models import BotConfig
from optiflow.config.renames import unlisted_message
from optiflow.domain.errors import UserInputError
from optiflow.domain.market import MarketLimits
from optiflow.domain.results import ExitRow
from optiflow.engine.bot import Bot
from optiflow.engine.settings import EngineSettings
from optiflow.engine.snapshot import from_snapshot
from optiflow.ports.exchange import ExchangeGateway
from optiflow.ports.store import Store, StoredState
from optiflow.runtimes.live.exit_guard import ExitGuard
from optiflow.runtimes.live.protection import Protector


class Restorable(Protocol):
    """What restoring needs of a runtime."""

    cfg: BotConfig
    settings: EngineSettings
    data: ExchangeGateway
    orders: ExchangeGateway
    store: Store
    protector: Protector | None
    guard: ExitGuard
    bot: Bot | None
    exits: list[ExitRow]


async def load_limits(rt: Restorable) -> dict[str, MarketLimits]:
    """Every pair's order limits: the config's own market entry, else the exchange's."""
    cfg = rt.cfg
    markets = await rt.data.load_markets()
    missing = [p for p in cfg.pairs if p not in markets and p not in cfg.markets]
    if missing:
        raise UserInputError(unlisted_message(cfg.name, cfg.exchange.id, missing, markets))
    limits: dict[str, MarketLimits] = {
        p: market_limits(cfg, p) if p in cfg.markets else markets[p] for p in cfg.pairs
    }
    if isinstance(rt.orders, SimGateway):
        rt.orders.sim.limits = limits
    return limits


def restore_bot(rt: Restorable, limits: dict[str, MarketLimits]) -> StoredState | None:
    """Set ``rt.bot`` from the store's snapshot (stops, waiting exits, exits too), or new."""
    loaded = rt.store.load()
    if loaded is None:
        rt.bot = Bot(rt.settings, limits)
        return None
    if isinstance(rt.orders, SimGateway) and "sim" in loaded.snapshot:
        seen = {o.client_id for o in rt.store.orders()}
        sim_restore(rt.orders.sim, loaded.snapshot["sim"], seen)
    rt.bot = from_snapshot(rt.settings, limits, loaded.snapshot["bot"])
    if rt.protector is not None:
        rt.protector.restore(loaded.snapshot.get("stops", {}), rt.store.orders(("intent", "open")))
    rt.guard.restore(loaded.snapshot.get("exits", {}))
    rt.exits = rt.store.exits()
    return loaded
