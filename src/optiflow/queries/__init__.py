"""Read-only answers about one bot: every /command and ``optiflow ask`` call these.

A query may use only what a bot leaves in its state folder: the SQLite store (``bot.sqlite``,
opened read-only, so a query never blocks or changes a running bot), the state files
(``debug_monitoring_summary.json``, ``trades_YYYY-MM-DD.csv``, ``config.json``, ``bot.lock``)
and the bot's logs. Queries return plain values; formatting is the interfaces' job.
"""
