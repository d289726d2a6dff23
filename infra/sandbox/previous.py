"""The previous platform: the system a vendor ran before moving its platform here, on the same
component (docs/deploy.md, "Moving a live platform here"; docs/sandbox.md, "The previous platform").

Once set up (`POST /sandbox/previous-platform`) it is what the move starts from:
- WeChat's console URLs point at it (`world.console`), so tickets, authorization events and users'
  messages go to its receiver on the sandbox itself, which decrypts them as a platform does: it keeps
  the newest ticket, exchanges the codes of new authorizations itself and forgets revoked accounts;
- it holds grants whose codes it exchanged, each with its refresh token and the access token it
  hands out (for some, WeChat's list shows no refresh token: `hidden`; others authorized and were
  never exchanged by anyone: `unexchanged`);
- it refreshes on its own schedule, by the sandbox's clock: every `interval` seconds a sweep calls
  `api_component_token` and `api_authorizer_token` for every grant, superseding whatever token was
  current (the previous one lives 5 more minutes), until it is stopped (`…/stop`); `…/start` takes
  it up again (going back), with a sweep at once.

Its calls go through the sandbox's own API handling (`Sandbox.call_api`: faults, whitelist, the call
log) in process. A sweep falls due by the sandbox's clock and is made before the next API call or
control request is handled (`catch_up`): whatever observes WeChat after the clock passed a sweep's
time sees that sweep done, with no thread and no wait. The sandbox's clock may jump hours: a late
sweep is made once, and the next is due an interval after it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from infra.sandbox.envelope import parse_xml_fields
from infra.sandbox.pusher import Pusher
from infra.sandbox.state import JSON, WeChatError, World
from wxcomponent.domain.crypto import MessageCrypto

PATH = "/sandbox/previous-platform"
EVENTS_PATH = PATH + "/events"  # its authorization-event URL
MESSAGES_PREFIX = PATH + "/accounts/"  # its message URL: …/accounts/{appid}/messages
DEFAULT_INTERVAL = 3600.0  # WeChat's guide: a central token service refreshes hourly
ERROR_LIMIT = 200
TOKEN_REJECTED = (40001, 42001, 40014)  # its component token was superseded (by ours) or expired

CallApi = Callable[[str, dict[str, str], bytes, str], tuple[int, bytes | None]]


class PreviousPlatform:
    """Another platform's grants, tokens and refresher on the sandbox's component."""

    def __init__(self, world: World, pusher: Pusher, call_api: CallApi, address: str = "127.0.0.1") -> None:
        self.world = world
        self.pusher = pusher
        self._call_api = call_api
        self.address = address  # the address its calls come from (on the IP whitelist, if one is set)
        config = world.config
        self._crypto = MessageCrypto(config.component_token, [config.component_aes_key], config.component_appid)
        self._lock = threading.RLock()  # a sweep's own calls catch up too: the same thread re-enters
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._set_up = False
            self._ticket: str | None = None
            self._component_token: str | None = None
            self._grants: dict[str, str] = {}  # appid -> refresh token
            self._tokens: dict[str, str] = {}  # appid -> the access token it hands out
            self._interval = DEFAULT_INTERVAL
            self._next_sweep: float | None = None  # None: its refresher is stopped
            self._sweeping = False
            self._sweeps = 0
            self._calls: Counter[str] = Counter()
            self._errors: list[JSON] = []

    # -- the control API -------------------------------------------------------------------------

    def set_up(self, accounts: list[str], hidden: list[str], unexchanged: list[str], interval: float) -> JSON:
        """Live on the component: the console URLs point at it; a ticket is pushed to it; each of
        `accounts` authorizes it and it exchanges the code (`hidden`: WeChat then shows their refresh
        tokens nowhere); each of `unexchanged` authorizes it and nobody exchanges the code; then its
        refresher runs every `interval` seconds of sandbox time. ValueError for an unknown account."""
        merchants = self.world.merchants
        unknown = [a for a in [*accounts, *hidden, *unexchanged] if merchants.account(a) is None]
        if unknown:
            raise ValueError(f"not sandbox accounts: {', '.join(sorted(set(unknown)))}")
        if not set(hidden) <= set(accounts) or set(accounts) & set(unexchanged):
            raise ValueError("'hidden' must be among 'accounts', and 'unexchanged' apart from them")
        if interval <= 0:
            raise ValueError("'interval' must be a positive number of seconds")
        base = self.world.base_url
        self.world.console.set(base + EVENTS_PATH, base + MESSAGES_PREFIX + "{appid}/messages")
        with self._lock:
            self.reset()
            self._set_up = True
            self._interval = interval
        _, delivery = self.pusher.push_ticket()  # to its receiver, as WeChat pushes it
        if not delivery["ok"] or not self._refresh_component():
            raise WeChatError(-1, "the previous platform could not get a ticket and a component token")
        for appid in accounts:
            self._exchange(merchants.release_test_code(appid).value)
        for appid in hidden:
            merchants.hide_refresh_token(appid)
        for appid in unexchanged:
            merchants.release_test_code(appid)  # authorized; the code is lost on the way
        with self._lock:
            self._next_sweep = self.world.clock.now() + interval
        return self.describe()

    def stop(self) -> JSON:
        """Its refresher stops: no more token calls (it keeps its grants and the tokens it has)."""
        with self._lock:
            self._next_sweep = None
        return self.describe()

    def start(self) -> JSON:
        """Its refresher again (going back): a sweep now, then one every interval."""
        with self._lock:
            if not self._set_up:
                raise ValueError("the previous platform is not set up")
            self._next_sweep = self.world.clock.now()
        self.catch_up()
        return self.describe()

    def describe(self) -> JSON:
        """What it holds and does; its tokens on purpose (a sandbox on loopback). `refresh_tokens`
        is the file it would hand over: appid → refresh token."""
        with self._lock:
            return {
                "set_up": self._set_up,
                "refreshing": self._next_sweep is not None,
                "interval": self._interval,
                "next_sweep": self._next_sweep,
                "sweeps": self._sweeps,
                "receiving": self.world.console.component_events_url.endswith(EVENTS_PATH),
                "has_ticket": self._ticket is not None,
                "component_access_token": self._component_token,
                "refresh_tokens": dict(sorted(self._grants.items())),
                "authorizer_access_tokens": dict(sorted(self._tokens.items())),
                "calls": dict(self._calls),
                "errors": list(self._errors),
            }

    # -- its schedule ----------------------------------------------------------------------------

    def catch_up(self) -> None:
        """Makes the sweep the sandbox's clock has made due, if any (see the module's docstring)."""
        with self._lock:
            if self._sweeping or self._next_sweep is None or self.world.clock.now() < self._next_sweep:
                return
            self._sweeping = True
            try:
                self._sweep()
            finally:
                self._sweeping = False
                if self._next_sweep is not None:
                    self._next_sweep = self.world.clock.now() + self._interval

    def _sweep(self) -> None:
        self._sweeps += 1
        self._refresh_component()
        for appid in list(self._grants):
            self._refresh_authorizer(appid)

    def _refresh_component(self) -> bool:
        config = self.world.config
        body = {
            "component_appid": config.component_appid,
            "component_appsecret": config.component_appsecret,
            "component_verify_ticket": self._ticket or "",
        }
        answer = self._call("api_component_token", {}, body)
        token = answer.get("component_access_token")
        if not isinstance(token, str):
            return False
        with self._lock:
            self._component_token = token
        return True

    def _refresh_authorizer(self, appid: str) -> None:
        config = self.world.config
        body = {
            "component_appid": config.component_appid,
            "authorizer_appid": appid,
            "authorizer_refresh_token": self._grants.get(appid, ""),
        }
        answer = self._component_call("api_authorizer_token", body, appid)
        errcode = answer.get("errcode") or 0
        with self._lock:
            if errcode == 61003:  # the merchant revoked it
                self._grants.pop(appid, None)
                self._tokens.pop(appid, None)
            elif not errcode:
                self._tokens[appid] = str(answer.get("authorizer_access_token", ""))
                self._grants[appid] = str(answer.get("authorizer_refresh_token") or self._grants[appid])

    def _exchange(self, code: str) -> None:
        """api_query_auth on a code, as its callback page or its push handler does."""
        body = {"component_appid": self.world.config.component_appid, "authorization_code": code}
        answer = self._component_call("api_query_auth", body)
        info = answer.get("authorization_info")
        if not isinstance(info, dict) or not isinstance(info.get("authorizer_appid"), str):
            return
        with self._lock:
            appid = info["authorizer_appid"]
            if info.get("authorizer_refresh_token"):
                self._grants[appid] = str(info["authorizer_refresh_token"])
                self._tokens[appid] = str(info.get("authorizer_access_token", ""))

    def _component_call(self, api: str, body: JSON, appid: str = "") -> JSON:
        """A component API with its component token; refused as superseded (another platform took
        one) or expired, it takes a new one and calls once more, as any SDK does."""
        answer = self._call(api, self._component_query(), body, appid)
        if answer.get("errcode") in TOKEN_REJECTED and self._refresh_component():
            answer = self._call(api, self._component_query(), body, appid)
        return answer

    def _component_query(self) -> dict[str, str]:
        with self._lock:
            return {"component_access_token": self._component_token or ""}

    def _call(self, api: str, query: dict[str, str], body: JSON, appid: str = "") -> JSON:
        status, payload = self._call_api(api, query, json.dumps(body).encode(), self.address)
        try:
            parsed: Any = json.loads(payload or b"") if status == 200 else {}
        except ValueError:
            parsed = {}
        answer: JSON = parsed if isinstance(parsed, dict) else {}
        errcode = answer.get("errcode") if answer else -1
        with self._lock:
            self._calls[api] += 1
            if errcode:
                error = {"time": self.world.clock.now(), "api": api, "appid": appid or None, "errcode": errcode}
                self._errors = [*self._errors, error][-ERROR_LIMIT:]
        return answer if answer else {"errcode": -1}

    # -- its receiver: where WeChat's console URLs point while it is the platform ----------------

    def receive_event(self, raw: bytes) -> bytes:
        """A push to its authorization-event URL, decrypted as a platform does (not signature-checked:
        only the sandbox sends here). ValueError for what is not a push of this component."""
        fields = self._open(raw)
        info_type = fields.get("InfoType", "")
        if info_type == "component_verify_ticket":
            with self._lock:
                self._ticket = fields.get("ComponentVerifyTicket") or self._ticket
        elif info_type in ("authorized", "updateauthorized") and fields.get("AuthorizationCode"):
            self._exchange(fields["AuthorizationCode"])
        elif info_type == "unauthorized":
            with self._lock:
                self._grants.pop(fields.get("AuthorizerAppid", ""), None)
                self._tokens.pop(fields.get("AuthorizerAppid", ""), None)
        return b"success"

    def _open(self, raw: bytes) -> dict[str, str]:
        envelope = parse_xml_fields(raw)
        if envelope.get("AppId") != self.world.config.component_appid or not envelope.get("Encrypt"):
            raise ValueError("not a push of this component")
        return parse_xml_fields(self._crypto.decrypt(envelope["Encrypt"]).message)


def is_receiver_path(path: str) -> bool:
    """Its authorization-event URL or one of its message URLs (answered `success`: its messages are
    not played)."""
    return path == EVENTS_PATH or (path.startswith(MESSAGES_PREFIX) and path.endswith("/messages"))


def set_up_body(body: JSON) -> tuple[list[str], list[str], list[str], float]:
    """`POST /sandbox/previous-platform`'s body: `accounts`, optional `hidden`, `unexchanged`, `interval`."""

    def appids(name: str, *, required: bool = False) -> list[str]:
        value: Any = body.get(name, None if required else [])
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value) or (required and not value):
            raise ValueError(f"{name!r} must be a list of sandbox appids" + (", not empty" if required else ""))
        return list(value)

    interval = body.get("interval", DEFAULT_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)):
        raise ValueError("'interval' must be a number of seconds")
    return appids("accounts", required=True), appids("hidden"), appids("unexchanged"), float(interval)
