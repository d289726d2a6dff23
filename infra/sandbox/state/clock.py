"""The sandbox's clock: the configured time source plus an offset that `POST /sandbox/clock` moves."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Clock:
    """`now()` is the source's time plus the offset; `advance()` moves the offset (never the source)."""

    def __init__(self, source: Callable[[], float]) -> None:
        self._source = source
        self._lock = threading.Lock()  # only for the read-modify-write of advance
        self._offset = 0.0

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return self._source() + self._offset

    def advance(self, seconds: float) -> float:
        """Moves the clock forward (or back) by `seconds` and returns the new now."""
        with self._lock:
            self._offset += seconds
            offset = self._offset
        return self._source() + offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

    def export(self) -> float:
        return self._offset

    def restore(self, offset: object) -> None:
        if isinstance(offset, bool) or not isinstance(offset, (int, float)):
            raise ValueError(f"clock offset: {offset!r} is not a number")
        with self._lock:
            self._offset = float(offset)
