"""WeChat's record of our component: verify tickets, component access tokens, pre-auth codes.

Owns its data behind its own lock; reads the clock and draws from the world's one random source.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from infra.sandbox.config import SandboxConfig
from infra.sandbox.state import saved
from infra.sandbox.state.clock import Clock
from infra.sandbox.state.credentials import Code, TokenPair
from infra.sandbox.state.errors import JSON, WeChatError
from infra.sandbox.state.quotas import CLEARS_PER_MONTH
from infra.sandbox.state.randomness import Randomness

COMPONENT_TOKEN_TTL = 7200
TICKET_TTL = 12 * 3600
PRE_AUTH_CODE_TTL = 1800
CLEAR_QUOTA_PER_MONTH = CLEARS_PER_MONTH  # kept for importers; the count lives in quotas.py
_APPID_RE = re.compile(r"wx[0-9a-f]{16}")
_INVALID_CREDENTIAL = "invalid credential, access_token is invalid or not latest"


@dataclass
class Ticket:
    value: str
    pushed_at: float
    expires_at: float


class Component:
    """Tickets pushed, the component token pair and pre-auth codes."""

    def __init__(self, config: SandboxConfig, clock: Clock, random: Randomness) -> None:
        self._config = config
        self._clock = clock
        self._random = random
        self._lock = threading.Lock()
        self._tickets: dict[str, Ticket] = {}
        self._tokens = TokenPair()
        self._pre_auth_codes: dict[str, Code] = {}

    def reset(self) -> None:
        with self._lock:
            self._tickets = {}
            self._tokens = TokenPair()
            self._pre_auth_codes = {}

    def export(self) -> JSON:
        """Everything above, as JSON (`make dev` saves it across restarts)."""
        with self._lock:
            return {
                "tickets": [saved.dump(t) for t in self._tickets.values()],
                "tokens": saved.dump(self._tokens),
                "pre_auth_codes": [saved.dump(c) for c in self._pre_auth_codes.values()],
            }

    def restore(self, data: JSON) -> None:
        """`export`'s JSON back; ValueError (and nothing changed) when it is not one. A file saved
        when the month's quota clears were kept here still restores (they are in quotas.py now)."""
        tickets = [saved.load(Ticket, t) for t in saved.checked(data.get("tickets"), list[Any], "tickets")]
        tokens = saved.load(TokenPair, data.get("tokens"))
        codes = [saved.load(Code, c) for c in saved.checked(data.get("pre_auth_codes"), list[Any], "pre_auth_codes")]
        with self._lock:
            self._tickets = {t.value: t for t in tickets}
            self._tokens = tokens
            self._pre_auth_codes = {c.value: c for c in codes}

    # -- credentials -----------------------------------------------------------------------------

    def check_appid(self, appid: Any) -> None:
        """40013 for something that is not an appid, 61011 for another component's."""
        if appid == self._config.component_appid:
            return
        if not isinstance(appid, str) or not _APPID_RE.fullmatch(appid):
            raise WeChatError(40013, "invalid appid")
        raise WeChatError(61011, "invalid component")

    def check_credentials(self, appid: Any, secret: Any, *, wrong_secret: int = 40001) -> None:
        """The component appid, then its secret (`api_component_token` says 40125 for a wrong one)."""
        self.check_appid(appid)
        if secret != self._config.component_appsecret:
            raise WeChatError(wrong_secret, "invalid appsecret" if wrong_secret == 40125 else _INVALID_CREDENTIAL)

    # -- tickets and the component token ---------------------------------------------------------

    def new_ticket(self) -> Ticket:
        with self._lock:
            now = self._clock.now()
            ticket = Ticket(self._random.string("ticket@@@", 40), now, now + TICKET_TTL)
            self._tickets[ticket.value] = ticket
            return ticket

    def tickets(self) -> list[JSON]:
        with self._lock:
            return [
                {"ticket": t.value, "pushed_at": t.pushed_at, "expires_at": t.expires_at}
                for t in self._tickets.values()
            ]

    def issue_token(self, appid: Any, secret: Any, ticket_value: Any) -> JSON:
        with self._lock:
            self.check_credentials(appid, secret, wrong_secret=40125)
            ticket = self._tickets.get(ticket_value) if isinstance(ticket_value, str) else None
            if ticket is None:
                raise WeChatError(61006, "component ticket is invalid")
            if self._clock.now() >= ticket.expires_at:
                raise WeChatError(61005, "component ticket is expired")
            issued = self._tokens.issue(self._random.string("", 136), self._clock.now(), COMPONENT_TOKEN_TTL)
            return {"component_access_token": issued.value, "expires_in": COMPONENT_TOKEN_TTL}

    def check_token(self, token: str | None) -> None:
        """A component access token from the query: 41001 missing, 42001 expired, 40001 otherwise bad."""
        if not token:
            raise WeChatError(41001, "access_token missing")
        with self._lock:
            code = self._tokens.check(token, self._clock.now())
        if code == 42001:
            raise WeChatError(42001, "access_token expired")
        if code:
            raise WeChatError(40001, _INVALID_CREDENTIAL)

    def owns_token(self, token: str | None) -> bool:
        """Whether `token` is the component's current or previous one, live or not (whose call it
        was, for getRidInfo and getApiQuota)."""
        with self._lock:
            pair = (self._tokens.current, self._tokens.previous)
            return bool(token) and any(issued is not None and issued.value == token for issued in pair)

    def live_token(self, now: float) -> str | None:
        """The current component access token if it has not expired at `now`."""
        with self._lock:
            cur = self._tokens.current
            return cur.value if cur and now < cur.expires_at else None

    # -- pre-auth codes --------------------------------------------------------------------------

    def create_pre_auth_code(self) -> JSON:
        with self._lock:
            code = Code(self._random.string("preauthcode@@@", 64), self._clock.now() + PRE_AUTH_CODE_TTL)
            self._pre_auth_codes[code.value] = code
            return {"pre_auth_code": code.value, "expires_in": PRE_AUTH_CODE_TTL}

    def pre_auth_code_problem(self, value: str) -> str | None:
        """None when the code is usable, else why not (for the error page)."""
        with self._lock:
            return self._pre_auth_code_problem(value)

    def consume_pre_auth_code(self, value: str) -> str | None:
        """Marks the code used if it is usable; else, like `pre_auth_code_problem`, why not."""
        with self._lock:
            problem = self._pre_auth_code_problem(value)
            if problem is None:
                self._pre_auth_codes[value].used = True
            return problem

    def _pre_auth_code_problem(self, value: str) -> str | None:
        code = self._pre_auth_codes.get(value)
        if code is None:
            return "pre_auth_code is invalid"
        if code.used:
            return "pre_auth_code has been used"
        if self._clock.now() >= code.expires_at:
            return "pre_auth_code is expired"
        return None
