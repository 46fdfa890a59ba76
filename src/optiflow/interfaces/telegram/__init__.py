"""Telegram: the command registry and its command groups, formatters, outbox delivery, service.

Importing this package registers every command (one module per command group).
"""

from optiflow.interfaces.telegram import cmd_money, cmd_runtime, cmd_stats  # noqa: F401
from optiflow.interfaces.telegram.registry import COMMANDS, Ctx, Reply, answer, register_command

__all__ = ["COMMANDS", "Ctx", "Reply", "answer", "register_command"]
