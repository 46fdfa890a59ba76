"""``optiflow data``: fetch candle history from an exchange into the backtester's files."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from optiflow.domain.errors import RetryableError, UserInputError
from optiflow.interfaces.cli.errors import user_errors_exit_2
from optiflow.interfaces.cli.paths import writable_folder
from optiflow.interfaces.cli.timeparse import parse_when

data_app = typer.Typer(
    no_args_is_help=True, help="Market data: download candle history, convert it to columns."
)

EXIT_NETWORK = 1
EXIT_INTERRUPTED = 130


def _iso(ts: int | None) -> str:
    """A ms timestamp as ``YYYY-MM-DDTHH:MM`` UTC."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")


@data_app.command("download")
@user_errors_exit_2
def download(
    pairs: Annotated[str, typer.Option(help="Comma-separated pairs, e.g. BTC/USDT,ETH/USDT.")],
    when_from: Annotated[str, typer.Option("--from", help="Start, ISO 8601 UTC.")],
    out: Annotated[Path, typer.Option(help="Folder for BASE-QUOTE_<tf>.csv.gz files.")],
    when_to: Annotated[
        str | None, typer.Option("--to", help="End (exclusive), ISO 8601 UTC; default now.")
    ] = None,
    exchange: Annotated[str, typer.Option(help="ccxt exchange id.")] = "binance",
    timeframe: Annotated[str, typer.Option(help="Candle timeframe, e.g. 1m, 5m, 1h.")] = "1m",
    market: Annotated[str, typer.Option(help="spot or futures (USDT-margined).")] = "spot",
    api_base_url: Annotated[
        str | None, typer.Option(help="Send REST requests to this base (testnet, proxy, fake).")
    ] = None,
) -> None:
    """Download closed candles; rerun the same command to resume an interrupted download."""
    from optiflow.adapters.ccxt.factory import ExchangeSpec
    from optiflow.adapters.ccxt.gateway import CcxtGateway
    from optiflow.app.download import PairResult, normalize_pair
    from optiflow.app.download import download as run_download

    start = parse_when("--from", when_from)
    end = parse_when("--to", when_to)
    assert start is not None
    end = int(time.time() * 1000) if end is None else end
    if end <= start:
        raise UserInputError(f"--to {when_to} is not after --from {when_from}")
    if market not in ("spot", "futures"):
        raise UserInputError(f"--market {market!r}: allowed: spot, futures")
    symbols = list(dict.fromkeys(normalize_pair(p) for p in pairs.split(",") if p.strip()))
    if not symbols:
        raise UserInputError("--pairs: give at least one pair, e.g. BTC/USDT")
    if api_base_url is not None:
        parsed = urlsplit(api_base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UserInputError(
                f"--api-base-url {api_base_url!r}: a URL starting with http:// or https:// "
                "and a host, e.g. https://testnet.binance.vision"
            )
    from optiflow.config.loader import exchange_id_problem

    if (allowed := exchange_id_problem(exchange)) is not None:
        raise UserInputError(f"--exchange {exchange!r}: {allowed}")
    writable_folder("--out", out)
    try:
        spec = ExchangeSpec(
            exchange,
            "futures" if market == "futures" else "spot",
            api_base_url=api_base_url,
        )
        gateway = CcxtGateway.from_spec(spec)
    except ValueError as exc:
        raise UserInputError(f"--exchange: {exc}") from None

    err = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("candles"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as bar:
        tasks: dict[str, TaskID] = {s: bar.add_task(s, total=None) for s in symbols}

        def progress(symbol: str, done: int, total: int, _written: int) -> None:
            bar.update(tasks[symbol], completed=done, total=total)

        async def main() -> list[PairResult]:
            try:
                return await run_download(
                    gateway, symbols, timeframe, start, end, out, progress=progress
                )
            finally:
                await gateway.close()

        try:
            results = asyncio.run(main())
        except RetryableError as exc:
            bar.stop()
            print(f"error: {exc}; rerun the same command to resume", file=sys.stderr)
            raise typer.Exit(EXIT_NETWORK) from None
        except KeyboardInterrupt:
            bar.stop()
            print("interrupted; rerun the same command to resume", file=sys.stderr)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    for r in results:
        if r.last_ms is None:
            print(f"{r.symbol}: no candles in {_iso(start)} → {_iso(end)}")
        else:
            print(
                f"{r.symbol}: {r.written} new candles; {r.path} covers "
                f"{_iso(r.first_ms)} → {_iso(r.last_ms)}"
            )


@data_app.command("convert")
@user_errors_exit_2
def convert(
    paths: Annotated[
        list[Path], typer.Argument(help="Candle files or folders of them (.csv[.gz], .json[.gz]).")
    ],
) -> None:
    """Write the columnar copy (NAME.columns/, numpy) next to each candle file."""
    from optiflow.app.download import convert as run_convert

    done = run_convert(paths)
    if not done:
        raise UserInputError(
            f"{', '.join(str(p) for p in paths)}: no candle files found "
            "(.csv, .csv.gz, .json, .json.gz)"
        )
    for src, folder, rows in done:
        print(f"{src.name}: {rows} candles -> {folder}")
