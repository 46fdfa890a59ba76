"""Tests of the incremental indicators against plain reference code and hand-computed values."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from optiflow.marketdata import indicators as ind
from optiflow.marketdata import rolling_series as rs
from optiflow.marketdata.indicators_many import recurrences_of_rows
from optiflow.marketdata.loaders import CandleArrays
from optiflow.marketdata.recurrence import (
    ema_step,
    run_recurrence,
    run_sequential,
    warmup_steps,
    wilder_step,
)
from optiflow.marketdata.windows import tree_sum, window_sums

NAN = math.nan
N_REAL = 6000  # candles of real data fed through the plain references (keeps tests fast)


def feed(indicator: object, *columns: list[float]) -> list[float]:
    """Feed rows of ``columns`` to ``indicator.update`` and collect the outputs."""
    update: Callable[..., float] = indicator.update  # type: ignore[attr-defined]
    return [update(*row) for row in zip(*columns, strict=True)]


def same(a: list[float], b: list[float]) -> bool:
    """Equal lists where NaN equals NaN."""
    return np.array_equal(np.array(a), np.array(b), equal_nan=True)


# ---------------------------------------------------------------- plain references


def ref_ema(xs: list[float], n: int) -> list[float]:
    """Textbook EMA: SMA seed at the n-th value, then alpha = 2/(n+1)."""
    out = [NAN] * len(xs)
    if len(xs) < n:
        return out
    e = sum(xs[:n]) / n
    out[n - 1] = e
    a = 2 / (n + 1)
    for i in range(n, len(xs)):
        e = a * xs[i] + (1 - a) * e
        out[i] = e
    return out


def ref_rsi(closes: list[float], n: int) -> list[float]:
    """Textbook Wilder RSI."""
    out = [NAN] * len(closes)
    g = [max(closes[i] - closes[i - 1], 0.0) for i in range(1, len(closes))]
    lo = [max(closes[i - 1] - closes[i], 0.0) for i in range(1, len(closes))]
    if len(g) < n:
        return out
    ag, al = sum(g[:n]) / n, sum(lo[:n]) / n
    for i in range(n, len(closes)):
        if i > n:
            ag = (ag * (n - 1) + g[i - 1]) / n
            al = (al * (n - 1) + lo[i - 1]) / n
        out[i] = 100.0 if al == 0 else 100 - 100 / (1 + ag / al)
    return out


def ref_atr(h: list[float], lo: list[float], c: list[float], n: int) -> list[float]:
    """Textbook Wilder ATR."""
    tr = [h[0] - lo[0]] + [
        max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, len(h))
    ]
    out = [NAN] * len(h)
    atr = sum(tr[:n]) / n
    out[n - 1] = atr
    for i in range(n, len(h)):
        atr = (atr * (n - 1) + tr[i]) / n
        out[i] = atr
    return out


def ref_macd_hist(c: list[float], fast: int, slow: int, signal: int) -> list[float]:
    """MACD histogram from the reference EMAs."""
    macd = [f - s for f, s in zip(ref_ema(c, fast), ref_ema(c, slow), strict=True)]
    start = next(i for i, m in enumerate(macd) if not math.isnan(m))
    sig = [NAN] * start + ref_ema(macd[start:], signal)
    return [m - s for m, s in zip(macd, sig, strict=True)]


def close_enough(got: list[float], want: list[float]) -> bool:
    """Same NaN pattern and values within 1e-9 relative."""
    return np.allclose(np.array(got), np.array(want), rtol=1e-9, atol=1e-9, equal_nan=True)


# ---------------------------------------------------------------- hand-computed cases


def test_ema_hand_computed() -> None:
    """EMA(3) of 1..5: seed 2 at the third value, then halfway steps."""
    assert same(feed(ind.Ema(3), [1.0, 2.0, 3.0, 4.0, 5.0]), [NAN, NAN, 2.0, 3.0, 4.0])


def test_rsi_hand_computed() -> None:
    """RSI(2) of 1,2,3,2: 100 with no losses, then 50 once gains equal losses."""
    assert same(feed(ind.Rsi(2), [1.0, 2.0, 3.0, 2.0]), [NAN, NAN, 100.0, 50.0])


def test_atr_hand_computed() -> None:
    """ATR(2): TRs 2, 3 (previous close counts), 1; seed 2.5 then Wilder 1.75."""
    got = feed(ind.Atr(2), [10.0, 12.0, 11.0], [8.0, 9.0, 10.0], [9.0, 11.0, 10.5])
    assert same(got, [NAN, 2.5, 1.75])


def test_macd_hist_hand_computed() -> None:
    """MACD(2,3,2) of a line has a constant MACD, so the histogram is 0 once ready."""
    got = feed(ind.MacdHist(2, 3, 2), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert got[:3] == pytest.approx([NAN, NAN, NAN], nan_ok=True)
    assert got[3:] == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)


def test_rolling_median_hand_computed() -> None:
    """Even windows average the two middle values; odd windows take the middle one."""
    assert same(feed(ind.RollingMedian(2), [1.0, 3.0, 2.0]), [NAN, 2.0, 2.5])
    assert same(feed(ind.RollingMedian(3), [5.0, 1.0, 3.0, 2.0, 2.0]), [NAN, NAN, 3.0, 2.0, 2.0])


def test_rolling_max_excludes_the_current_value() -> None:
    """The breakout level is the max of the previous N values, never the current one."""
    assert same(feed(ind.RollingMax(2), [1.0, 5.0, 3.0, 4.0, 9.0]), [NAN, NAN, 5.0, 5.0, 4.0])


def test_rolling_vwap_hand_computed_and_zero_volume() -> None:
    """VWAP(2) of flat candles at 10 (vol 1) and 20 (vol 3) is 17.5; no volume gives NaN."""
    p = [10.0, 20.0, 30.0, 30.0]
    assert same(feed(ind.RollingVwap(2), p, p, p, [1.0, 3.0, 0.0, 0.0]), [NAN, 17.5, 20.0, NAN])


def test_tree_sum_matches_window_sums_for_odd_windows() -> None:
    """The scalar tree sum equals the batch window sums for every window length."""
    x = np.random.default_rng(7).random(200) * 1e3
    for w in (1, 2, 3, 7, 8, 60, 61):
        batch = window_sums(x, w)
        assert [tree_sum(x[i : i + w].tolist()) for i in range(len(batch))] == batch.tolist()


# ---------------------------------------------------------------- real data vs references


def test_ema_rsi_macd_match_references_on_real_btc(btc: CandleArrays) -> None:
    """EMA, RSI and MACD histogram agree with the textbook code on real BTC closes."""
    c = btc.close[:N_REAL].tolist()
    for n in (9, 21):
        assert close_enough(feed(ind.Ema(n), c), ref_ema(c, n))
    assert close_enough(feed(ind.Rsi(14), c), ref_rsi(c, 14))
    assert close_enough(feed(ind.MacdHist(12, 26, 9), c), ref_macd_hist(c, 12, 26, 9))


def test_atr_vwap_median_max_match_references_on_real_btc(btc: CandleArrays) -> None:
    """ATR, VWAP, rolling median and rolling max agree with plain code on real BTC."""
    h, lo, c, v = (a[:N_REAL].tolist() for a in (btc.high, btc.low, btc.close, btc.volume))
    assert close_enough(feed(ind.Atr(14), h, lo, c), ref_atr(h, lo, c, 14))
    w = 60
    vw = [NAN] * (w - 1) + [
        float(
            np.dot(
                [(h[j] + lo[j] + c[j]) / 3 for j in range(i - w + 1, i + 1)], v[i - w + 1 : i + 1]
            )
        )
        / sum(v[i - w + 1 : i + 1])
        for i in range(w - 1, len(c))
    ]
    assert close_enough(feed(ind.RollingVwap(w), h, lo, c, v), vw)
    med = [NAN] * (w - 1) + [float(np.median(v[i - w + 1 : i + 1])) for i in range(w - 1, len(v))]
    assert same(feed(ind.RollingMedian(w), v), med)  # np.median semantics, bit for bit
    hh = [NAN] * 20 + [max(h[i - 20 : i]) for i in range(20, len(h))]
    assert same(feed(ind.RollingMax(20), h), hh)


def test_batch_series_equal_incremental_on_real_btc(btc: CandleArrays) -> None:
    """Every *_series function equals its incremental class bit for bit on real BTC."""
    h, lo, c, v = btc.high, btc.low, btc.close, btc.volume
    hl, ll, cl, vl = (a.tolist() for a in (h, lo, c, v))
    pairs = [
        (ind.ema_series(c, 21), feed(ind.Ema(21), cl)),
        (ind.rsi_series(c, 14), feed(ind.Rsi(14), cl)),
        (ind.macd_hist_series(c, 12, 26, 9), feed(ind.MacdHist(12, 26, 9), cl)),
        (ind.atr_series(h, lo, c, 14), feed(ind.Atr(14), hl, ll, cl)),
        (rs.rolling_median_series(v, 60), feed(ind.RollingMedian(60), vl)),
        (rs.rolling_max_prev_series(h, 20), feed(ind.RollingMax(20), hl)),
        (rs.rolling_vwap_series(h, lo, c, v, 60), feed(ind.RollingVwap(60), hl, ll, cl, vl)),
    ]
    for batch, incremental in pairs:
        assert np.array_equal(batch, np.array(incremental), equal_nan=True)


@pytest.mark.parametrize(("warmup", "block"), [(0, 64), (3, 100), (40, 700)])
def test_parallel_recurrence_repairs_bad_speculation(
    btc: CandleArrays, warmup: int, block: int
) -> None:
    """With too short a warm-up the verification pass still yields the exact sequential result."""
    c = btc.close
    for step, param in ((ema_step, 2.0 / 27.0), (wilder_step, 14.0)):
        seq = run_sequential(step, 1.0, c.tolist(), param)
        par = run_recurrence(step, 1.0, c, param, warmup=warmup, block=block, min_parallel=0)
        assert np.array_equal(par, np.array(seq))


def test_warmup_steps_grow_with_the_period() -> None:
    """Slower recurrences need longer warm-ups."""
    assert warmup_steps(0.8) < warmup_steps(13 / 14) < warmup_steps(0.99)


def test_invalid_periods_are_rejected() -> None:
    """A zero period is a programming error."""
    with pytest.raises(ValueError, match="period"):
        ind.Ema(0)


JOINT = [(14, 14, None), (9, 21, None), (30, 5, None), (14, 14, 16), (14, 14, 15), (3, 40, 41)]


@pytest.mark.parametrize(("rsi_p", "atr_p", "n"), JOINT)
def test_rsi_and_atr_together_equal_each_alone(
    btc: CandleArrays, rsi_p: int, atr_p: int, n: int | None
) -> None:
    """The joint RSI/ATR run equals ``rsi_series`` and ``atr_series`` bit for bit (real BTC,
    equal and unequal periods, long and barely warmed-up series)."""
    h, lo, c = (a[:n] for a in (btc.high, btc.low, btc.close))
    rsi, atr = ind.rsi_atr_series(h, lo, c, rsi_p, atr_p)
    assert np.array_equal(rsi, ind.rsi_series(c, rsi_p), equal_nan=True)
    assert np.array_equal(atr, ind.atr_series(h, lo, c, atr_p), equal_nan=True)
    assert np.array_equal(atr, np.array(feed(ind.Atr(atr_p), *(a.tolist() for a in (h, lo, c)))),
                          equal_nan=True)  # fmt: skip


@pytest.mark.parametrize("cells", [1, 70_000, 1 << 21])
def test_rows_of_any_lengths_together_equal_each_alone(btc: CandleArrays, cells: int) -> None:
    """``recurrences_of_rows`` (rows padded to one length, grouped up to ``cells`` inputs
    per call) gives each row's sequential states bit for bit, empty rows included."""
    c = np.asarray(btc.close)
    rows = [c, c[:5000], c[100:200], c[:0], c[7:40_000]]
    seeds = [1.0, 2.0, 3.0, 4.0, 5.0]
    for step, params in ((ema_step, [2 / 27, 2 / 10, 0.5, 0.1, 2 / 13]), (wilder_step, [14.0] * 5)):
        got = recurrences_of_rows(step, seeds, rows, params, warmup=700, cells=cells)
        for row, seed, param, states in zip(rows, seeds, params, got, strict=True):
            want = run_sequential(step, seed, row.tolist(), param)
            assert np.array_equal(states, np.array(want, dtype=np.float64))


