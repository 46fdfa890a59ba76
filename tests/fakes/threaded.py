"""Run a fake server's asyncio loop in a background thread (shared by the REST and ws fakes)."""

from __future__ import annotations

import asyncio
import threading
from typing import Self


class ThreadedServer:
    """Base of the fakes: ``start`` binds the port in a daemon thread and returns once bound."""

    thread_name = "fake-server"
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    async def _serve(self, port: int) -> None:
        """Bind and start serving (the subclass's aiohttp app)."""
        raise NotImplementedError

    def start(self, port: int = 0) -> Self:
        """Serve in a background thread; returns once the port is bound."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self._serve(port))
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.thread_name} did not start")
        return self
