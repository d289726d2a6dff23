"""The one test clock: call it for the time; `sleep` moves it (and remembers the waits)."""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
