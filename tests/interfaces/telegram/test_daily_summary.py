"""The daily summary: a replay crossing the configured UTC hour sends it, with store figures."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.interfaces.telegram.support import CHAT, db, optiflow, write_config  # noqa: E402

DAY_MS = 86_400_000


def replay(fake: FakeTelegram, tmp: Path, **telegram: object) -> Path:
    """Replay 2023-03-17 00:00–08:00 with Telegram on; returns the state folder."""
    cfg = write_config(tmp, fake.base_url, daily_summary_hour_utc=6, **telegram)
    state = tmp / "A"
    # paced (8 h in about 6 s): the service, polling every 0.5 s, sees the bot before 06:00
    r = optiflow(
        "run", str(cfg), "--mode", "replay", "--speed", "5000",
        "--from", "2023-03-17", "--to", "2023-03-17T08:00", "--state-dir", str(state),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return state


def test_crossing_the_hour_sends_one_summary_with_the_stores_figures(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """One summary for 2023-03-17 after 06:00 bot time; its PnL equals the store's exits then."""
    state = replay(fake, tmp_path)
    daily = [t for t in fake.texts(CHAT) if "📊 daily summary" in t]
    assert len(daily) == 1, fake.texts(CHAT)
    text = daily[0]
    assert text.startswith("<b>OptiScalp_A</b>\n📊 daily summary 2023-03-17\n")
    at = re.search(r"as of (\S+ \S+) UTC", text)
    assert at is not None
    when = datetime.strptime(at[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert 6 <= when.hour < 8
    t_ms = int(when.timestamp() * 1000)
    with db(state) as conn:
        found = conn.execute("SELECT ts_exit, net_pnl FROM exits").fetchall()
    rows = [(int(ts), Decimal(n)) for ts, n in found]
    assert rows, "the replay must close trades"
    # bot time is the open of the last replayed candle: its fills are stamped up to its close
    # (a fill at the close itself may be stamped with the next candle's open)
    lines = []
    for end in (t_ms + 59_999, t_ms + 60_000):
        upto = [(ts, n) for ts, n in rows if ts <= end]
        all_time = sum((n for _, n in upto), Decimal(0))
        today = sum((n for ts, n in upto if ts >= t_ms - t_ms % DAY_MS), Decimal(0))
        lines.append(f"net PnL today (2023-03-17) {today:+.2f}, all time {all_time:+.2f}")
    assert any(x in text for x in lines), (lines, text)
    assert "balance " in text and "open positions " in text
    lines = [x for t in fake.texts(CHAT) for x in t.split("\n")[1:]]
    assert re.fullmatch(
        r"▶️ OptiScalp_A starting: replay of BTC/USDT, ETH/USDT, ADA/USDT \(\d+ candles\), "
        r"balance 400\.00 USDT",
        lines[0],
    ), lines[0]
    entries = [x for x in lines if x.startswith("BUY ")]
    assert entries and all(
        re.fullmatch(
            r"BUY \S+ [0-9.]+ @ [0-9.]+ = [0-9]+\.[0-9]{2} USDT \(TP1 \S+, TP2 \S+, SL \S+; "
            r"steps [^;]+; primary [a-z_, ]+; confirming [a-z_, ]+\)",
            x,
        )
        for x in entries
    ), entries


def test_the_summary_can_be_switched_off(fake: FakeTelegram, tmp_path: Path) -> None:
    """telegram.notify.daily_summary: false: the replay crosses the hour and nothing is sent."""
    replay(fake, tmp_path, notify={"daily_summary": False})
    texts = fake.texts(CHAT)
    assert any("BUY " in t for t in texts)  # the other notes still go
    assert not any("daily summary" in t for t in texts)
