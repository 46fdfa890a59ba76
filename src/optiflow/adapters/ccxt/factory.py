"""Build an async ccxt exchange from config: market type, keys and optional base URLs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]

MarketKind = Literal["spot", "futures"]


@dataclass(frozen=True, slots=True)
class ExchangeSpec:
    """What is needed to build one exchange client; ``repr`` never shows the keys."""

    exchange_id: str
    market: MarketKind = "spot"
    api_key: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    api_base_url: str | None = None
    ws_base_url: str | None = None
    timeout_ms: int = 10_000


def rebase_url(url: str, base: str) -> str:
    """``https://api.binance.com/api/v3`` on base ``http://h:1/p`` -> ``http://h:1/p/api/v3``."""
    parts, new = urlsplit(url), urlsplit(base)
    path = new.path.rstrip("/") + parts.path
    query = f"?{parts.query}" if parts.query else ""
    return f"{new.scheme}://{new.netloc}{path}{query}"


def rebase_urls(urls: Any, base: str, *, skip: tuple[str, ...] = ()) -> Any:
    """Rewrite every URL string in a (nested) ``urls['api']`` mapping to ``base``."""
    if isinstance(urls, str):
        return rebase_url(urls, base) if "://" in urls else urls
    if isinstance(urls, dict):
        return {k: (v if k in skip else rebase_urls(v, base, skip=skip)) for k, v in urls.items()}
    return urls


class _RedactKeys(logging.Filter):
    """Replace key material in ccxt's log records (its debug log prints request headers)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if any(s in msg for s in self.secrets):
            for s in self.secrets:
                msg = msg.replace(s, "***")
            record.msg, record.args = msg, None
        return True


def _class_and_options(spec: ExchangeSpec) -> tuple[Any, dict[str, Any]]:
    options: dict[str, Any] = {"fetchCurrencies": False, "fetchMargins": False}
    ex_id = spec.exchange_id
    if spec.market == "futures":
        if ex_id == "binance":
            ex_id = "binanceusdm"
        options["defaultType"] = "swap"
        options["fetchMarkets"] = {"types": ["linear"]}
    else:
        options["defaultType"] = "spot"
        options["fetchMarkets"] = {"types": ["spot"]}
    if not hasattr(ccxt_async, ex_id):
        raise ValueError(f"ccxt has no exchange {spec.exchange_id!r}")
    return getattr(ccxt_async, ex_id), options


def build_exchange(spec: ExchangeSpec) -> Any:
    """A ccxt async exchange for ``spec`` with its REST (and ws) URLs rebased when asked."""
    cls, options = _class_and_options(spec)
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": spec.timeout_ms,
        "options": options,
    }
    if spec.api_key:
        config["apiKey"] = spec.api_key
    if spec.secret:
        config["secret"] = spec.secret
    exchange = cls(config)
    exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
    api = exchange.urls.get("api")
    if spec.api_base_url and isinstance(api, dict):
        exchange.urls["api"] = rebase_urls(api, spec.api_base_url, skip=("ws",))
    elif spec.api_base_url and isinstance(api, str):
        exchange.urls["api"] = rebase_url(api, spec.api_base_url)
    if spec.ws_base_url and isinstance(exchange.urls.get("api"), dict):
        ws = exchange.urls["api"].get("ws")
        if ws is not None:
            exchange.urls["api"]["ws"] = rebase_urls(ws, spec.ws_base_url)
    if spec.api_key or spec.secret:
        redact = _RedactKeys([spec.api_key or "", spec.secret or ""])
        logger = exchange.logger
        if not any(isinstance(f, _RedactKeys) for f in logger.filters):
            logger.addFilter(redact)
        else:
            for f in logger.filters:
                if isinstance(f, _RedactKeys):
                    f.secrets = list({*f.secrets, *redact.secrets})
    return exchange
