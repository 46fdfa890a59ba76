"""The command registry: ``@register_command`` declarations, parsing, /help and the menu.

A command is one function ``(ctx, args) -> Reply`` declared once with
``@register_command(name, category, help)``; Telegram, ``optiflow ask`` and /help all
come from the registry. Replies are Telegram HTML (escaped); ``plain`` renders them for a
terminal.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from optiflow.queries.view import BotView

MAX_MESSAGE = 4096
MAX_PARTS = 3  # a longer reply is sent as a file


class UsageError(Exception):
    """Bad arguments: the reply is the command's usage line."""


@dataclass
class Ctx:
    """What a command answers from: the bots served, and how to stop one."""

    bots: dict[str, BotView]
    stop_bot: Callable[[BotView], str] | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply: HTML text, optionally a file and inline buttons (label, callback data)."""

    text: str
    document: Path | None = None
    buttons: tuple[tuple[str, str], ...] = ()
    error: bool = False  # unknown command or bad arguments (the text is the usage)


Handler = Callable[[Ctx, list[str]], Reply]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One registered command."""

    name: str
    category: str
    help: str
    usage: str
    func: Handler = field(repr=False)


COMMANDS: dict[str, CommandSpec] = {}
_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def register_command(
    name: str, category: str, help: str, usage: str = ""
) -> Callable[[Handler], Handler]:
    """Declare ``func`` as the answer to ``/name`` (in /help under ``category``)."""
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"bad command name {name!r}")

    def deco(func: Handler) -> Handler:
        COMMANDS[name] = CommandSpec(name, category, help, usage or f"/{name} [BOT]", func)
        return func

    return deco


def esc(value: object) -> str:
    """HTML-escape any value for a Telegram HTML message."""
    return html.escape(str(value), quote=False)


def plain(text: str) -> str:
    """A reply as a terminal shows it: tags removed, entities decoded."""
    return html.unescape(re.sub(r"</?(b|i|code|pre)>", "", text))


def parse(text: str) -> tuple[str, list[str]] | None:
    """``/name@botname a b`` -> ("name", ["a", "b"]); None when it is not a command."""
    parts = text.strip().split()
    if not parts or not parts[0].startswith("/"):
        return None
    return parts[0][1:].split("@", 1)[0].lower(), parts[1:]


def answer(ctx: Ctx, text: str) -> Reply:
    """The reply to one command line (unknown commands and bad arguments get usage)."""
    parsed = parse(text)
    if parsed is None or parsed[0] not in COMMANDS:
        name = esc(parsed[0]) if parsed else esc(text.strip()[:40])
        return Reply(f"unknown command /{name}; /help lists every command", error=True)
    spec = COMMANDS[parsed[0]]
    try:
        return spec.func(ctx, parsed[1])
    except UsageError as exc:
        why = f"{esc(exc)}\n" if str(exc) else ""
        return Reply(f"{why}usage: {esc(spec.usage)}", error=True)


def select(ctx: Ctx, args: list[str]) -> tuple[list[BotView], list[str]]:
    """The bots a command is about: one named first in ``args`` (alias ok), else all."""
    if args:
        view = find_bot(ctx, args[0])
        if view is not None:
            return [view], args[1:]
    return list(ctx.bots.values()), args


def find_bot(ctx: Ctx, word: str) -> BotView | None:
    """The bot called ``word``: exact name, any case, or the name's last ``_`` part (A)."""
    low = word.lower()
    for name, view in ctx.bots.items():
        if name.lower() == low or name.lower().rsplit("_", 1)[-1] == low:
            return view
    return None


def per_bot(ctx: Ctx, args: list[str], body: Callable[[BotView, list[str]], str]) -> Reply:
    """Run ``body`` for each selected bot under a bold header naming it."""
    views, rest = select(ctx, args)
    if not views:
        return Reply("no bots to answer for")
    blocks = [f"<b>{esc(v.name)}</b>\n{body(v, rest)}" for v in views]
    return Reply("\n\n".join(blocks))


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split on line ends into parts of at most ``limit`` characters (long lines are cut)."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = line if not current else f"{current}\n{line}"
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return parts


def help_text() -> str:
    """Every command grouped by category (from the registry)."""
    groups: dict[str, list[CommandSpec]] = {}
    for spec in COMMANDS.values():
        groups.setdefault(spec.category, []).append(spec)
    lines = []
    for category, specs in groups.items():
        lines.append(f"<b>{esc(category)}</b>")
        lines += [f"{esc(s.usage)} — {esc(s.help)}" for s in specs]
    return "\n".join(lines)


def menu() -> list[tuple[str, str]]:
    """(command, description) pairs for Telegram's setMyCommands."""
    return [(s.name, s.help[:256]) for s in COMMANDS.values()]


@register_command("help", "General", "every command, grouped by category", "/help")
def cmd_help(ctx: Ctx, args: list[str]) -> Reply:
    """Every command grouped by category."""
    return Reply(help_text())
