"""Every command answered through the real python-telegram-bot and a fake Bot API, vs the store."""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from optiflow.config.telegram import TelegramConfig  # noqa: E402
from optiflow.interfaces.telegram import COMMANDS  # noqa: E402
from optiflow.interfaces.telegram.registry import plain  # noqa: E402
from optiflow.interfaces.telegram.service import TelegramService  # noqa: E402
from optiflow.queries.view import BotView  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.interfaces.telegram.support import (  # noqa: E402
    CHAT,
    STRANGER,
    TOKEN,
    db,
    optiflow,
    replay_with_open_positions,
    snapshot,
    write_config,
)


@pytest.fixture(scope="module")
def bot_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A replay bot stopped with open positions, closed trades and blocked signals."""
    tmp = tmp_path_factory.mktemp("tg")
    cfg = write_config(tmp, "http://127.0.0.1:9/bot")
    state = tmp / "state" / "OptiScalp_A"
    replay_with_open_positions(cfg, state)
    return state


def ask_telegram(
    fake: FakeTelegram, state: Path, commands: list[str], chat: int = CHAT
) -> list[dict[str, object]]:
    """Start the service, send ``commands`` from ``chat``, return what the bot sent back."""

    async def run() -> list[dict[str, object]]:
        tg = TelegramConfig(enabled=True, chat_ids=(CHAT,), base_url=fake.base_url)
        views = {"OptiScalp_A": BotView(state)}
        service = TelegramService(TOKEN, tg, views, lambda v: "stopped", poll_timeout=1)
        await asyncio.wait_for(service.start(), 20)
        try:
            before = len(fake.sent)
            for text in commands:
                n = len(fake.sent)
                fake.push_command(chat, text)
                end = asyncio.get_running_loop().time() + (3 if chat != CHAT else 20)
                while len(fake.sent) == n and asyncio.get_running_loop().time() < end:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.2)  # a split reply's later parts
            return fake.sent[before:]
        finally:
            await asyncio.wait_for(service.stop(flush_s=0), 20)

    return asyncio.run(run())


def _text(sent: list[dict[str, object]]) -> str:
    return "\n".join(str(m.get("text", m.get("caption", ""))) for m in sent)


def test_every_command_answers_with_the_stores_numbers(fake: FakeTelegram, bot_state: Path) -> None:
    """/open /summary /blockers /filters /signalstats /near ... carry the store's own figures."""
    snap = snapshot(bot_state)["bot"]
    with db(bot_state) as conn:
        nets = [Decimal(r[0]) for r in conn.execute("SELECT net_pnl FROM exits")]
        near = conn.execute(
            "SELECT symbol, kind, reason FROM near_misses ORDER BY id DESC"
        ).fetchone()
    assert snap["positions"] and nets, "the fixture must hold open positions and closed trades"
    names = ["/open", "/summary", "/blockers", "/filters", "/signalstats", "/near 3",
             "/failstats", "/topmissed", "/runtime", "/help"]  # fmt: skip
    sent = ask_telegram(fake, bot_state, names)
    texts = [str(m["text"]) for m in sent]
    assert len(texts) == len(names), texts
    reply = dict(zip(names, texts, strict=True))
    for r in texts:
        assert r.startswith("<b>OptiScalp_A</b>") or r.startswith("<b>General")
    for p in snap["positions"]:
        assert p["symbol"] in reply["/open"]
        assert f"entry {float(p['entry_price']):.8g}" in reply["/open"]
        assert f"SL {float(p['levels']['sl']):.8g}" in reply["/open"]
    assert f"all time {sum(nets):+.2f}" in reply["/summary"]
    assert f"balance {Decimal(snap['cash']):.2f} USDT" in reply["/summary"]
    assert f"open positions {len(snap['positions'])}" in reply["/summary"]
    for sym, c in snap["counters"].items():
        line = next(x for x in reply["/blockers"].splitlines() if x.startswith(sym))
        for reason, n in c["rejections"].items():
            assert f"{reason} {n}" in line.split(";")[0]
        sig = next(x for x in reply["/signalstats"].splitlines() if x.startswith(sym))
        assert f"1+1 {c['passes_1plus1']}, entries {c['entries']}" in sig
    passes = sum(c["passes_1plus1"] for c in snap["counters"].values())
    volume = sum(c["rejections"].get("volume", 0) for c in snap["counters"].values())
    assert f"volume (on, volume &gt;= 1.2 x median): blocked {volume}, pass rate " \
           f"{(1 - volume / passes) * 100:.1f} %" in reply["/filters"]  # fmt: skip
    assert near is not None
    assert f"{near[0]} {near[1]} {near[2]}:" in reply["/near 3"].splitlines()[-1]
    assert len(reply["/near 3"].splitlines()) == 4
    assert "not running; mode replay" in reply["/runtime"]
    for name in COMMANDS:
        assert f"/{name}" in reply["/help"]
    assert {c["command"] for c in fake.commands} == set(COMMANDS)


