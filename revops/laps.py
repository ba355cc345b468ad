"""Seconds each phase of a long job took: a reconciliation run, an import batch. The job
stores them (its page names them, the benchmarks print them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import monotonic


class Laps:
    """A stopwatch whose laps add up by phase name: `lap("copy")` charges the time since the
    last lap to "copy"."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = monotonic()

    def lap(self, phase: str) -> None:
        now = monotonic()
        self.seconds[phase] = round(self.seconds.get(phase, 0) + now - self._mark, 3)
        self._mark = now


_current: ContextVar[Laps | None] = ContextVar("laps", default=None)


@contextmanager
def laps_recording() -> Iterator[Laps]:
    """Laps for the code run inside: `lap()` anywhere below charges this stopwatch, so the
    services a job calls can mark their phases without a stopwatch passed down to them."""
    laps = Laps()
    token = _current.set(laps)
    try:
        yield laps
    finally:
        _current.reset(token)


def lap(phase: str) -> None:
    """Charge the time since the last lap to `phase`, when a job is recording (else nothing)."""
    laps = _current.get()
    if laps is not None:
        laps.lap(phase)
