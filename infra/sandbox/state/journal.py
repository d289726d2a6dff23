"""The sandbox's journal: the API calls it answered, the pushes it made, the custom messages it got.

Each log keeps the last LOG_LIMIT entries. Everything sits behind one condition, which
`wait_for_message` waits on (no polling) and `record_message` and `reset` notify. Readers get copies.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable

from infra.sandbox.state.errors import JSON

LOG_LIMIT = 5000


class Journal:
    """Calls (with per-API counters), pushes (numbered from 1) and custom-send messages."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._calls: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self._counters: Counter[str] = Counter()
        self._pushes: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self._messages: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self._wrote: dict[tuple[str, str], float] = {}  # (account, openid) -> when the user last wrote
        self._push_seq = 0

    def reset(self) -> None:
        """Forgets everything (push ids start from 1 again) and wakes any waiter to look again."""
        with self._changed:
            self._calls.clear()
            self._counters.clear()
            self._pushes.clear()
            self._messages.clear()
            self._wrote.clear()
            self._push_seq = 0
            self._changed.notify_all()

    # -- calls -----------------------------------------------------------------------------------

    def record_call(self, call: JSON) -> None:
        with self._changed:
            self._counters[call["api"]] += 1
            self._calls.append(call)

    def call_log(self, api: str | None = None) -> JSON:
        """The counters of every API and the calls of `api` (all with None)."""
        with self._changed:
            calls = [c for c in self._calls if api is None or c["api"] == api]
            return {"counters": dict(self._counters), "calls": calls}

    # -- pushes ----------------------------------------------------------------------------------

    def record_push(self, delivery: JSON) -> JSON:
        """Numbers the delivery (its "id") and keeps it; returns it."""
        with self._changed:
            self._push_seq += 1
            delivery["id"] = self._push_seq
            self._pushes.append(delivery)
            return delivery

    def pushes(self) -> list[JSON]:
        with self._changed:
            return list(self._pushes)

    # -- custom messages -------------------------------------------------------------------------

    def record_user_wrote(self, appid: str, openid: str, now: float) -> None:
        """A user sent the account something: customer-service messages may reach them for 48 h."""
        with self._changed:
            self._wrote[(appid, openid)] = now

    def wrote_within(self, appid: str, openid: str, since: float) -> bool:
        with self._changed:
            return self._wrote.get((appid, openid), float("-inf")) >= since

    def record_message(self, message: JSON) -> None:
        with self._changed:
            self._messages.append(message)
            self._changed.notify_all()

    def messages(self) -> list[JSON]:
        with self._changed:
            return list(self._messages)

    def wait_for_message(self, predicate: Callable[[JSON], bool], timeout: float) -> JSON | None:
        """Waits (on the condition, no polling) for a custom-send message matching `predicate`."""
        found: list[JSON] = []

        def match() -> bool:
            found[:] = [m for m in self._messages if predicate(m)]
            return bool(found)

        with self._changed:
            self._changed.wait_for(match, timeout=timeout)
        return found[0] if found else None
