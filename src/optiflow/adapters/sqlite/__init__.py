"""SQLite adapter: the bot's durable store (WAL, numbered migrations)."""

from optiflow.adapters.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
