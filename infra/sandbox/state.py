"""The sandbox's world: tickets, tokens, codes, grants, faults and logs, behind one lock.

Every method takes the lock; nothing here does I/O, so holding it is always short. Randomness comes
from one `random.Random(seed)`, so a seeded sandbox issues the same values in the same order.
"""

from __future__ import annotations

import copy
import random
import re
import string
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.sandbox.config import MerchantAccount, SandboxConfig

JSON = dict[str, Any]

COMPONENT_TOKEN_TTL = 7200
AUTHORIZER_TOKEN_TTL = 7200
OVERLAP = 300  # a superseded token or rotated refresh token lives 5 more minutes
TICKET_TTL = 12 * 3600
PRE_AUTH_CODE_TTL = 1800
AUTH_CODE_TTL = 3600
CLEAR_QUOTA_PER_MONTH = 10
LOG_LIMIT = 5000
URL_SAFE = string.ascii_letters + string.digits + "-_"
_APPID_RE = re.compile(r"wx[0-9a-f]{16}")


class WeChatError(Exception):
    """An answer `{"errcode": N, "errmsg": ...}`."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    def answer(self) -> JSON:
        return {"errcode": self.errcode, "errmsg": self.errmsg}


@dataclass
class IssuedToken:
    value: str
    expires_at: float
    superseded_at: float | None = None


@dataclass
class TokenPair:
    """The current token and the one it replaced, which stays valid for OVERLAP seconds."""

    current: IssuedToken | None = None
    previous: IssuedToken | None = None

    def issue(self, value: str, now: float, ttl: float) -> IssuedToken:
        if self.current is not None:
            self.current.superseded_at = now
            self.previous = self.current
        self.current = IssuedToken(value, now + ttl)
        return self.current

    def check(self, value: str, now: float) -> int:
        """0 valid, 42001 expired, 40001 unknown or superseded for more than OVERLAP."""
        if self.current is not None and value == self.current.value:
            return 0 if now < self.current.expires_at else 42001
        prev = self.previous
        if prev is not None and value == prev.value and prev.superseded_at is not None:
            if now >= prev.superseded_at + OVERLAP:
                return 40001
            return 0 if now < prev.expires_at else 42001
        return 40001


@dataclass
class Ticket:
    value: str
    pushed_at: float
    expires_at: float


@dataclass
class Code:
    """A pre-auth code or an authorization code (then with its account)."""

    value: str
    expires_at: float
    appid: str = ""
    used: bool = False


@dataclass
class Grant:
    account: MerchantAccount
    refresh_token: str
    auth_time: int
    func_info: list[int]
    authorized: bool = True
    previous_refresh_token: str | None = None
    previous_refresh_until: float = 0.0
    access: TokenPair = field(default_factory=TokenPair)


@dataclass
class Fault:
    api: str
    kind: str  # latency | errcode | http_status | timeout
    value: float
    remaining: int | None  # None: until cleared

    def describe(self) -> JSON:
        return {"api": self.api, "kind": self.kind, "value": self.value, "remaining": self.remaining}


FAULT_KINDS = ("latency", "errcode", "http_status", "timeout")


class World:
    """The sandbox's whole state. Thread-safe: one re-entrant lock around everything."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.base_url = ""
        self.stopping = threading.Event()
        self._reset()

    # -- lifecycle -------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.rng = random.Random(self.config.seed)  # noqa: S311 - a sandbox is deterministic on purpose
        self.offset = 0.0
        self.accounts: dict[str, MerchantAccount] = {a.appid: a for a in self.config.merchant_accounts()}
        self.rotation: dict[str, bool] = {}
        self.tickets: dict[str, Ticket] = {}
        self.component_tokens = TokenPair()
        self.pre_auth_codes: dict[str, Code] = {}
        self.auth_codes: dict[str, Code] = {}
        self.grants: dict[str, Grant] = {}
        self.access_index: dict[str, str] = {}  # authorizer access token -> appid
        self.faults: dict[str, Fault] = {}
        self.clear_quota_used: dict[str, int] = {}  # "YYYY-MM" -> count
        self.calls: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self.counters: Counter[str] = Counter()
        self.pushes: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self.messages: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self.push_seq = 0

    def reset(self) -> None:
        """Back to the seeded state: everything but the configuration is forgotten."""
        with self.lock:
            self._reset()
            self.changed.notify_all()

    # -- time and randomness ---------------------------------------------------------------------

    def now(self) -> float:
        with self.lock:
            return self.config.clock() + self.offset

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.offset += seconds
            return self.now()

    def random_string(self, prefix: str, length: int) -> str:
        with self.lock:
            return prefix + "".join(self.rng.choice(URL_SAFE) for _ in range(length))

    def nonce(self) -> str:
        with self.lock:
            return str(self.rng.randint(100_000_000, 9_999_999_999))

    def random_prefix(self) -> bytes:
        with self.lock:
            return self.rng.randbytes(16)

    def msg_id(self) -> int:
        with self.lock:
            return self.rng.randint(10**18, 10**19 - 1)

    def openid(self) -> str:
        return self.random_string("o", 27)

    # -- component: tickets and token ------------------------------------------------------------

    def new_ticket(self) -> Ticket:
        with self.lock:
            now = self.now()
            ticket = Ticket(self.random_string("ticket@@@", 40), now, now + TICKET_TTL)
            self.tickets[ticket.value] = ticket
            return ticket

    def check_component(self, appid: Any) -> None:
        if appid == self.config.component_appid:
            return
        if not isinstance(appid, str) or not _APPID_RE.fullmatch(appid):
            raise WeChatError(40013, "invalid appid")
        raise WeChatError(61011, "invalid component")

    def issue_component_token(self, appid: Any, secret: Any, ticket_value: Any) -> JSON:
        with self.lock:
            self.check_component(appid)
            if secret != self.config.component_appsecret:
                raise WeChatError(40001, "invalid credential, access_token is invalid or not latest")
            ticket = self.tickets.get(ticket_value) if isinstance(ticket_value, str) else None
            if ticket is None:
                raise WeChatError(61006, "component ticket is invalid")
            if self.now() >= ticket.expires_at:
                raise WeChatError(61005, "component ticket is expired")
            issued = self.component_tokens.issue(self.random_string("", 136), self.now(), COMPONENT_TOKEN_TTL)
            return {"component_access_token": issued.value, "expires_in": COMPONENT_TOKEN_TTL}

    def check_component_token(self, query: dict[str, str], body: JSON) -> None:
        token = query.get("component_access_token")
        if not token:
            raise WeChatError(41001, "access_token missing")
        with self.lock:
            code = self.component_tokens.check(token, self.now())
        if code == 42001:
            raise WeChatError(42001, "access_token expired")
        if code:
            raise WeChatError(40001, "invalid credential, access_token is invalid or not latest")

    # -- authorization ---------------------------------------------------------------------------

    def create_pre_auth_code(self) -> JSON:
        with self.lock:
            code = Code(self.random_string("preauthcode@@@", 64), self.now() + PRE_AUTH_CODE_TTL)
            self.pre_auth_codes[code.value] = code
            return {"pre_auth_code": code.value, "expires_in": PRE_AUTH_CODE_TTL}

    def pre_auth_code_problem(self, value: str) -> str | None:
        """None when the code is usable, else why not (for the error page)."""
        with self.lock:
            code = self.pre_auth_codes.get(value)
            if code is None:
                return "pre_auth_code is invalid"
            if code.used:
                return "pre_auth_code has been used"
            if self.now() >= code.expires_at:
                return "pre_auth_code is expired"
            return None

    def consume_pre_auth_code(self, value: str) -> str | None:
        with self.lock:
            problem = self.pre_auth_code_problem(value)
            if problem is None:
                self.pre_auth_codes[value].used = True
            return problem

    def account(self, appid: str) -> MerchantAccount | None:
        with self.lock:
            return self.accounts.get(appid)

    def authorize(self, appid: str, func_info: list[int] | None = None) -> tuple[Code, bool]:
        """Creates or renews the grant and an authorization code; True when it was already authorized."""
        with self.lock:
            account = self.accounts.get(appid)
            if account is None:
                raise WeChatError(40013, "invalid appid")
            now = self.now()
            grant = self.grants.get(appid)
            was_authorized = grant is not None and grant.authorized
            permissions = list(func_info) if func_info else list(account.permissions)
            refresh = self.random_string("refreshtoken@@@", 43)
            if grant is None:
                self.grants[appid] = Grant(account, refresh, int(now), permissions)
            else:
                # Re-authorization issues a new refresh token and kills the old one (docs/protocol.md §3).
                grant.refresh_token = refresh
                grant.previous_refresh_token = None
                grant.authorized = True
                grant.func_info = permissions
                grant.auth_time = int(now)
            code = Code(self.random_string("queryauthcode@@@", 64), now + AUTH_CODE_TTL, appid)
            self.auth_codes[code.value] = code
            return code, was_authorized

    def release_test_code(self, appid: str) -> Code:
        """A fresh authorization code for an account, authorizing it silently if needed (no push)."""
        with self.lock:
            grant = self.grants.get(appid)
            if grant is None or not grant.authorized:
                return self.authorize(appid)[0]
            code = Code(self.random_string("queryauthcode@@@", 64), self.now() + AUTH_CODE_TTL, appid)
            self.auth_codes[code.value] = code
            return code

    def is_authorized(self, appid: str) -> bool:
        with self.lock:
            grant = self.grants.get(appid)
            return grant is not None and grant.authorized

    def _grant(self, appid: Any) -> Grant:
        grant = self.grants.get(appid) if isinstance(appid, str) else None
        if grant is None or not grant.authorized:
            raise WeChatError(61003, "component is not authorized by this account")
        return grant

    def _issue_access(self, grant: Grant) -> str:
        issued = grant.access.issue(self.random_string("", 136), self.now(), AUTHORIZER_TOKEN_TTL)
        self.access_index[issued.value] = grant.account.appid
        return issued.value

    def query_auth(self, value: Any) -> JSON:
        with self.lock:
            code = self.auth_codes.get(value) if isinstance(value, str) else None
            if code is None or code.used:
                raise WeChatError(61009, "code is invalid")
            if self.now() >= code.expires_at:
                raise WeChatError(61010, "code is expired")
            code.used = True
            grant = self._grant(code.appid)
            return {
                "authorization_info": {
                    "authorizer_appid": code.appid,
                    "authorizer_access_token": self._issue_access(grant),
                    "expires_in": AUTHORIZER_TOKEN_TTL,
                    "authorizer_refresh_token": grant.refresh_token,
                    "func_info": [{"funcscope_category": {"id": i}} for i in grant.func_info],
                }
            }

    def authorizer_token(self, appid: Any, refresh: Any) -> JSON:
        with self.lock:
            grant = self._grant(appid)
            now = self.now()
            current = refresh == grant.refresh_token
            overlapping = bool(refresh) and refresh == grant.previous_refresh_token
            if not current and not (overlapping and now < grant.previous_refresh_until):
                raise WeChatError(61023, "refresh_token is invalid")
            if self.rotation.get(grant.account.appid):
                grant.previous_refresh_token = grant.refresh_token
                grant.previous_refresh_until = now + OVERLAP
                grant.refresh_token = self.random_string("refreshtoken@@@", 43)
            return {
                "authorizer_access_token": self._issue_access(grant),
                "expires_in": AUTHORIZER_TOKEN_TTL,
                "authorizer_refresh_token": grant.refresh_token,
            }

    def authorizer_info(self, appid: Any) -> JSON:
        with self.lock:
            grant = self._grant(appid)
            a = grant.account
            info: JSON = {
                "nick_name": a.nick_name,
                "head_img": f"{self.base_url}/sandbox/avatar/{a.appid}.svg",
                "service_type_info": {"id": a.service_type},
                "verify_type_info": {"id": a.verify_type},
                "user_name": a.user_name,
                "alias": a.alias,
                "principal_name": a.principal_name,
                "qrcode_url": f"{self.base_url}/sandbox/qrcode/{a.appid}.svg",
                "business_info": {
                    "open_store": 0,
                    "open_scan": 0,
                    "open_pay": 0,
                    "open_card": 0,
                    "open_shake": 0,
                },
                "account_status": 1,
                "idc": 1,
                "signature": f"{a.nick_name} (WeChat sandbox)",
            }
            if a.is_mini_program:
                info["MiniProgramInfo"] = {
                    "network": {
                        "RequestDomain": [],
                        "WsRequestDomain": [],
                        "UploadDomain": [],
                        "DownloadDomain": [],
                        "BizDomain": [],
                        "UDPDomain": [],
                    },
                    "categories": [{"first": "工具", "second": "效率"}],
                    "visit_status": 0,
                }
            return {
                "authorizer_info": info,
                "authorization_info": {
                    "authorizer_appid": a.appid,
                    "func_info": [{"funcscope_category": {"id": i}} for i in grant.func_info],
                },
            }

    def authorizer_list(self, offset: Any, count: Any) -> JSON:
        if not isinstance(offset, int) or not isinstance(count, int) or offset < 0 or not 1 <= count <= 500:
            raise WeChatError(40097, "invalid args: offset >= 0, 1 <= count <= 500")
        with self.lock:
            grants = sorted(
                (g for g in self.grants.values() if g.authorized),
                key=lambda g: (g.auth_time, g.account.appid),
            )
            page = grants[offset : offset + count]
            return {
                "total_count": len(grants),
                "list": [
                    {
                        "authorizer_appid": g.account.appid,
                        "refresh_token": g.refresh_token,
                        "auth_time": g.auth_time,
                    }
                    for g in page
                ],
            }

    def revoke(self, appid: str) -> bool:
        """Marks the grant revoked and kills its tokens and codes; False if it was not authorized."""
        with self.lock:
            grant = self.grants.get(appid)
            if grant is None or not grant.authorized:
                return False
            grant.authorized = False
            grant.previous_refresh_token = None
            for token in [t for t, owner in self.access_index.items() if owner == appid]:
                del self.access_index[token]
            grant.access = TokenPair()
            for code in self.auth_codes.values():
                if code.appid == appid:
                    code.used = True
            return True

    def set_rotation(self, appid: str, enabled: bool) -> None:
        with self.lock:
            if appid not in self.accounts:
                raise WeChatError(40013, "invalid appid")
            self.rotation[appid] = enabled

    # -- authorizer calls ------------------------------------------------------------------------

    def check_access_token(self, token: str | None) -> str:
        """The appid an authorizer access token belongs to."""
        if not token:
            raise WeChatError(41001, "access_token missing")
        with self.lock:
            appid = self.access_index.get(token)
            grant = self.grants.get(appid) if appid else None
            if grant is None or not grant.authorized:
                raise WeChatError(40001, "invalid credential, access_token is invalid or not latest")
            code = grant.access.check(token, self.now())
            if code == 42001:
                raise WeChatError(42001, "access_token expired")
            if code:
                raise WeChatError(40001, "invalid credential, access_token is invalid or not latest")
            return grant.account.appid

    def record_message(self, message: JSON) -> None:
        with self.lock:
            self.messages.append(message)
            self.changed.notify_all()

    def wait_for_message(self, predicate: Callable[[JSON], bool], timeout: float) -> JSON | None:
        """Waits (on the condition, no polling) for a custom-send message matching `predicate`."""
        found: list[JSON] = []

        def match() -> bool:
            found[:] = [m for m in self.messages if predicate(m)]
            return bool(found)

        with self.changed:
            self.changed.wait_for(match, timeout=timeout)
        return found[0] if found else None

    def clear_quota(self, appid: Any, secret: Any) -> None:
        with self.lock:
            self.check_component(appid)
            if secret != self.config.component_appsecret:
                raise WeChatError(40001, "invalid credential, access_token is invalid or not latest")
            month = time.strftime("%Y-%m", time.gmtime(self.now()))
            if self.clear_quota_used.get(month, 0) >= CLEAR_QUOTA_PER_MONTH:
                raise WeChatError(48006, "forbid to clear quota because of reaching the limit")
            self.clear_quota_used[month] = self.clear_quota_used.get(month, 0) + 1
            for name in [n for n, f in self.faults.items() if f.kind == "errcode" and f.value == 45009]:
                del self.faults[name]

    # -- faults ----------------------------------------------------------------------------------

    def set_fault(self, api: str, kind: str, value: float, count: int | None) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 or null")
        if kind == "http_status" and not 200 <= value <= 599:
            raise ValueError("an http_status fault needs a status between 200 and 599")
        if kind in ("latency", "timeout") and value < 0:
            raise ValueError("seconds cannot be negative")
        with self.lock:
            fault = Fault(api, kind, value, count)
            self.faults[api] = fault
            return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, api: str) -> Fault | None:
        """The fault to apply to this call of `api` (or of every API, "*"), spending one count."""
        with self.lock:
            for name in (api, "*"):
                fault = self.faults.get(name)
                if fault is None:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self.faults[name]
                return copy.copy(fault)
            return None

    # -- logs ------------------------------------------------------------------------------------

    def record_call(self, call: JSON) -> None:
        with self.lock:
            self.counters[call["api"]] += 1
            self.calls.append(call)

    def call_log(self, api: str | None = None) -> JSON:
        with self.lock:
            calls = [c for c in self.calls if api is None or c["api"] == api]
            return {"counters": dict(self.counters), "calls": calls}

    def record_push(self, delivery: JSON) -> JSON:
        with self.lock:
            self.push_seq += 1
            delivery["id"] = self.push_seq
            self.pushes.append(delivery)
            return delivery

    def snapshot(self) -> JSON:
        with self.lock:
            now = self.now()
            cur = self.component_tokens.current
            return {
                "now": now,
                "clock_offset": self.offset,
                "component_appid": self.config.component_appid,
                "component_access_token": cur.value if cur and now < cur.expires_at else None,
                "tickets": [
                    {"ticket": t.value, "pushed_at": t.pushed_at, "expires_at": t.expires_at}
                    for t in self.tickets.values()
                ],
                "accounts": [self._account_state(a) for a in self.accounts.values()],
                "faults": [f.describe() for f in self.faults.values()],
            }

    def _account_state(self, a: MerchantAccount) -> JSON:
        grant = self.grants.get(a.appid)
        access = grant.access.current if grant else None
        return {
            "appid": a.appid,
            "user_name": a.user_name,
            "nick_name": a.nick_name,
            "kind": a.kind,
            "status": "authorized" if grant and grant.authorized else ("revoked" if grant else "never"),
            "rotation": self.rotation.get(a.appid, False),
            "refresh_token": grant.refresh_token if grant and grant.authorized else None,
            "authorizer_access_token": access.value if access else None,
            "access_expires_at": access.expires_at if access else None,
            "auth_time": grant.auth_time if grant else None,
            "func_info": grant.func_info if grant else list(a.permissions),
        }
