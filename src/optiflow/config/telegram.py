"""The ``telegram`` config section: chats, Bot API base URL, per-kind switches, daily summary."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from optiflow.config import rules

DEFAULT_BASE_URL = "https://api.telegram.org/bot"

# Every notification kind the runtime produces (grep ``Notify(`` in src) plus the daily
# summary; an exit notification's kind is its exit reason (tp1, step_2, sl, ...).
NOTIFY_KINDS: tuple[str, ...] = (
    "start",
    "recovery",
    "start_waiting",
    "config_change",
    "finished",
    "entry",
    "tp1",
    "tp2",
    "sl",
    "sl_breakeven",
    "auto_profit",
    "timeout",
    "max_hold",
    "end_of_data",
    "blacklist_on",
    "blacklist_off",
    "order_rejected",
    "exit_failing",
    "exit_waiting",
    "stop_failed",
    "stop_unknown",
    "unknown_fill",
    "reconciled",
    "adopted",
    "balance_mismatch",
    "error",
    "store_failed",
    "store_ok",
    "stale_data",
    "files",
    "crash",
    "shutdown",
    "daily_summary",
    # the fleet supervisor's notes (``<state_root>/fleet.sqlite``, sent by ``optiflow telegram``)
    "fleet_restart",
    "fleet_giveup",
    "fleet_stuck",
    "fleet_adopt",
    "fleet_start",
    "fleet_stop",
)
_STEP_RE = re.compile(r"step_[1-9][0-9]?")


def is_known_kind(kind: str) -> bool:
    """True for a kind listed in NOTIFY_KINDS or a stepwise level ``step_N``."""
    return kind in NOTIFY_KINDS or bool(_STEP_RE.fullmatch(kind))


class TelegramConfig(BaseModel):
    """Telegram: who may command, where the Bot API is, which kinds are sent, summary hour.

    ``notify`` switches kinds on or off (``{"entry": false}``); a kind not listed is sent.
    The token is never in the config: ``OPTIFLOW_TELEGRAM_TOKEN`` or ``telegram_token`` in
    the 0600 secrets file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    enabled: bool = False
    chat_ids: tuple[int, ...] = ()
    base_url: str = DEFAULT_BASE_URL
    notify: dict[str, bool] = Field(default_factory=dict)
    daily_summary_hour_utc: Annotated[int, Field(ge=0, le=23)] | None = 20

    @model_validator(mode="after")
    def _rules(self) -> TelegramConfig:
        """Chats when enabled, a real base URL ending in /bot, only known kinds."""
        rules.rule_url("base_url", self.base_url, ("http", "https"))
        if not self.base_url.rstrip("/").endswith("/bot"):
            raise rules.violation(
                "base_url",
                self.base_url,
                "the Bot API base including /bot, e.g. " + DEFAULT_BASE_URL,
            )
        if self.enabled and not self.chat_ids:
            raise rules.violation(
                "chat_ids", [], "at least one chat id when telegram.enabled is true"
            )
        rules.rule_unique_items("chat_ids", self.chat_ids)
        for kind in self.notify:
            if not is_known_kind(kind):
                raise rules.violation(
                    f"notify.{kind}", kind, "one of " + ", ".join(NOTIFY_KINDS) + ", step_N"
                )
        return self

    def sends(self, kind: str) -> bool:
        """True when notifications of ``kind`` go to Telegram (not switched off)."""
        return self.notify.get(kind, True)
