"""Exact first-order recurrences (EMA, Wilder smoothing): one step function, scalar or batch.

The same step function serves the live path (one float at a time) and the batch path
(numpy vectors), so both perform the identical IEEE-754 operations in the identical order.
The batch runner evaluates the recurrence *speculatively in parallel over time*: the series
is cut into blocks, every block is started ``warmup`` steps early from a guess and all blocks
are advanced together as numpy vectors. Both recurrences contract (an error in the state is
multiplied by ``1 - alpha`` per step), so the guessed trajectory becomes bit-identical to the
true one well before the block starts. Each block is then *verified* against the exact end
state of the previous block and, where it differs, recomputed sequentially until it joins
the speculative values again. The result is therefore always exactly the sequential result;
only the speed depends on the speculation succeeding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, overload

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
F = TypeVar("F", float, FloatArray)


def ema_step(prev: F, x: F, alpha: F) -> F:
    """One EMA step: ``prev + alpha * (x - prev)`` on floats or float64 arrays alike."""
    return prev + alpha * (x - prev)


def wilder_step(prev: F, x: F, period: F) -> F:
    """One Wilder smoothing step: ``(prev * (period - 1) + x) / period``."""
    return (prev * (period - 1.0) + x) / period


class Step(Protocol):
    """A recurrence step usable on Python floats and on float64 arrays."""

    @overload
    def __call__(self, prev: float, x: float, param: float, /) -> float: ...

    @overload
    def __call__(self, prev: FloatArray, x: FloatArray, param: FloatArray, /) -> FloatArray: ...


def warmup_steps(contraction: float) -> int:
    """Steps after which a guessed state has shrunk ~45 e-folds (e**-45 ~ 3e-20: far below
    one ulp even for a guess 100 times off; the verification pass makes any shortfall exact)."""
    return int(math.ceil(45.0 / -math.log(contraction)))


def _same(a: float, b: float) -> bool:
    """Bitwise float equality for finite values (distinguishes -0.0 from 0.0)."""
    return a == b and (a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b))


def run_sequential(step: Step, y0: float, xs: list[float], param: float) -> list[float]:
    """Apply ``step`` along ``xs`` from state ``y0``; returns the state after each input."""
    out: list[float] = []
    append = out.append
    y = y0
    for x in xs:
        y = step(y, x, param)
        append(y)
    return out


def run_recurrence(
    step: Step,
    y0: float,
    xs: FloatArray,
    param: float,
    *,
    warmup: int,
    block: int = 512,
    min_parallel: int | None = None,
) -> FloatArray:
    """States after each input of ``xs`` starting from ``y0``; bit-identical to sequential."""
    out = run_recurrences(
        step, [y0], xs, [param], warmup=warmup, block=block, min_parallel=min_parallel
    )
    return out.reshape(-1)


def run_recurrences(
    step: Step,
    y0s: Sequence[float],
    xs: FloatArray,
    params: Sequence[float],
    *,
    warmup: int,
    block: int = 512,
    min_parallel: int | None = None,
    work: Workspace | None = None,
) -> FloatArray:
    """Several independent recurrences at once; row i starts at ``y0s[i]`` with ``params[i]``.

    ``xs`` is one input series shared by all rows (shape ``(n,)``) or one per row
    (shape ``(m, n)``). Returns shape ``(m, n)``; row i equals the sequential result.
    ``work`` lends the working arrays of an earlier call (fewer fresh pages to fault in).
    """
    rows = list(np.atleast_2d(xs))  # one row: shared by every recurrence
    return run_rows(step, y0s, rows, params, warmup, block, min_parallel, work)


class Workspace:
    """Flat float64 buffers reused by successive ``run_rows`` calls (each call's working
    arrays are views of them): the memory is faulted in once instead of once per call."""

    def __init__(self) -> None:
        """No buffer yet; each grows to the largest size asked."""
        self._bufs: dict[str, FloatArray] = {}

    def get(self, name: str, shape: tuple[int, ...]) -> FloatArray:
        """A C-contiguous ``shape`` view of buffer ``name`` (its contents are garbage)."""
        size = math.prod(shape)
        buf = self._bufs.get(name)
        if buf is None or len(buf) < size:
            buf = self._bufs[name] = np.empty(size, dtype=np.float64)
        return buf[:size].reshape(shape)


def run_rows(
    step: Step,
    y0s: Sequence[float],
    rows: Sequence[FloatArray],
    params: Sequence[float],
    warmup: int,
    block: int = 512,
    min_parallel: int | None = None,
    work: Workspace | None = None,
    dest: Sequence[FloatArray] | None = None,
) -> FloatArray:
    """``run_recurrences`` of input rows given one by one (one row per recurrence, or a
    single row shared by all): shape ``(m, n)``, ``n`` the longest row's length; a shorter
    row goes on with its last input (its states past its end are of that padding).

    The rows are padded straight into the speculation table's source, and the working
    arrays are views of ``work`` (a fresh one if None): only the result is new memory.
    With ``dest`` (one writable float64 array per recurrence, as long as its row), the
    states are written there instead and an empty ``(m, 0)`` array is returned.
    """
    m, k = len(y0s), len(rows)
    if k != m:  # one input row for every recurrence
        rows, k = [rows[0]] * m, 1
    n = max((len(r) for r in rows), default=0)
    if m == 0 or n == 0:
        return np.empty((m, 0 if dest is not None else n), dtype=np.float64)
    threshold = 8 * (warmup + block) if min_parallel is None else min_parallel
    if n < max(threshold, 2 * block):
        full = [np.concatenate((r, np.repeat(r[-1:], n - len(r)))) for r in rows]
        seq = [run_sequential(step, y0s[i], full[i].tolist(), params[i]) for i in range(m)]
        if dest is None:
            return np.array(seq, dtype=np.float64).reshape(m, n)
        for out_row, states in zip(dest, seq, strict=True):
            out_row[:] = states[: len(out_row)]
        return np.empty((m, 0), dtype=np.float64)
    work = work if work is not None else Workspace()
    nblocks = -(-n // block)
    front = -(-warmup // block) * block  # whole blocks of front padding
    padded = work.get("padded", (k, front + nblocks * block))
    for i, r in enumerate(rows[:k]):
        padded[i, :front] = r[0]
        padded[i, front : front + len(r)] = r
        padded[i, front + len(r) :] = r[-1]
    # table[i, r, k] = padded[i, k * block + r]: block c reads input c * block - warmup + j
    # (each row transposed on its own: a cache-sized transpose per row)
    table = work.get("table", (k, block, front // block + nblocks))
    np.copyto(table, padded.reshape(k, -1, block).transpose(0, 2, 1))
    base = front - warmup
    param = np.array(params, dtype=np.float64).reshape(m, 1)
    y: FloatArray = np.array(
        np.broadcast_to(
            table[:, base % block, base // block : base // block + nblocks], (m, nblocks)
        )
    )
    res = work.get("res", (m, block, nblocks))
    advance = _in_place(step, param, y)
    first = np.array(y0s, dtype=np.float64)  # block 0 starts from the true state: exact
    if warmup == 0:
        y[:, 0] = first
    for j in range(warmup + block):
        g = base + j
        off = g // block
        x = table[:, g % block, off : off + nblocks]
        if advance is not None:
            advance(x)  # y updated in place: the same operations, no temporaries
        else:
            y = step(y, x, param)
        if j == warmup - 1:
            y[:, 0] = first
        if j >= warmup:
            res[:, j - warmup] = y
    if dest is None:
        out = np.ascontiguousarray(res.transpose(0, 2, 1)).reshape(m, -1)[:, :n]
        rows_out: Sequence[FloatArray] = list(out)
    else:
        rows_out = dest
        for i, d in enumerate(dest):  # (each row transposed on its own, whole blocks first)
            if not d.flags.c_contiguous or len(d) > n:
                raise ValueError("run_rows: a dest row must be contiguous and fit its row")
            whole = len(d) // block
            np.copyto(d[: whole * block].reshape(whole, block), res[i, :, :whole].T)
            if len(d) > whole * block:
                d[whole * block :] = res[i, : len(d) - whole * block, whole]
        out = np.empty((m, 0), dtype=np.float64)
    for i in range(m):
        xs = padded[0 if k == 1 else i, front : front + len(rows_out[i])]
        _repair(step, y0s[i], xs, params[i], rows_out[i], block)
    return out


def _in_place(step: Step, param: FloatArray, y: FloatArray) -> Callable[[FloatArray], None] | None:
    """For the known steps, a function doing ``y = step(y, x, param)`` in place (the same
    IEEE-754 operations in the same order, without allocating); None for any other step."""
    tmp = np.empty_like(y)
    if step is ema_step:  # prev + alpha * (x - prev)

        def ema(x: FloatArray) -> None:
            np.subtract(x, y, out=tmp)
            np.multiply(param, tmp, out=tmp)
            np.add(y, tmp, out=y)

        return ema
    if step is wilder_step:  # (prev * (period - 1) + x) / period
        less = param - 1.0

        def wilder(x: FloatArray) -> None:
            np.multiply(y, less, out=y)
            np.add(y, x, out=y)
            np.divide(y, param, out=y)

        return wilder
    return None


def _bits_equal(a: FloatArray, b: FloatArray) -> npt.NDArray[np.bool_]:
    """Elementwise bitwise equality of two float64 arrays."""
    return np.asarray(a.view(np.int64) == b.view(np.int64))


def _repair(
    step: Step, y0: float, xs: FloatArray, param: float, spec: FloatArray, block: int
) -> None:
    """Verify each block against the exact end state of the block before; fix mismatches.

    A block is exact when its first value equals one step from the previous block's last
    (exact) value, because from equal states equal inputs give equal states. The check
    runs vectorised over all blocks; mismatching blocks are recomputed sequentially, in
    order, until they rejoin the speculative values.
    """
    n = len(xs)
    starts = np.arange(0, n, block)
    p = np.full(len(starts), param)
    first = 0
    while first < len(starts):
        s = starts[first:]
        prev = spec[s - 1] if first else np.concatenate(([y0], spec[s[1:] - 1]))
        ok = _bits_equal(step(prev, xs[s], p[first:]), spec[s])
        bad = np.flatnonzero(~ok)
        if len(bad) == 0:
            return
        c = first + int(bad[0])
        begin = int(starts[c])
        y = y0 if begin == 0 else float(spec[begin - 1])
        for j in range(begin, min(begin + block, n)):
            y = step(y, float(xs[j]), param)
            if _same(y, float(spec[j])):
                break
            spec[j] = y
        first = c + 1
