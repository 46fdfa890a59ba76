"""``optiflow run`` and ``optiflow telegram`` as real processes against the fake Bot API."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.interfaces.telegram.support import (  # noqa: E402
    CHAT,
    TOKEN,
    db,
    note_texts,
    optiflow,
    start,
    wait_for,
    write_config,
)


def delivered(fake: FakeTelegram, bot: str = "OptiScalp_A") -> list[str]:
    """Every note line delivered for ``bot`` to CHAT, in order."""
    lines: list[str] = []
    for text in fake.texts(CHAT):
        head, *rest = text.split("\n")
        if head == f"<b>{bot}</b>":
            lines += rest
    return lines


def saved_cursor(state: Path) -> int:
    """The id of the last note the bot's outbox cursor file says CHAT got (0: none)."""
    try:
        return int(json.loads((state / "telegram_outbox.json").read_text())["chats"][str(CHAT)])
    except (OSError, ValueError, KeyError):
        return 0


def note_ids(state: Path) -> list[int]:
    """Every note's id in the bot's outbox, in order."""
    with db(state) as conn:
        return [int(r[0]) for r in conn.execute("SELECT id FROM notes ORDER BY id")]


def unescape(lines: list[str]) -> list[str]:
    """Telegram HTML back to the note's text."""
    return [x.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for x in lines]


def scan_for_token(*folders: Path, texts: tuple[str, ...] = ()) -> None:
    """No file under ``folders`` and no captured output holds the token."""
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), path
    for text in texts:
        assert TOKEN not in text


