"""The sandbox's journal: the API calls it answered, the pushes it made, the custom messages it got.

Each log keeps the last LOG_LIMIT entries. Everything sits behind one condition, which
`wait_for_message` waits on (no polling) and `record_message` and `reset` notify. Readers get copies.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable

from infra.sandbox.state.errors import JSON, WeChatError

LOG_LIMIT = 5000
# Customer-service messages (WeChat's customer-service guide): after a user's message, 5 within 48
# hours; after a menu click, a follow or a scan, 3 within a minute. Each new interaction of a kind
# opens that kind's allowance afresh.
MESSAGE_WINDOW = (48 * 3600, 5)
EVENT_WINDOW = (60, 3)
# The events that open the 1-minute allowance: a menu click (CLICK, VIEW), a follow, a QR-code scan.
WINDOW_EVENTS = frozenset({"CLICK", "VIEW", "subscribe", "SCAN", "scancode_push", "scancode_waitmsg"})


class Journal:
    """Calls (with per-API counters), pushes (numbered from 1) and custom-send messages."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._calls: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self._counters: Counter[str] = Counter()
        self._pushes: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self._messages: deque[JSON] = deque(maxlen=LOG_LIMIT)
        # (account, openid) -> kind ("message" / "event") -> [opened at, messages sent since]
        self._windows: dict[tuple[str, str], dict[str, list[float]]] = {}
        self._push_seq = 0

    def reset(self) -> None:
        """Forgets everything (push ids start from 1 again) and wakes any waiter to look again."""
        with self._changed:
            self._calls.clear()
            self._counters.clear()
            self._pushes.clear()
            self._messages.clear()
            self._windows.clear()
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
        """A user sent the account a message: 5 customer-service messages may reach them in 48 h."""
        self.record_interaction(appid, openid, "message", now)

    def record_interaction(self, appid: str, openid: str, kind: str, now: float) -> None:
        """A user's message (`message`) or window-opening event (`event`) opens that allowance afresh."""
        with self._changed:
            self._windows.setdefault((appid, openid), {})[kind] = [now, 0]

    def spend_customer_service(self, appid: str, openid: str, now: float) -> None:
        """Counts one customer-service message against an open allowance: WeChatError 45015 when
        none is open (never, or too long ago), 45047 when the open ones are used up."""
        limits = {"message": MESSAGE_WINDOW, "event": EVENT_WINDOW}
        with self._changed:
            windows = self._windows.get((appid, openid), {})
            open_ = [(kind, w) for kind, w in windows.items() if now < w[0] + limits[kind][0]]
            if not open_:
                raise WeChatError(45015, "response out of time limit or subscription is canceled")
            # The allowance that closes first is spent first.
            left = sorted(
                ((w[0] + limits[kind][0], w) for kind, w in open_ if w[1] < limits[kind][1]), key=lambda t: t[0]
            )
            if not left:
                raise WeChatError(45047, "out of response count limit")
            left[0][1][1] += 1

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
