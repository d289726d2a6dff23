"""The sandbox's own control API (`/sandbox/...`): JSON in, JSON out."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from infra.sandbox.previous import PreviousPlatform, set_up_body
from infra.sandbox.pusher import Pusher
from infra.sandbox.release import run_release_checks, summary_lines
from infra.sandbox.state import AUTH_CODE_TTL, JSON, WeChatError, World
from infra.sandbox.state.web import OAUTH_CODE_TTL, JSSDKConfig

_ACCOUNT_SWITCH = re.compile(r"/sandbox/accounts/([^/]+)/(rotation|api-permission)")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _str(body: JSON, name: str, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise ControlError(400, f"{name!r} (a non-empty string) is required")
    return value


def _number(body: JSON, name: str, default: float | None = None) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ControlError(400, f"{name!r} (a number) is required")
    return float(value)


def _bool(body: JSON, name: str, default: bool = True) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ControlError(400, f"{name!r} must be a boolean")
    return value


def _func_info(body: JSON) -> list[int] | None:
    value = body.get("func_info")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in value)
    ):
        raise ControlError(400, "'func_info' must be a non-empty list of permission-set ids")
    return [int(i) for i in value]


class Control:
    def __init__(self, world: World, pusher: Pusher, previous: PreviousPlatform) -> None:
        self.world = world
        self.pusher = pusher
        self.previous = previous

    def handle(self, method: str, path: str, query: dict[str, str], body: JSON) -> tuple[int, Any]:
        try:
            self.previous.catch_up()  # what is read or done here sees the sweeps the clock made due
            return 200, self._route(method, path.rstrip("/") or "/", query, body)
        except ControlError as exc:
            return exc.status, {"error": exc.message}
        except WeChatError as exc:
            return 400, {"error": exc.errmsg, "errcode": exc.errcode}
        except ValueError as exc:
            return 400, {"error": str(exc)}

    def _route(self, method: str, path: str, query: dict[str, str], body: JSON) -> Any:
        """One table per verb, path to action; the rotation switch is the one path with a parameter."""
        w = self.world
        gets: dict[str, Callable[[], Any]] = {
            "/sandbox/state": w.snapshot,
            "/sandbox/calls": lambda: w.journal.call_log(query.get("api") or None),
            "/sandbox/pushes": lambda: {"pushes": w.journal.pushes()},
            "/sandbox/messages": lambda: {"messages": w.journal.messages()},
            "/sandbox/faults": lambda: {"faults": w.faults.describe()},
            "/sandbox/whitelist": lambda: {"ips": w.ip_whitelist},
            "/sandbox/release": self.release_state,
            "/sandbox/ticket-mode": lambda: {"mode": w.web.ticket_mode},
            "/sandbox/quotas": w.quotas.describe,
            "/sandbox/urls": w.console.describe,
            "/sandbox/previous-platform": self.previous.describe,
        }
        posts: dict[str, Callable[[JSON], Any]] = {
            "/sandbox/push-ticket": lambda _: self.push_ticket(),
            "/sandbox/authorize": lambda b: self.authorize(_str(b, "appid"), update=False, func_info=_func_info(b)),
            "/sandbox/update-authorization": lambda b: self.authorize(
                _str(b, "appid"), update=True, func_info=_func_info(b)
            ),
            "/sandbox/revoke": self.revoke,
            "/sandbox/send-message": self.send_message,
            "/sandbox/send-event": self.send_event,
            "/sandbox/release": self.set_release,
            "/sandbox/test-accounts": self.set_test_accounts,
            "/sandbox/ticket-mode": lambda b: {"mode": w.web.set_ticket_mode(b.get("mode"))},
            "/sandbox/oauth-refusal": self.oauth_refusal,
            "/sandbox/release-checks": self.release_checks,
            "/sandbox/faults": self.set_fault,
            "/sandbox/clock": lambda b: {"now": w.clock.advance(_number(b, "advance"))},
            "/sandbox/whitelist": lambda b: {"ips": w.set_ip_whitelist(b.get("ips"))},
            "/sandbox/reset": lambda _: self.reset(),
            "/sandbox/oauth-code": self.oauth_code,
            "/sandbox/jsapi-verify": self.jsapi_verify,
            "/sandbox/urls": lambda b: w.console.set(b.get("component_events_url"), b.get("account_messages_url")),
            "/sandbox/previous-platform": lambda b: self.previous.set_up(*set_up_body(b)),
            "/sandbox/previous-platform/stop": lambda _: self.previous.stop(),
            "/sandbox/previous-platform/start": lambda _: self.previous.start(),
        }
        if method == "GET":
            if path not in gets:
                raise ControlError(404, f"no such control path: GET {path}")
            return gets[path]()
        if method == "DELETE" and path == "/sandbox/faults":
            w.faults.clear()
            return {"faults": []}
        if method != "POST":
            raise ControlError(405, f"{method} is not allowed on {path}")
        if path in posts:
            return posts[path](body)
        match = _ACCOUNT_SWITCH.fullmatch(path)
        if match and match.group(2) == "rotation":
            return self.set_rotation(match.group(1), body)
        if match:
            return self.set_api_permission(match.group(1), body)
        raise ControlError(404, f"no such control path: POST {path}")

    def push_ticket(self) -> JSON:
        ticket, delivery = self.pusher.push_ticket()
        return {"ticket": ticket.value, "expires_at": ticket.expires_at, "delivery": delivery}

    def revoke(self, body: JSON) -> JSON:
        appid = _str(body, "appid")
        if not self.world.merchants.revoke(appid):
            raise ControlError(409, f"{appid} is not authorized")
        return {"authorizer_appid": appid, "delivery": self.pusher.push_unauthorized(appid)}

    def release_checks(self, body: JSON) -> JSON:
        wait = _number(body, "wait", self.world.config.release_wait)
        appid = _str(body, "appid", required=False) or None
        result = run_release_checks(self.world, self.pusher, appid=appid, wait=wait)
        report = self.world.config.report
        if report is not None:
            for line in summary_lines(result):
                report(f"sandbox: {line}")
        return result

    def set_fault(self, body: JSON) -> JSON:
        count = body.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ControlError(400, "'count' must be an integer or null")
        fault = self.world.faults.set(_str(body, "api"), _str(body, "kind"), _number(body, "value", 0), count)
        return {"fault": fault.describe()}

    def reset(self) -> JSON:
        self.world.reset()
        self.previous.reset()
        return {"reset": True, "state": self.world.snapshot()}

    def set_rotation(self, appid: str, body: JSON) -> JSON:
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ControlError(400, "'enabled' must be a boolean")
        if self.world.merchants.account(appid) is None:
            raise ControlError(404, f"{appid} is not a sandbox account")
        self.world.merchants.set_rotation(appid, enabled)
        return {"appid": appid, "rotation": enabled}

    def authorize(self, appid: str, *, update: bool, func_info: list[int] | None = None) -> JSON:
        """Authorizes without a browser, as the admin's confirmation does: a grant, an
        authorization code, and WeChat's push for it: `authorized` for a new grant,
        `updateauthorized` when `func_info` changes the permission set, nothing when it does not
        (`event` and `delivery` are then null: the code would reach us by the redirect alone).
        `update` (update-authorization) requires a live grant. Before the release, an account off
        the test list is refused (409)."""
        merchants = self.world.merchants
        if merchants.account(appid) is None:
            raise ControlError(404, f"{appid} is not a sandbox account")
        if update and not merchants.is_authorized(appid):
            raise ControlError(409, f"{appid} is not authorized")
        if not merchants.may_authorize(appid):
            raise ControlError(409, f"{appid} is not on the test list and the platform is not released")
        result = merchants.confirm(appid, func_info)
        code = result.code
        delivery = None
        if result.event is not None:
            delivery = self.pusher.push_authorized(appid, code.value, code.expires_at, "", result.event)
        return {
            "auth_code": code.value,
            "authorizer_appid": appid,
            "expires_in": AUTH_CODE_TTL,
            "event": result.event,
            "delivery": delivery,
        }

    def release_state(self) -> JSON:
        return {"released": self.world.merchants.released, "test_accounts": self.world.merchants.test_accounts()}

    def set_release(self, body: JSON) -> JSON:
        """`{"released": bool}`: whether the platform passed its full-network release."""
        self.world.merchants.set_released(_bool(body, "released"))
        return self.release_state()

    def set_test_accounts(self, body: JSON) -> JSON:
        """`{"appids": [...]}`: the platform's test list (null: every sandbox account)."""
        appids = body.get("appids")
        if appids is not None and (not isinstance(appids, list) or not all(isinstance(a, str) for a in appids)):
            raise ControlError(400, "'appids' must be a list of appids, or null for every account")
        self.world.merchants.set_test_accounts(appids)
        return self.release_state()

    def set_api_permission(self, appid: str, body: JSON) -> JSON:
        """Whether the account has API permission when it next authorizes."""
        enabled = _bool(body, "enabled")
        if self.world.merchants.account(appid) is None:
            raise ControlError(404, f"{appid} is not a sandbox account")
        self.world.merchants.set_api_permission(appid, enabled)
        return {"appid": appid, "api_permission": enabled}

    def send_message(self, body: JSON) -> JSON:
        appid = _str(body, "appid")
        account = self.world.merchants.account(appid)
        if account is None:
            raise ControlError(404, f"{appid} is not a sandbox account")
        openid = _str(body, "openid", required=False) or self.world.random.openid()
        content = _str(body, "content")
        return self.pusher.text_message(appid, account.user_name, openid, content)

    def send_event(self, body: JSON) -> JSON:
        """A user's event (`event`: CLICK, VIEW, subscribe, SCAN open the 1-minute allowance of 3
        customer-service messages; others, like LOCATION, open none), optional `event_key`."""
        appid = _str(body, "appid")
        account = self.world.merchants.account(appid)
        if account is None:
            raise ControlError(404, f"{appid} is not a sandbox account")
        openid = _str(body, "openid", required=False) or self.world.random.openid()
        event = _str(body, "event")
        key = _str(body, "event_key", required=False)
        return self.pusher.event_message(appid, account.user_name, openid, event, key)

    def oauth_refusal(self, body: JSON) -> JSON:
        """Where the browser goes when the user declines web login: `redirect_uri?state=STATE`."""
        appid = _str(body, "appid")
        account = self.world.merchants.account(appid)
        if account is None or not account.is_official_account:
            raise ControlError(404, f"{appid} is not a sandbox Official Account")
        redirect_uri = _str(body, "redirect_uri")
        state = _str(body, "state", required=False)
        separator = "&" if urllib.parse.urlsplit(redirect_uri).query else "?"
        return {"location": redirect_uri + separator + urllib.parse.urlencode({"state": state})}

    def oauth_code(self, body: JSON) -> JSON:
        """A web-login code as if the user went through the page (no browser): `appid`, optional
        `scope` (snsapi_base) and `user` (the first seeded user)."""
        appid = _str(body, "appid")
        account = self.world.merchants.account(appid)
        if account is None or not account.is_official_account:
            raise ControlError(404, f"{appid} is not a sandbox Official Account")
        if not self.world.merchants.is_authorized(appid):
            raise ControlError(409, f"{appid} has not authorized the component")
        scope = _str(body, "scope", required=False) or "snsapi_base"
        user = _str(body, "user", required=False) or self.world.web.users()[0].user_id
        code = self.world.web.new_code(appid, user, scope)  # ValueError: a 400 naming the bad value
        return {
            "code": code.value,
            "appid": appid,
            "scope": scope,
            "user": user,
            "openid": self.world.web.openid(appid, user),
            "expires_in": OAUTH_CODE_TTL,
        }

    def jsapi_verify(self, body: JSON) -> JSON:
        """The JS-SDK's config check: `url`, `nonceStr`, `timestamp`, `signature`, and `appId` (the
        page's, as `wx.config` sends it) or `ticket` (a bare signature check) → `valid`, `errMsg`."""
        timestamp = body.get("timestamp")
        if isinstance(timestamp, int) and not isinstance(timestamp, bool):
            timestamp = str(timestamp)
        if not isinstance(timestamp, str) or not timestamp:
            raise ControlError(400, "'timestamp' (a string or a whole number) is required")
        fields = JSSDKConfig(
            _str(body, "nonceStr"),
            timestamp,
            _str(body, "url").split("#", 1)[0],  # the JS-SDK signs the page's URL without its fragment
            _str(body, "signature"),
        )
        appid = _str(body, "appId", required=False) or None
        ticket = _str(body, "ticket", required=False) or None
        if (appid is None) == (ticket is None):
            raise ControlError(400, "give either 'appId' (as wx.config does) or 'ticket'")
        if appid is not None and self.world.merchants.account(appid) is None:
            return {"valid": False, "errMsg": "config:invalid appId"}
        return self.world.web.check_config(appid, ticket, fields, self.world.config.web_origin)
