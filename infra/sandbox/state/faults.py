"""Fault injection: per API (or "*" for all), a latency, an errcode, an HTTP status or a timeout;
and for the sandbox's own pushes (`push`), answers lost on the way back (`lose_answer`).

Owns the faults behind its own lock; `take()` spends one count of a counted fault.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

from infra.sandbox.state.errors import JSON

FAULT_KINDS = ("latency", "errcode", "http_status", "timeout", "lose_answer")
PUSH = "push"  # the sandbox's pushes to the system: only `lose_answer`, and never from "*"


@dataclass
class Fault:
    api: str
    kind: str  # latency | errcode | http_status | timeout
    value: float
    remaining: int | None  # None: until cleared

    def describe(self) -> JSON:
        return {"api": self.api, "kind": self.kind, "value": self.value, "remaining": self.remaining}


class Faults:
    """The faults in force, one per API name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}

    def set(self, api: str, kind: str, value: float, count: int | None) -> Fault:
        """Sets (replaces) the fault of `api`, for `count` calls or, with None, until cleared."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if (api == PUSH) != (kind == "lose_answer"):
            raise ValueError("'lose_answer' is the one fault of api 'push', and only of it")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 or null")
        if kind == "http_status" and not 200 <= value <= 599:
            raise ValueError("an http_status fault needs a status between 200 and 599")
        if kind in ("latency", "timeout") and value < 0:
            raise ValueError("seconds cannot be negative")
        with self._lock:
            fault = Fault(api, kind, value, count)
            self._faults[api] = fault
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        self.clear()

    def clear_errcode(self, errcode: int) -> None:
        """Lifts every fault that answers `errcode` (clear_quota lifts 45009)."""
        with self._lock:
            for name in [n for n, f in self._faults.items() if f.kind == "errcode" and f.value == errcode]:
                del self._faults[name]

    def take(self, api: str) -> Fault | None:
        """The fault to apply to this call of `api` (or of every API, "*"), spending one count."""
        with self._lock:
            for name in (api,) if api == PUSH else (api, "*"):
                fault = self._faults.get(name)
                if fault is None:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[name]
                return copy.copy(fault)
            return None

    def describe(self) -> list[JSON]:
        with self._lock:
            return [f.describe() for f in self._faults.values()]
