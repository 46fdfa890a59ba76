"""The command registry's pure parts: parsing, splitting, bundling, config rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from optiflow.config.telegram import TelegramConfig, is_known_kind
from optiflow.domain.events import Notify
from optiflow.interfaces.telegram import COMMANDS
from optiflow.interfaces.telegram.outbox import bundle
from optiflow.interfaces.telegram.registry import (
    Ctx,
    answer,
    menu,
    parse,
    plain,
    split_message,
)
from optiflow.queries.view import StoredNote


def test_parse_strips_the_bot_username_and_splits_arguments() -> None:
    """``/Log@fake_bot 5`` is the log command with argument 5; plain text is no command."""
    assert parse("/Log@fake_bot 5") == ("log", ["5"])
    assert parse("hello") is None


def test_split_keeps_lines_whole_and_parts_under_the_limit() -> None:
    """A long reply splits on line ends into parts of at most the limit, losing nothing."""
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(300))
    parts = split_message(text, 4096)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text
    assert split_message("y" * 9000, 4096) == ["y" * 4096, "y" * 4096, "y" * 808]


def test_bundle_names_the_bot_and_stops_before_the_limit() -> None:
    """A burst is one message headed by the bot name; what does not fit waits for the next."""
    notes = [StoredNote(i, Notify("entry", "", f"n{i} " + "z" * 100, 0)) for i in range(1, 100)]
    text, last = bundle("A<1>", notes)
    assert text.startswith("<b>A&lt;1&gt;</b>\n") and len(text) <= 4096
    assert last == len(text.split("\n")) - 1 and last < 99


def test_unknown_command_gets_the_help_hint_and_menu_matches_registry() -> None:
    """An unknown command is an error reply; the menu lists every registered command."""
    reply = answer(Ctx({}), "/nosuch")
    assert reply.error and "/help" in reply.text
    assert [n for n, _ in menu()] == list(COMMANDS)
    assert plain("<b>a &amp; b</b>") == "a & b"


def test_config_rules() -> None:
    """Enabled needs chats; base_url ends in /bot; kinds are known (step_N included)."""
    assert is_known_kind("step_3") and is_known_kind("shutdown") and not is_known_kind("x")
    with pytest.raises(ValidationError):
        TelegramConfig(enabled=True)
    with pytest.raises(ValidationError):
        TelegramConfig(base_url="http://127.0.0.1:1/api")
    with pytest.raises(ValidationError):
        TelegramConfig(notify={"nope": False})
    cfg = TelegramConfig(notify={"entry": False})
    assert not cfg.sends("entry") and cfg.sends("sl")
