"""The runtimes that drive the one engine: backtest and replay (bar loop), rehearsal, live.

May use: the pure core, marketdata, config, ports, adapters (files, sqlite, sim, ccxt through
ports). Never imported by the core; imported by interfaces, queries' callers, the optimizer.
"""
