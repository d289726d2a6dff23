"""The sandbox's state, cut by concern; `World` wires the parts together.

- `clock.Clock`: the configured time source plus the offset the control API moves.
- `randomness.Randomness`: the one `random.Random(seed)` every random value is drawn from.
- `component.Component`: tickets, component access tokens, pre-auth codes.
- `merchants.Merchants`: accounts, grants, authorization codes, authorizer tokens, rotation.
- `faults.Faults`: injected faults per API.
- `console.ConsoleUrls`: where WeChat pushes (the platform console's two URLs).
- `journal.Journal`: the call, push and custom-message logs, and the wait for a message.
- `quotas.Quotas`: each account's calls per API today (getApiQuota, 45009) and its clears this month.
- `rids.Rids`: the calls answered with an error, by rid, for 7 days (getRidInfo).
- `world.World`: the composition, plus reset, snapshot and clear_quota/v2, which span parts.

Each part owns its data behind its own lock, which nothing outside it takes; none does I/O, so a
lock is always held briefly. `credentials` (token pairs, codes) and `errors` (`WeChatError`, `JSON`)
are the plain types they share.
"""

from __future__ import annotations

from infra.sandbox.state.clock import Clock
from infra.sandbox.state.component import (
    CLEAR_QUOTA_PER_MONTH,
    COMPONENT_TOKEN_TTL,
    PRE_AUTH_CODE_TTL,
    TICKET_TTL,
    Component,
    Ticket,
)
from infra.sandbox.state.credentials import OVERLAP, Code, IssuedToken, TokenPair
from infra.sandbox.state.errors import JSON, WeChatError
from infra.sandbox.state.faults import FAULT_KINDS, Fault, Faults
from infra.sandbox.state.journal import LOG_LIMIT, Journal
from infra.sandbox.state.merchants import AUTH_CODE_TTL, AUTHORIZER_TOKEN_TTL, Grant, Merchants
from infra.sandbox.state.randomness import URL_SAFE, Randomness
from infra.sandbox.state.world import World

__all__ = [
    "AUTHORIZER_TOKEN_TTL",
    "AUTH_CODE_TTL",
    "CLEAR_QUOTA_PER_MONTH",
    "COMPONENT_TOKEN_TTL",
    "FAULT_KINDS",
    "JSON",
    "LOG_LIMIT",
    "OVERLAP",
    "PRE_AUTH_CODE_TTL",
    "TICKET_TTL",
    "URL_SAFE",
    "Clock",
    "Code",
    "Component",
    "Fault",
    "Faults",
    "Grant",
    "IssuedToken",
    "Journal",
    "Merchants",
    "Randomness",
    "Ticket",
    "TokenPair",
    "WeChatError",
    "World",
]
