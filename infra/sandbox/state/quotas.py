"""WeChat's daily API quotas and the monthly quota clears: what getApiQuota reports, what 45009
refuses, what clear_quota/v2 resets (docs/sandbox.md, "Quotas and rids").

Every account has its own count per API per day: the component for the component APIs (the token
calls included), each authorized account for its own APIs, which the component spends on its
behalf ("a third party calling for an account spends that account's own quota", WeChat's quota
page). A day and a month are Beijing's (UTC+8), by the sandbox's clock. Limits are WeChat's published
figure where it publishes one, else a documented choice; `SandboxConfig.daily_quotas` overrides
them (a test sets a limit of 2 rather than calling 2000 times).

Owns its counts behind its own lock; reads the clock. Today's counts and the month's clears are
state (`make dev` keeps them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from infra.sandbox.state import saved
from infra.sandbox.state.clock import Clock
from infra.sandbox.state.errors import JSON, WeChatError

BEIJING = timezone(timedelta(hours=8))
CLEARS_PER_MONTH = 10  # "每个帐号每月共10次清零操作机会" (clear_quota's pages)
COMPONENT = "component"
AUTHORIZER = "authorizer"


@dataclass(frozen=True)
class Limit:
    """One API's daily limit: the API's name in the sandbox, whose quota it spends, how many a day,
    and where the figure comes from."""

    api: str
    kind: str  # COMPONENT or AUTHORIZER
    daily_limit: int
    source: str


# cgi_path -> its limit. WeChat publishes none for the component APIs; a developer quoting
# getApiQuota saw 10000 a day for api_component_token (community thread, docs/protocol.md §9), and
# WeChat's own figure for an account's token API is 2000. The choices are generous for what a
# token center calls, and small enough that a loop spends them in a test.
LIMITS: dict[str, Limit] = {
    "/cgi-bin/component/api_component_token": Limit("api_component_token", COMPONENT, 10000, "reported"),
    "/cgi-bin/component/api_create_preauthcode": Limit("api_create_preauthcode", COMPONENT, 10000, "choice"),
    "/cgi-bin/component/api_query_auth": Limit("api_query_auth", COMPONENT, 10000, "choice"),
    "/cgi-bin/component/api_authorizer_token": Limit("api_authorizer_token", COMPONENT, 100000, "choice"),
    "/cgi-bin/component/api_get_authorizer_info": Limit("api_get_authorizer_info", COMPONENT, 100000, "choice"),
    "/cgi-bin/component/api_get_authorizer_list": Limit("api_get_authorizer_list", COMPONENT, 10000, "choice"),
    "/cgi-bin/component/api_start_push_ticket": Limit("api_start_push_ticket", COMPONENT, 2000, "choice"),
    "/cgi-bin/message/custom/send": Limit("custom_send", AUTHORIZER, 500000, "published"),
    "/cgi-bin/ticket/getticket": Limit("getticket", AUTHORIZER, 2000, "choice"),
}
LIMIT_OF_API = {limit.api: limit for limit in LIMITS.values()}
PATH_OF_API = {limit.api: path for path, limit in LIMITS.items()}


def beijing_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).astimezone(BEIJING).strftime("%Y-%m-%d")


def beijing_month(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).astimezone(BEIJING).strftime("%Y-%m")


class Quotas:
    """Per account and API, today's calls; per account, this month's clears."""

    def __init__(self, clock: Clock, overrides: dict[str, int] | None = None) -> None:
        unknown = set(overrides or {}) - set(LIMIT_OF_API)
        if unknown:
            raise ValueError(f"daily_quotas: no such API {sorted(unknown)}; known: {sorted(LIMIT_OF_API)}")
        self._clock = clock
        self._limits = {api: (overrides or {}).get(api, limit.daily_limit) for api, limit in LIMIT_OF_API.items()}
        self._lock = threading.Lock()
        self._day = ""
        self._used: dict[str, dict[str, int]] = {}  # account -> api -> calls today
        self._clears: dict[str, dict[str, int]] = {}  # "YYYY-MM" -> account -> clears

    def reset(self) -> None:
        with self._lock:
            self._day, self._used, self._clears = "", {}, {}

    def export(self) -> JSON:
        with self._lock:
            self._roll()
            return {"day": self._day, "used": _copy(self._used), "clears": _copy(self._clears)}

    def restore(self, data: Any) -> None:
        """`export`'s JSON back; ValueError (and nothing changed) when it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"quotas: {data!r} is not an object")
        day = saved.checked(data.get("day"), str, "quotas.day")
        used = saved.checked(data.get("used"), dict[str, dict[str, int]], "quotas.used")
        clears = saved.checked(data.get("clears"), dict[str, dict[str, int]], "quotas.clears")
        with self._lock:
            self._day, self._used, self._clears = day, used, clears

    def spend(self, account: str, api: str) -> None:
        """Counts one call of `api` for `account`: 45009 once today's limit is reached (the
        refused call is not counted). APIs without a daily limit count nothing."""
        limit = self._limits.get(api)
        if limit is None:
            return
        with self._lock:
            self._roll()
            calls = self._used.setdefault(account, {})
            if calls.get(api, 0) >= limit:
                raise WeChatError(45009, "reach max api daily quota limit")
            calls[api] = calls.get(api, 0) + 1

    def quota(self, account: str, api: str) -> JSON:
        """getApiQuota's `quota` for one of `account`'s APIs."""
        limit = self._limits[api]
        with self._lock:
            self._roll()
            used = self._used.get(account, {}).get(api, 0)
        return {"daily_limit": limit, "used": used, "remain": max(0, limit - used)}

    def clear(self, account: str) -> int:
        """clear_quota: `account`'s counts of today back to zero, spending one of its clears this
        month (48006 when all 10 are spent); the clears it has left."""
        month = beijing_month(self._clock.now())
        with self._lock:
            self._roll()
            spent = self._clears.setdefault(month, {})
            if spent.get(account, 0) >= CLEARS_PER_MONTH:
                raise WeChatError(48006, "forbid to clear quota because of reaching the limit")
            spent[account] = spent.get(account, 0) + 1
            self._used.pop(account, None)
            return CLEARS_PER_MONTH - spent[account]

    def describe(self) -> JSON:
        """`GET /sandbox/quotas`: the limits, today's counts and this month's clears."""
        month = beijing_month(self._clock.now())
        with self._lock:
            self._roll()
            return {
                "day": self._day,
                "limits": {PATH_OF_API[api]: limit for api, limit in self._limits.items()},
                "used": _copy(self._used),
                "clears": dict(self._clears.get(month, {})),
                "clears_per_month": CLEARS_PER_MONTH,
            }

    def _roll(self) -> None:
        """A new Beijing day starts every count at zero (the caller holds the lock)."""
        day = beijing_day(self._clock.now())
        if day != self._day:
            self._day, self._used = day, {}


def _copy(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {key: dict(value) for key, value in counts.items()}
