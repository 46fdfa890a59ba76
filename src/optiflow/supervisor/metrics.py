"""Prometheus metrics of the fleet, served by the supervisor on 127.0.0.1 (``metrics_port``).

Every scrape reads the same sources as ``optiflow fleet status`` (so the two agree):

- ``optiflow_bot_up{bot}`` 1 while the bot process holds its lock, else 0
- ``optiflow_bot_restarts_total{bot}`` restarts by the supervisor
- ``optiflow_bot_cycle_seconds{bot}`` duration of the last cycle (live/paper)
- ``optiflow_bot_last_cycle_age_seconds{bot}`` seconds since the last commit (heartbeat)
- ``optiflow_bot_open_positions{bot}``, ``optiflow_bot_equity_usdt{bot}`` (cash + open
  positions at cost), ``optiflow_bot_net_pnl_usdt{bot}``, ``optiflow_bot_today_net_pnl_usdt{bot}``
- ``optiflow_bot_orders{bot,status}`` orders in the store by status
- ``optiflow_bot_errors{bot,kind}`` market-data errors and stale pairs
- ``optiflow_bot_rss_bytes{bot}``, ``optiflow_bot_uptime_seconds{bot}``
- ``optiflow_fleet_notifications_pending`` supervisor notes not yet delivered
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from optiflow.domain.errors import UserInputError
from optiflow.supervisor.spec import Fleet
from optiflow.supervisor.status import fleet_pending, fleet_status

GAUGES = (
    ("up", "1 while the bot process runs", "up"),
    ("cycle_seconds", "duration of the bot's last cycle", "cycle_ms"),
    ("last_cycle_age_seconds", "seconds since the bot last committed", "last_cycle_age_s"),
    ("open_positions", "open positions", "open_positions"),
    ("equity_usdt", "cash plus open positions at cost", "equity"),
    ("net_pnl_usdt", "net PnL of every exit so far", "net_pnl"),
    ("today_net_pnl_usdt", "net PnL of today's exits (UTC, the bot's clock)", "today_net_pnl"),
    ("rss_bytes", "resident memory of the bot process", "rss_mb"),
    ("uptime_seconds", "seconds since the bot process started", "uptime_s"),
)
SCALE = {"cycle_ms": 0.001, "rss_mb": float(2**20)}


class FleetCollector(Collector):
    """Reads the fleet's status at every scrape."""

    def __init__(self, fleet: Fleet) -> None:
        """Collect for `fleet`."""
        self.fleet = fleet

    def collect(self) -> Iterator[Metric]:
        """One family per series, one sample per bot."""
        bots = {b.name: b.state_dir for b in self.fleet.bots}
        status = fleet_status(self.fleet.state_root, bots, self.fleet.settings.mode)
        for name, help_text, key in GAUGES:
            g = GaugeMetricFamily(f"optiflow_bot_{name}", help_text, labels=["bot"])
            for bot, s in status.items():
                value = s[key]
                if value is not None:
                    g.add_metric([bot], float(value) * SCALE.get(key, 1.0))
            yield g
        c = CounterMetricFamily(
            "optiflow_bot_restarts", "restarts by the supervisor", labels=["bot"]
        )
        orders = GaugeMetricFamily(
            "optiflow_bot_orders", "orders by status", labels=["bot", "status"]
        )
        errors = GaugeMetricFamily("optiflow_bot_errors", "errors by kind", labels=["bot", "kind"])
        for bot, s in status.items():
            c.add_metric([bot], float(s["restarts"]))
            for st, n in s["orders"].items():
                orders.add_metric([bot, st], float(n))
            for kind, n in s["errors"].items():
                errors.add_metric([bot, kind], float(n))
        yield c
        yield orders
        yield errors
        yield GaugeMetricFamily(
            "optiflow_fleet_notifications_pending",
            "supervisor notes not yet delivered by the Telegram service",
            value=float(fleet_pending(self.fleet.state_root)),
        )


class MetricsServer:
    """An HTTP server for ``/metrics`` on 127.0.0.1:port, in a daemon thread."""

    def __init__(self, fleet: Fleet, port: int) -> None:
        """Start serving; a busy port is one clear error."""
        registry = CollectorRegistry()
        registry.register(FleetCollector(fleet))
        try:
            self._server, self._thread = start_http_server(port, "127.0.0.1", registry)
        except OSError as exc:
            raise UserInputError(
                f"metrics_port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror})"
            ) from None

    def shutdown(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
