"""The sandbox's journal: the API calls it answered, the pushes it made, the custom messages it got,
and the customer-service allowances users' messages and clicks opened.

Each log keeps the last LOG_LIMIT entries. Everything sits behind one condition, which
`wait_for_message` waits on (no polling) and `record_message` and `reset` notify. Readers get copies.
The logs are a record and are not saved; the allowances are state (`make dev` keeps them: a user
who wrote before a restart may still be written to after it).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.sandbox.state import saved
from infra.sandbox.state.errors import JSON, WeChatError

LOG_LIMIT = 5000
# Customer-service messages (WeChat's customer-service guide): after a user's message, 5 within 48
# hours; after a menu click, a follow or a scan, 3 within a minute. Each new interaction of a kind
# opens that kind's allowance afresh.
MESSAGE_WINDOW = (48 * 3600, 5)
EVENT_WINDOW = (60, 3)
# The events that open the 1-minute allowance: a menu click (CLICK, VIEW), a follow, a QR-code scan.
WINDOW_EVENTS = frozenset({"CLICK", "VIEW", "subscribe", "SCAN", "scancode_push", "scancode_waitmsg"})
ALLOWANCE_LIMITS = {"message": MESSAGE_WINDOW, "event": EVENT_WINDOW}


@dataclass
class Allowance:
    """One kind of allowance for one user of one account: opened at, and messages sent since."""

    appid: str
    openid: str
    kind: str
    opened_at: float
    sent: int = 0


class Journal:
    """Calls (with per-API counters), pushes (numbered from 1) and custom-send messages."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._calls: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self._counters: Counter[str] = Counter()
        self._pushes: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self._messages: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self._allowances: dict[tuple[str, str, str], Allowance] = {}  # (account, openid, kind)
        self._push_seq = 0

    def reset(self) -> None:
        """Forgets everything (push ids start from 1 again) and wakes any waiter to look again."""
        with self._changed:
            self._calls.clear()
            self._counters.clear()
            self._pushes.clear()
            self._messages.clear()
            self._allowances.clear()
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

    # -- customer-service allowances -------------------------------------------------------------

    def export_allowances(self) -> list[JSON]:
        """The allowances as JSON, for `make dev` to keep across restarts."""
        with self._changed:
            return [saved.dump(allowance) for allowance in self._allowances.values()]

    def restore_allowances(self, data: Any) -> None:
        """`export_allowances`' JSON back; ValueError (and nothing changed) when it is not one."""
        allowances = [saved.load(Allowance, item) for item in saved.checked(data, list[Any], "customer_service")]
        for allowance in allowances:
            if allowance.kind not in ALLOWANCE_LIMITS:
                raise ValueError(f"customer_service: kind {allowance.kind!r} is not one of {sorted(ALLOWANCE_LIMITS)}")
        with self._changed:
            self._allowances = {(a.appid, a.openid, a.kind): a for a in allowances}

    # -- custom messages -------------------------------------------------------------------------

    def record_user_wrote(self, appid: str, openid: str, now: float) -> None:
        """A user sent the account a message: 5 customer-service messages may reach them in 48 h."""
        self.record_interaction(appid, openid, "message", now)

    def record_interaction(self, appid: str, openid: str, kind: str, now: float) -> None:
        """A user's message (`message`) or window-opening event (`event`) opens that allowance afresh."""
        with self._changed:
            self._allowances[(appid, openid, kind)] = Allowance(appid, openid, kind, now)

    def spend_customer_service(self, appid: str, openid: str, now: float) -> None:
        """Counts one customer-service message against an open allowance: WeChatError 45015 when
        none is open (never, or too long ago), 45047 when the open ones are used up."""
        with self._changed:
            mine = [self._allowances.get((appid, openid, kind)) for kind in ALLOWANCE_LIMITS]
            open_ = [a for a in mine if a is not None and now < a.opened_at + ALLOWANCE_LIMITS[a.kind][0]]
            if not open_:
                raise WeChatError(45015, "response out of time limit or subscription is canceled")
            # The allowance that closes first is spent first.
            left = sorted(
                (a for a in open_ if a.sent < ALLOWANCE_LIMITS[a.kind][1]),
                key=lambda a: a.opened_at + ALLOWANCE_LIMITS[a.kind][0],
            )
            if not left:
                raise WeChatError(45047, "out of response count limit")
            left[0].sent += 1

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