def test_replay_notifications_delivered_in_order(fake: FakeTelegram, tmp_path: Path) -> None:
    """Every note of a replay (start, entries, exits, finish) reaches Telegram, in order, once."""
    cfg = write_config(tmp_path, fake.base_url)
    state = tmp_path / "A"
    r = optiflow(
        "run", str(cfg), "--mode", "replay", "--speed", "0",
        "--from", "2023-03-17", "--to", "2023-03-17T10:00", "--state-dir", str(state),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    notes = note_texts(state)
    kinds = {line.split()[0] for line in notes}
    assert {"▶️", "BUY", "🏁"} <= kinds, kinds
    assert unescape(delivered(fake)) == notes
    assert {c["command"] for c in fake.commands} >= {"open", "summary", "shutdown", "help"}
    scan_for_token(tmp_path, texts=(r.stdout, r.stderr))


def test_sigterm_announces_shutdown(fake: FakeTelegram, tmp_path: Path) -> None:
    """SIGTERM stops the bot cleanly and "🛑 Bot shutting down…" reaches Telegram."""
    cfg = write_config(tmp_path, fake.base_url)
    state = tmp_path / "A"
    proc = start("run", str(cfg), "--mode", "replay", "--speed", "3000", "--state-dir", str(state))
    wait_for(lambda: any("starting" in x for x in delivered(fake)), 60, "the start note")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert any(x.startswith("🛑 Bot shutting down… (OptiScalp_A)") for x in delivered(fake))
    assert unescape(delivered(fake)) == note_texts(state)
    scan_for_token(tmp_path, texts=(out, err))


def test_a_refused_token_is_exit_2_not_a_crash_loop(fake: FakeTelegram, tmp_path: Path) -> None:
    """A token the Bot API refuses (401 on getMe) is one clear line and exit code 2."""
    cfg = write_config(tmp_path, fake.base_url)
    wrong = "987654321:AAWrongTokenWrongTokenWrongToken_xyz"
    r = optiflow(
        "run", str(cfg), "--mode", "replay", "--speed", "0", "--to", "2023-03-17T02:00",
        "--state-dir", str(tmp_path / "A"), token=wrong,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "refused the token" in r.stderr and "Traceback" not in r.stderr
    assert wrong not in r.stderr + r.stdout
    for path in (tmp_path / "A").rglob("*"):
        if path.is_file():
            assert wrong.encode() not in path.read_bytes(), path


def test_missing_or_malformed_token_and_check_config(tmp_path: Path) -> None:
    """check-config validates the telegram section and the token; errors exit 2."""
    cfg = write_config(tmp_path, "http://127.0.0.1:9/bot")
    ok = optiflow("check-config", str(cfg))
    assert ok.returncode == 0 and "telegram: on, 1 chat(s)" in ok.stdout
    assert TOKEN not in ok.stdout + ok.stderr
    none = optiflow("check-config", str(cfg), token=None)
    assert none.returncode == 2 and "OPTIFLOW_TELEGRAM_TOKEN" in none.stderr
    bad = optiflow("check-config", str(cfg), token="not-a-token-at-all")
    assert bad.returncode == 2 and "malformed" in bad.stderr
    assert "not-a-token-at-all" not in bad.stderr
    no_chats = write_config(tmp_path, "http://127.0.0.1:9/bot", name="X", chat_ids=[])
    r = optiflow("check-config", str(no_chats))
    assert r.returncode == 2 and "telegram.chat_ids" in r.stderr
    bad_kind = write_config(tmp_path, "http://127.0.0.1:9/bot", name="Y", notify={"nope": False})
    r = optiflow("check-config", str(bad_kind))
    assert r.returncode == 2 and "telegram.notify.nope" in r.stderr


def test_sigkill_with_undelivered_notes_then_all_once(fake: FakeTelegram, tmp_path: Path) -> None:
    """Telegram down while the bot trades, kill -9, restart: every note arrives once, in order."""
    cfg = write_config(tmp_path, fake.base_url)
    state = tmp_path / "A"
    args = ("run", str(cfg), "--mode", "replay", "--speed", "3000", "--from", "2023-03-17",
            "--to", "2023-03-17T14:00", "--state-dir", str(state))  # fmt: skip
    proc = start(*args)
    wait_for(lambda: any("starting" in x for x in delivered(fake)), 60, "the start note")
    fake.down = True
    wait_for(lambda: len(note_texts(state)) > 8, 60, "notes while Telegram is down")
    # what was sent is on record (fsync + rename) before the kill: a kill between a send and
    # that save cannot be exactly-once, and a busy disk makes that window long
    sent = len(delivered(fake))
    wait_for(lambda: saved_cursor(state) >= note_ids(state)[sent - 1], 60, "the cursor saved")
    proc.kill()
    proc.communicate(timeout=30)
    waiting = note_texts(state)
    assert len(delivered(fake)) < len(waiting)
    fake.down = False
    rest = list(args)
    rest[rest.index("--speed") + 1] = "0"  # the restart carries on flat out
    r = optiflow(*rest)
    assert r.returncode == 0, r.stderr
    notes = note_texts(state)
    assert notes[: len(waiting)] == waiting
    assert unescape(delivered(fake)) == notes  # in order, none lost, none twice
    scan_for_token(tmp_path, texts=(r.stdout, r.stderr))


def test_one_service_for_many_bots(fake: FakeTelegram, tmp_path: Path) -> None:
    """`optiflow telegram --state-root` answers for every bot, names them, and stops one."""
    root = tmp_path / "state"
    for name in ("OptiScalp_A", "OptiScalp_B"):
        cfg = write_config(tmp_path, fake.base_url, name=name)
        r = optiflow(
            "run", str(cfg), "--mode", "replay", "--speed", "0", "--no-telegram",
            "--to", "2023-03-17T03:00", "--state-dir", str(root / name),
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
    bot_b = start(
        "run", str(tmp_path / "OptiScalp_B.json"), "--mode", "replay", "--speed", "30",
        "--no-telegram", "--fresh", "--yes", "--state-dir", str(root / "OptiScalp_B"),
    )  # fmt: skip
    service = start("telegram", "--state-root", str(root))
    monitoring = root / "OptiScalp_B" / "debug_monitoring_summary.json"
    wait_for(monitoring.exists, 60, "bot B trading")
    try:
        wait_for(lambda: "getUpdates" in fake.calls, 30, "polling")
        second = start("telegram", "--state-root", str(root))
        err2 = ""
        # each poller cuts the other off: a second conflict means the first one's 409 was seen
        wait_for(lambda: fake.conflicts >= 2, 60, "the two pollers cutting each other off")
        second.send_signal(signal.SIGTERM)
        _, err2 = second.communicate(timeout=30)
        assert fake.conflicts > 0
        fake.push_command(CHAT, "/summary")
        wait_for(lambda: any("balance" in t for t in fake.texts(CHAT)), 30, "/summary")
        both = next(t for t in fake.texts(CHAT) if "balance" in t)
        assert "<b>OptiScalp_A</b>" in both and "<b>OptiScalp_B</b>" in both
        fake.push_command(CHAT, "/open A")
        wait_for(lambda: any("open positions" in t or "qty" in t for t in fake.texts(CHAT)[-1:]))
        fake.push_command(CHAT, "/shutdown B")
        wait_for(lambda: any("reply_markup" in m for m in fake.sent), 30, "the confirmation")
        assert bot_b.poll() is None  # not stopped before the button
        fake.push_button(CHAT, "shutdown:OptiScalp_B")
        wait_for(lambda: bot_b.poll() is not None, 60, f"bot B to stop: {fake.texts(CHAT)[-3:]}")
        assert bot_b.returncode == 0
        notes_b = lambda: delivered(fake, "OptiScalp_B")  # noqa: E731
        wait_for(
            lambda: any(x.startswith("🛑 Bot shutting down") for x in notes_b()),
            30,
            "the shutdown note from the bot's outbox",
        )
        assert fake.callbacks_answered == 1
    finally:
        for p in (bot_b, service):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=60)
        bot_b.communicate(timeout=60)
    assert service.returncode == 0, err
    assert "409 Conflict" in err + err2  # the poller that was cut off says why, once
    scan_for_token(tmp_path, texts=(out, err, err2))