@pytest.mark.parametrize("cells", [1, 70_000, 1 << 21])
def test_rows_written_into_dest_equal_each_alone(btc: CandleArrays, cells: int) -> None:
    """``recurrences_of_rows(..., dest=...)`` writes each row's sequential states into its
    own array, bit for bit: rows of whole blocks, ragged, short, empty; bad dest refused."""
    c = np.asarray(btc.close)
    rows = [c, c[:5120], c[100:200], c[:0], c[7:40_000], c[3:5123]]
    seeds = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    for step, params in (
        (ema_step, [2 / 27, 2 / 10, 0.5, 0.1, 2 / 13, 0.3]),
        (wilder_step, [14.0] * 6),
    ):
        dest = [np.full(len(r), np.nan) for r in rows]
        got = recurrences_of_rows(step, seeds, rows, params, warmup=700, cells=cells, dest=dest)
        assert all(g is d for g, d in zip(got, dest, strict=True))
        for row, seed, param, states in zip(rows, seeds, params, dest, strict=True):
            want = run_sequential(step, seed, row.tolist(), param)
            assert np.array_equal(states, np.array(want, dtype=np.float64))
    strided = [np.empty(2 * len(c))[::2]]
    with pytest.raises(ValueError, match="contiguous"):
        recurrences_of_rows(ema_step, [1.0], [c], [0.1], warmup=700, dest=strided)
