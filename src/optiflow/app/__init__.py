"""Application services outside any runtime: data download/convert and run summaries.

May use: the pure core, marketdata, config, adapters. Never imports runtimes or interfaces.
"""
