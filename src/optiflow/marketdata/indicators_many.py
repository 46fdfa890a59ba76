"""Batch indicators of several series at once (e.g. every symbol of a backtest).

Each function equals its one-series twin in :mod:`optiflow.marketdata.indicators` for every
series, bit for bit: the seeds and the sequential heads are computed per series exactly as
there, and the recurrences of all series advance together in one
:func:`~optiflow.marketdata.recurrence.run_recurrences` call (one numpy operation per step
for all of them instead of one per series). Rows of different lengths are padded at the
end; later inputs never change earlier states, and the padding is cut off again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from optiflow.marketdata.indicators import (
    _check_period,
    ema_heads,
    ema_series_many,
    rsi_atr_series,
    rsi_from,
    wilder_inputs,
)
from optiflow.marketdata.recurrence import (
    FloatArray,
    Step,
    Workspace,
    ema_step,
    run_rows,
    warmup_steps,
    wilder_step,
)

_BATCH_CELLS = 1 << 21  # inputs per batched call (16 MiB per working array)


def nan_after_nan(n: int) -> FloatArray:
    """``n`` NaNs stored one element into a buffer of ``n + 1`` NaNs: the buffer's first
    ``n`` elements are then the values one candle earlier, at no cost (``features``)."""
    return np.full(n + 1, np.nan, dtype=np.float64)[1:]


def recurrences_of_rows(
    step: Step,
    seeds: Sequence[float],
    rows: Sequence[FloatArray],
    params: Sequence[float],
    warmup: int,
    cells: int = _BATCH_CELLS,
    dest: Sequence[FloatArray] | None = None,
) -> list[FloatArray]:
    """``run_recurrences`` over rows of any lengths: row i's states from ``seeds[i]``.

    Rows go together up to ``cells`` inputs per call: long series gain little from
    batching (their steps are long already) and the working arrays stay bounded; the
    calls share one workspace (its pages are faulted in once, not once per call).
    With ``dest`` (a contiguous writable array per row, of its length) the states are
    written there, and ``dest`` is returned.
    """
    n = max((len(r) for r in rows), default=0)
    if n == 0:
        return [np.empty(0, dtype=np.float64) for _ in rows]
    per = max(1, cells // n)
    out: list[FloatArray] = []
    work = Workspace()
    for g in range(0, len(rows), per):
        group = [r if len(r) else np.zeros(1) for r in rows[g : g + per]]  # (padding: 0.0)
        into = None if dest is None else dest[g : g + per]
        res = run_rows(
            step, seeds[g : g + per], group, params[g : g + per], warmup, work=work, dest=into
        )
        out += [res[i, : len(r)] for i, r in enumerate(rows[g : g + per])] if into is None else into
    return out


def ema_series_multi(
    xs: Sequence[FloatArray],
    periods: Sequence[int],
    buffers: Sequence[Sequence[FloatArray]] | None = None,
) -> list[list[FloatArray]]:
    """``ema_series_many(x, periods)`` for every ``x`` of ``xs``, the recurrences together.

    ``buffers[k]`` (one writable contiguous array per period, as long as ``xs[k]``) receive
    the series of ``xs[k]`` instead of new arrays (a short ``x`` gets new ones anyway).
    """
    for p in periods:
        _check_period("EMA period", p)
    outs: list[list[FloatArray]] = []
    seeds: list[float] = []
    rows: list[FloatArray] = []
    params: list[float] = []
    batched: list[int] = []
    if not periods:
        return [[] for _ in xs]
    common = max(periods) - 1  # first index where every EMA has a value
    alphas = [2.0 / (p + 1) for p in periods]
    for k, x in enumerate(xs):
        if len(x) < max(periods):  # some EMA never starts: the one-series path says how
            outs.append(ema_series_many(x, periods))
            continue
        if buffers is None:
            series = [nan_after_nan(len(x)) for _ in periods]
        else:
            series = list(buffers[k])
            for out, p in zip(series, periods, strict=True):
                out[: p - 1] = math.nan  # (before its seed: as a new series)
        seeds += ema_heads(x, series, periods, alphas, common)
        rows += [x[common + 1 :]] * len(periods)
        params += alphas
        outs.append(series)
        batched.append(k)
    if batched:
        into = [out[common + 1 :] for k in batched for out in outs[k]]  # written in place
        recurrences_of_rows(
            ema_step, seeds, rows, params, warmup_steps(1.0 - min(alphas)), dest=into
        )
    return outs


def macd_hist_multi(
    fasts: Sequence[FloatArray], slows: Sequence[FloatArray], signal: int, consume: bool = False
) -> list[FloatArray]:
    """``macd_hist_from_emas`` of every (fast, slow) pair, the signal EMAs together.

    ``consume``: the fast and slow arrays (contiguous, writable) are scratch afterwards:
    the MACD line is computed into the fast one and its signal EMA into the slow one.
    """
    outs: list[FloatArray] = []
    parts: list[tuple[int, int, FloatArray]] = []  # (series, start, macd from start)
    room: list[list[FloatArray]] = []  # with consume: where each signal EMA goes
    for k, (fast, slow) in enumerate(zip(fasts, slows, strict=True)):
        macd = np.subtract(fast, slow, out=fast) if consume else fast - slow
        outs.append(nan_after_nan(len(macd)))
        ready = ~np.isnan(macd)
        start = int(ready.argmax()) if len(ready) else 0
        if len(ready) and ready[start]:
            parts.append((k, start, macd[start:]))
            room.append([slow[start:]])
    emas = ema_series_multi([m for _, _, m in parts], [signal], room if consume else None)
    for (k, start, macd), (ema,) in zip(parts, emas, strict=True):
        np.subtract(macd, ema, out=outs[k][start:])
    return outs


def rsi_atr_series_multi(
    highs: Sequence[FloatArray],
    lows: Sequence[FloatArray],
    closes: Sequence[FloatArray],
    rsi_period: int,
    atr_period: int,
) -> list[tuple[FloatArray, FloatArray]]:
    """``rsi_atr_series`` of every (high, low, close), the Wilder recurrences together."""
    _check_period("RSI period", rsi_period)
    _check_period("ATR period", atr_period)
    outs: dict[int, tuple[FloatArray, FloatArray]] = {}
    seeds: list[float] = []
    rows: list[FloatArray] = []
    into: list[FloatArray] = []  # where the states go: after each seed, in place
    held: list[tuple[int, FloatArray, FloatArray, FloatArray]] = []  # (k, gains, losses, atr)
    rp, ap = float(rsi_period), float(atr_period)
    for k, (high, low, close) in enumerate(zip(highs, lows, closes, strict=True)):
        if len(close) < max(rsi_period + 2, atr_period + 1):  # as the one-series path
            outs[k] = rsi_atr_series(high, low, close, rsi_period, atr_period)
            continue
        s3, r3 = wilder_inputs(high, low, close, rsi_period, atr_period)
        ag, al = (np.empty(len(r3[0]) + 1), np.empty(len(r3[1]) + 1))  # seed, then states
        ag[0], al[0] = s3[0], s3[1]
        atr = np.full(len(close), np.nan)
        atr[atr_period - 1] = s3[2]
        seeds += s3
        rows += r3
        into += [ag[1:], al[1:], atr[atr_period:]]
        held.append((k, ag, al, atr))
    if not held:
        return [outs[k] for k in range(len(closes))]
    warmup = max(warmup_steps((rp - 1.0) / rp), warmup_steps((ap - 1.0) / ap))
    params = [rp, rp, ap] * len(held)
    recurrences_of_rows(wilder_step, seeds, rows, params, warmup, dest=into)
    for k, ag, al, atr in held:
        outs[k] = (rsi_from(len(closes[k]), rsi_period, ag, al), atr)
    return [outs[k] for k in range(len(closes))]
