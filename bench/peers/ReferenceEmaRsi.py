"""The reference strategy as a Freqtrade 2026.9 strategy (peer run of issue 12).

Not part of OptiFlow and not run by the tests; it runs in a throw-away venv (bench/README.md,
"Peers"; ``bench/run_peers.py --setup`` makes it and copies this file to
``user_data/strategies/``). ``configs/reference_ema_rsi.json`` as OptiFlow runs it:

* EMA 9 > EMA 21 and RSI 14 in [50, 70] on the closed candle (TA-Lib: EMA seeded with the
  mean of the first n closes, Wilder RSI, as OptiFlow's indicators); no signal on a
  zero-volume candle; Freqtrade enters at the next candle's open, as OptiFlow;
* TP 0.3 % above the entry price: Freqtrade's ROI is net of both fees, so the ROI that
  puts the exit at entry × 1.003 with 0.1 % per side is (1.003 × 0.999) / 1.001 − 1;
* SL 0.6 % below the entry price (``stoploss``, checked against the candle's low; the stop
  comes before the ROI in a candle that touches both, as in OptiFlow);
* exit at the first candle open at or after entry + 60 min (``custom_exit``, filled at
  that candle's open; Freqtrade checks it before the stop, as OptiFlow plays the open first);
* stake 100 USDT, wallet 1000 USDT, at most 2 open trades, one per pair
  (``bench/peers/freqtrade_config.json``).
"""

# ruff: noqa
from datetime import datetime

import talib.abstract as ta
from freqtrade.strategy import IStrategy
from pandas import DataFrame

FEE = 0.001
TP = 0.003


class ReferenceEmaRsi(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1m"
    minimal_roi = {"0": (1 + TP) * (1 - FEE) / (1 + FEE) - 1}
    stoploss = -0.006
    process_only_new_candles = True
    startup_candle_count = 30

    def populate_indicators(self, df: DataFrame, metadata: dict) -> DataFrame:
        df["ema_fast"] = ta.EMA(df, timeperiod=9)
        df["ema_slow"] = ta.EMA(df, timeperiod=21)
        df["rsi"] = ta.RSI(df, timeperiod=14)
        return df

    def populate_entry_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        ok = (df["ema_fast"] > df["ema_slow"]) & (df["rsi"] >= 50) & (df["rsi"] <= 70)
        df.loc[ok & (df["volume"] > 0), "enter_long"] = 1
        return df

    def populate_exit_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        return df

    def custom_exit(self, pair, trade, current_time: datetime, current_rate, current_profit, **kw):
        if (current_time - trade.open_date_utc).total_seconds() >= 3600:
            return "max_hold"
        return None