def test_log_dailycsv_and_long_replies(fake: FakeTelegram, bot_state: Path) -> None:
    """/log N is the log's tail, /dailycsv sends the day's file, a long reply goes as a file."""
    log_lines = (bot_state / "logs" / "OptiScalp_A" / "bot.log").read_text().splitlines()
    day = sorted(p.name for p in bot_state.glob("trades_*.csv"))[0][7:17]
    sent = ask_telegram(fake, bot_state, ["/log 3", f"/dailycsv A {day}", "/log 200"])
    assert sent[0]["method"] == "sendMessage"
    assert plain(str(sent[0]["text"])).splitlines()[1:] == log_lines[-3:]
    doc = sent[1]
    assert doc["method"] == "sendDocument"
    assert doc["document"]["data"] == (bot_state / f"trades_{day}.csv").read_bytes()  # type: ignore[index]
    long = sent[2:]
    if (
        sum(len(str(m.get("text", ""))) for m in long) > 4096 * 3
        or long[0]["method"] == "sendDocument"
    ):
        assert long[0]["method"] == "sendDocument"
        assert log_lines[-1] in long[0]["document"]["data"].decode()  # type: ignore[index]
    else:
        assert all(len(str(m["text"])) <= 4096 for m in long)


def test_strangers_get_nothing_and_bad_arguments_get_usage(
    fake: FakeTelegram, bot_state: Path
) -> None:
    """A chat not in chat_ids is ignored; bad arguments and unknown commands get the usage."""
    assert ask_telegram(fake, bot_state, ["/summary"], chat=STRANGER) == []
    sent = ask_telegram(fake, bot_state, ["/log x", "/nosuch", "/dailycsv A 2023-13-45"])
    texts = [str(m["text"]) for m in sent]
    assert texts[0].endswith("usage: /log [BOT] [N]")
    assert texts[1].startswith("unknown command /nosuch")
    assert "usage: /dailycsv" in texts[2]


def test_html_is_escaped(fake: FakeTelegram, bot_state: Path, tmp_path: Path) -> None:
    """A log line with <, > and & reaches Telegram escaped (valid HTML)."""
    log = bot_state / "logs" / "OptiScalp_A" / "bot.log"
    saved = log.read_bytes()
    try:
        log.write_text(saved.decode() + "price <b>&1 > 2\n")
        sent = ask_telegram(fake, bot_state, ["/log 1"])
    finally:
        log.write_bytes(saved)
    assert "price &lt;b&gt;&amp;1 &gt; 2" in str(sent[0]["text"])


def test_ask_prints_the_same_answer(bot_state: Path, fake: FakeTelegram) -> None:
    """``optiflow ask`` answers in the terminal with the text Telegram gets."""
    r = optiflow("ask", "OptiScalp_A", "/summary", "--state-root", str(bot_state.parent))
    assert r.returncode == 0, r.stderr
    sent = ask_telegram(fake, bot_state, ["/summary"])
    assert r.stdout.strip() == plain(str(sent[0]["text"])).strip()
    bad = optiflow("ask", "OptiScalp_A", "/log many", "--state-root", str(bot_state.parent))
    assert bad.returncode == 2 and "usage: /log" in bad.stdout
    data = json.loads((bot_state / "config.json").read_text())
    assert data["name"] == "OptiScalp_A"


def test_signalstats_per_combination_matches_the_store(
    fake: FakeTelegram, bot_state: Path
) -> None:
    """/signalstats (Telegram and `optiflow ask`): trades, win rate and net per combination."""
    still_open = {p["position_id"] for p in snapshot(bot_state)["bot"]["positions"]}
    per_pos: dict[str, tuple[str, str, Decimal]] = {}
    with db(bot_state) as conn:
        for pid, sym, sig, net in conn.execute(
            "SELECT position_id, symbol, signals, net_pnl FROM exits ORDER BY ts_exit, id"
        ):
            if pid not in still_open:
                _, _, total = per_pos.get(pid, (sym, sig, Decimal(0)))
                per_pos[pid] = (sym, sig, total + Decimal(net))
    assert per_pos and all(sig and "+" in sig for _, sig, _ in per_pos.values())
    combos: dict[str, list[Decimal]] = {}
    for _, sig, net in per_pos.values():
        combos.setdefault(sig, []).append(net)
    sent = ask_telegram(fake, bot_state, ["/signalstats"])
    text = plain(str(sent[0]["text"]))
    for sig, nets in combos.items():
        wins = sum(1 for n in nets if n > 0)
        line = (
            f"{sig}: trades {len(nets)}, win rate {wins / len(nets) * 100:.1f} %, "
            f"net {sum(nets):+.2f}"
        )
        assert line in text.splitlines(), (line, text)
    for sym in {s for s, _, _ in per_pos.values()}:
        nets = [n for s, _, n in per_pos.values() if s == sym]
        wins = sum(1 for n in nets if n > 0)
        assert f"closed {len(nets)}, win rate {wins / len(nets) * 100:.1f} %" in text
    r = optiflow("ask", "OptiScalp_A", "/signalstats", "--state-root", str(bot_state.parent))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == text.strip()
