"""A rehearsal plays with fewer garbage-collector passes and gives the thresholds back after."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest

from optiflow.runtimes.rehearsal_clock import GC_YOUNG, fewer_gc_passes
from tests.runtimes.test_rehearsal import load, rehearse


def test_thresholds_raised_while_playing_and_restored_after_overlapping_runs() -> None:
    """Inside: young threshold GC_YOUNG; two overlapping runs: restored when the last ends."""
    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []
    first_done = asyncio.Event()

    @fewer_gc_passes
    async def first() -> None:
        seen.append(gc.get_threshold())
        await asyncio.sleep(0.01)
        first_done.set()

    @fewer_gc_passes
    async def second() -> None:
        await first_done.wait()
        seen.append(gc.get_threshold())  # the first ended meanwhile: still raised

    async def both() -> None:
        await asyncio.gather(first(), second())

    asyncio.run(both())
    assert seen == [(GC_YOUNG, *before[1:])] * 2
    assert gc.get_threshold() == before


def test_thresholds_restored_after_an_error() -> None:
    """A run that fails leaves the collector as it found it."""
    before = gc.get_threshold()

    @fewer_gc_passes
    async def failing() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        asyncio.run(failing())
    assert gc.get_threshold() == before


def test_a_real_rehearsal_collects_less_often_and_restores_the_collector(tmp_path: Path) -> None:
    """A day of preset A: few young collections while it plays; thresholds back after."""
    before = gc.get_threshold()
    cfg, data = load("A", "2023-04-03", "2023-04-04")
    young: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 0:
            young.append(1)

    gc.callbacks.append(count)
    try:
        rt, store = rehearse(cfg, data, tmp_path)
    finally:
        gc.callbacks.remove(count)
    store.close()
    assert len(rt.exits) >= 3
    assert gc.get_threshold() == before
    assert len(young) < 15, len(young)  # 30 at Python's default threshold (700)
