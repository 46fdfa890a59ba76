"""The reference strategy as a Freqtrade 2026.9 strategy (peer run of issue 12).

Not part of OptiFlow and not run by the tests; see bench/README.md, "Peers". Copy to
``user_data/strategies/``. EMA 9 > EMA 21 and RSI 14 in [50, 70], TP 0.3 % (ROI),
SL 0.6 %, exit after 60 minutes, 1m candles. NOT run in this environment.
"""

# ruff: noqa
from datetime import datetime

import talib.abstract as ta
from freqtrade.strategy import IStrategy
from pandas import DataFrame


class ReferenceEmaRsi(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1m"
    minimal_roi = {"0": 0.003}
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
        df.loc[ok, "enter_long"] = 1
        return df

    def populate_exit_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        return df

    def custom_exit(self, pair, trade, current_time: datetime, current_rate, current_profit, **kw):
        if (current_time - trade.open_date_utc).total_seconds() >= 3600:
            return "max_hold"
        return None
