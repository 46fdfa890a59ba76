"""``optiflow ask BOT "/summary"``: the Telegram commands answered in the terminal."""

from __future__ import annotations

from pathlib import Path

from optiflow.config.loader import load_config
from optiflow.config.presets import find_config
from optiflow.domain.errors import UserInputError
from optiflow.interfaces.telegram import Ctx, answer
from optiflow.interfaces.telegram.control import stop_by_signal
from optiflow.interfaces.telegram.registry import plain
from optiflow.queries.view import BotView, bot_dirs


def views_for(bot: str, state_dir: Path | None, state_root: Path | None) -> dict[str, BotView]:
    """The bots to answer for: BOT's state folder, or every bot under --state-root (BOT=all)."""
    if state_root is not None and bot.lower() == "all":
        views = [BotView(d) for d in bot_dirs(state_root)]
        return {v.name: v for v in views}
    try:
        cfg = load_config(find_config(bot))
    except UserInputError:
        if state_root is None or not (state_root / bot).is_dir():
            raise
        view = BotView(state_root / bot)
        return {view.name: view}
    if state_dir is None:
        state_dir = (state_root or Path("state")) / cfg.name
    return {cfg.name: BotView(state_dir, cfg)}


def ask_command(bot: str, text: str, state_dir: Path | None, state_root: Path | None) -> int:
    """Print the answer to one command; exit code 2 for an unknown command or bad arguments."""
    if state_dir is not None and state_root is not None:
        raise UserInputError("give --state-dir or --state-root, not both")
    views = views_for(bot, state_dir, state_root)
    for view in views.values():
        if not view.db_path.is_file():
            raise UserInputError(
                f"{view.state_dir}: no state of bot {view.name} here (no bot.sqlite); "
                "give --state-dir or --state-root"
            )
    line = text if text.startswith("/") else f"/{text}"
    reply = answer(Ctx(views, stop_by_signal), line)
    print(plain(reply.text))
    if reply.document is not None:
        print(reply.document.read_text(encoding="utf-8"), end="")
    return 2 if reply.error else 0
