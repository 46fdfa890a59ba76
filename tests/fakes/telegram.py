"""A fake Telegram Bot API on 127.0.0.1 for the real python-telegram-bot (no internet).

Answers getMe, deleteWebhook, getUpdates (long poll; 409 to a second concurrent poller),
sendMessage, sendDocument (multipart), setMyCommands, answerCallbackQuery; a wrong token
gets 401. Knobs: ``rate_limit`` (429 with retry_after), ``down`` (502 to everything),
``push_command`` / ``push_button`` (updates for the poller). Unknown methods are recorded.
Standalone: ``python tests/fakes/telegram.py TOKEN`` prints the port and serves.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fakes.threaded import ThreadedServer  # noqa: E402

USER = {"id": 42, "is_bot": False, "first_name": "Trader"}


class FakeTelegram(ThreadedServer):
    """The Bot API face: what was sent, what the poller gets, and fault knobs."""

    thread_name = "fake-telegram"

    def __init__(self, token: str) -> None:
        self.token = token
        self.port = 0
        self.sent: list[dict[str, Any]] = []  # sendMessage/sendDocument params + "t"
        self.calls: list[str] = []  # every method called, in order
        self.unknown: list[str] = []
        self.commands: list[dict[str, str]] = []
        self.callbacks_answered = 0
        self.rate_limited = 0  # 429s answered
        self.down = False
        self._limit: list[int] = [0]
        self._retry_after = 1
        self._updates: list[dict[str, Any]] = []
        self._next_id = 1
        self._msg_id = 100
        self._polling = 0  # number of the newest getUpdates
        self.polls = 0
        self.conflicts = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The ``telegram.base_url`` to configure (includes /bot)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # ---- knobs -------------------------------------------------------------------------
    def rate_limit(self, n: int, retry_after: int = 1) -> None:
        """Answer the next ``n`` sendMessage calls with 429 and ``retry_after``."""
        with self._lock:
            self._limit[0] = n
            self._retry_after = retry_after

    def push_command(self, chat_id: int, text: str) -> None:
        """Queue a message with a bot_command entity from ``chat_id``."""
        cmd = text.split()[0]
        self._push(
            {
                "message": self._message(chat_id, text)
                | {"entities": [{"type": "bot_command", "offset": 0, "length": len(cmd)}]}
            }
        )

    def push_button(self, chat_id: int, data: str) -> None:
        """Queue an inline-button press with callback ``data``."""
        self._push(
            {
                "callback_query": {
                    "id": f"cq{self._next_id}",
                    "from": USER,
                    "message": self._message(chat_id, "confirm?"),
                    "chat_instance": "ci",
                    "data": data,
                }
            }
        )

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts of every sendMessage (to one chat), in order."""
        return [
            str(m["text"])
            for m in list(self.sent)
            if m["method"] == "sendMessage" and (chat_id is None or int(m["chat_id"]) == chat_id)
        ]

    def _push(self, update: dict[str, Any]) -> None:
        with self._lock:
            update["update_id"] = self._next_id
            self._next_id += 1
            self._updates.append(update)

    def _message(self, chat_id: int, text: str) -> dict[str, Any]:
        self._msg_id += 1
        return {
            "message_id": self._msg_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": USER,
            "text": text,
        }

    # ---- server ------------------------------------------------------------------------
    async def _serve(self, port: int) -> None:
        app = web.Application(client_max_size=20 * 2**20)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        if request.content_type.startswith("multipart/"):
            out: dict[str, Any] = {}
            reader = await request.multipart()
            async for part in reader:
                body = await part.read()  # type: ignore[union-attr]
                if part.filename:  # type: ignore[union-attr]
                    out[part.name or "file"] = {"filename": part.filename, "data": body}  # type: ignore[union-attr]
                else:
                    out[part.name or ""] = body.decode("utf-8")
            return out
        form = await request.post()
        return {k: str(v) for k, v in form.items()} | dict(request.query)

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        if not path.startswith("/bot"):
            self.unknown.append(path)
            return _fail(404, "Not Found")
        token, _, method = path[4:].partition("/")
        if self.down:
            return web.Response(status=502, text="Bad Gateway")
        if token != self.token:
            return _fail(401, "Unauthorized")
        params = await self._params(request)
        self.calls.append(method)
        if method == "getMe":
            return _ok({"id": 1, "is_bot": True, "first_name": "Fake", "username": "fake_bot"})
        if method in ("deleteWebhook", "setMyCommands", "close", "logOut"):
            if method == "setMyCommands":
                cmds = params.get("commands", [])
                self.commands = json.loads(cmds) if isinstance(cmds, str) else list(cmds)
            return _ok(True)
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "answerCallbackQuery":
            self.callbacks_answered += 1
            return _ok(True)
        if method in ("sendMessage", "sendDocument"):
            with self._lock:
                if method == "sendMessage" and self._limit[0] > 0:
                    self._limit[0] -= 1
                    self.rate_limited += 1
                    return _fail(
                        429,
                        f"Too Many Requests: retry after {self._retry_after}",
                        {"retry_after": self._retry_after},
                    )
            self.sent.append({"method": method, "t": time.monotonic(), **params})
            chat = int(params.get("chat_id", 0))
            msg = self._message(chat, str(params.get("text", "")))
            if method == "sendDocument":
                msg["document"] = {"file_id": "f1", "file_unique_id": "u1"}
            return _ok(msg)
        self.unknown.append(method)
        return _fail(404, "Not Found: method not found")

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        # like Telegram: a new getUpdates terminates the one in flight, which gets 409
        with self._lock:
            self._polling += 1
            me = self._polling
            self.polls += 1
        offset = int(params.get("offset", 0) or 0)
        timeout = float(params.get("timeout", 0) or 0)
        end = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._polling != me:
                    self.conflicts += 1
                    return _fail(409, "Conflict: terminated by other getUpdates request")
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = list(self._updates)
            if ready or time.monotonic() >= end or self.down:
                return _ok(ready)
            await asyncio.sleep(0.02)


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _fail(code: int, text: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": text}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


if __name__ == "__main__":
    fake = FakeTelegram(sys.argv[1]).start()
    print(fake.port, flush=True)
    threading.Event().wait()
