"""The sandbox's HTTP server: routing, fault injection, and the ticket-pushing thread."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from infra.sandbox import pages
from infra.sandbox.api import API_PATHS, GET_API_PATHS, WeChatApi
from infra.sandbox.config import SandboxConfig
from infra.sandbox.control import Control
from infra.sandbox.previous import PreviousPlatform, is_receiver_path
from infra.sandbox.pusher import Pusher
from infra.sandbox.release import summary_lines
from infra.sandbox.state import AUTH_CODE_TTL, JSON, World
from infra.sandbox.state.errors import WeChatError
from infra.sandbox.state.web import domain

PAGE_PATHS = ("/cgi-bin/componentloginpage", "/wxaopen/safe/bindcomponent", "/safe/bindcomponent")
MOBILE_PAGE_PATHS = PAGE_PATHS[1:]
CONFIRM_PATH = "/sandbox/authorize-confirm"
OAUTH_PAGE_PATH = "/connect/oauth2/authorize"
OAUTH_CONFIRM_PATH = "/sandbox/oauth-confirm"
OAUTH_DENY_PATH = "/sandbox/oauth-deny"
JSSDK_PATH = "/open/js/jweixin-1.6.0.js"  # WeChat's is on res.wx.qq.com
JSSDK_VERIFY_PATH = "/sandbox/jsapi-verify"
RELEASE_CHECKS_PATH = "/sandbox/release-checks"  # `?format=text`: the summary a person reads
DEFAULT_TIMEOUT_FAULT = 30.0
# The listeners: WeChat's main API host, and its disaster-recovery host (config.dr_port), either of
# which `POST /sandbox/listeners` takes down (its port refuses connections) and brings back.
MAIN, DR = "main", "dr"
LISTENERS_PATH = "/sandbox/listeners"


NOT_RELEASED_ZH = "该第三方平台尚未全网发布，此账号不在其授权测试公众号/小程序列表中，无法授权。"  # noqa: RUF001
NOT_RELEASED_EN = (
    "This third-party platform is not released yet, and this account is not on its list of test "
    "accounts: it cannot authorize."
)
_PRE_AUTH_CODE_LINES = [
    "预授权码无效或已过期，请重新发起授权。",  # noqa: RUF001
    "The pre_auth_code is invalid, used or expired.",
]


def with_query(url: str, fields: dict[str, str], safe: str = "") -> str:
    """`url` with `fields` appended to its query (`?`, or `&` when it has one)."""
    separator = "&" if urllib.parse.urlsplit(url).query else "?"
    return url + separator + urllib.parse.urlencode(fields, safe=safe)


class Sandbox:
    """WeChat on loopback. `start()` binds and serves in daemon threads; `stop()` ends both."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.world = World(self.config)
        self.pusher = Pusher(self.world)
        self.api = WeChatApi(self.world, self.pusher)
        self.previous = PreviousPlatform(self.world, self.pusher, self.call_api)
        self.control = Control(self.world, self.pusher, self.previous)
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._dr: ThreadingHTTPServer | None = None
        self._down: set[str] = set()  # listeners taken down on purpose (not a death: see join)
        # The servers those were, until their threads have ended: a thread slow to end must not
        # take a listener brought back up in the meantime for one that died (by server, not name).
        self._shut: set[ThreadingHTTPServer] = set()
        self._listener_lock = threading.Lock()
        self._ended = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def dr_url(self) -> str:
        """The disaster-recovery listener's URL (config.dr_port), up or down."""
        if self._dr is None:
            raise RuntimeError("the sandbox has no disaster-recovery listener (config.dr_port)")
        host, port = self._dr.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Sandbox:
        if self._server is not None:
            raise RuntimeError("already started")
        self.world.stopping.clear()
        self._ended.clear()
        server = ThreadingHTTPServer((self.config.host, self.config.port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self.world.base_url = self.url
        if self.config.dr_port is not None:
            self._dr = self._listen(DR, (self.config.host, self.config.dr_port))
        serving = threading.Thread(target=self._serve, args=(MAIN, server), name="sandbox-http", daemon=True)
        ticker = threading.Thread(target=self._push_tickets, name="sandbox-tickets", daemon=True)
        self._threads = [serving, ticker]
        serving.start()
        ticker.start()
        return self

    def stop(self) -> None:
        self.world.stopping.set()
        server, self._server = self._server, None
        with self._listener_lock:
            dr, self._dr = self._dr, None
            down, self._down = self._down, set()
        for name, listener in ((MAIN, server), (DR, dr)):
            if listener is not None and name not in down:
                listener.shutdown()
                listener.server_close()
        self._ended.set()
        for thread in self._threads:
            thread.join(timeout=1.0)  # both are daemons; a push in flight gives up at its next attempt
        self._threads = []

    def join(self, timeout: float | None = None) -> None:
        """Returns once the sandbox stops serving: after `stop()`, or when its server thread died."""
        if self._threads:
            self._ended.wait(timeout)

    # -- the listeners: WeChat's main and disaster-recovery hosts ------------------------------------

    def _serve(self, name: str, server: ThreadingHTTPServer) -> None:
        """Serves until shut down; a listener that ends otherwise (it died) ends the sandbox's join."""
        try:
            server.serve_forever(poll_interval=0.05)
        finally:
            with self._listener_lock:
                deliberate = server in self._shut
                self._shut.discard(server)
            if not deliberate:
                self._ended.set()

    def _listen(self, name: str, address: tuple[str, int]) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(address, _make_handler(self))
        server.daemon_threads = True
        threading.Thread(target=self._serve, args=(name, server), name=f"sandbox-http-{name}", daemon=True).start()
        return server

    def listener_of(self, server: object) -> str:
        return DR if server is not None and server is self._dr else MAIN

    def listeners(self) -> JSON:
        with self._listener_lock:
            down = set(self._down)
        shown = {MAIN: {"url": self.url, "up": MAIN not in down}}
        if self._dr is not None:
            shown[DR] = {"url": self.dr_url, "up": DR not in down}
        return shown

    def set_listener(self, name: str, up: bool) -> JSON:
        """Takes a listener down (its port then refuses connections, as an unreachable host does)
        or brings it back on the same port."""
        with self._listener_lock:
            current = self._server if name == MAIN else self._dr
            if current is None or name not in (MAIN, DR):
                raise ValueError(f"no listener {name!r}")
            if not up and name not in self._down:
                self._down.add(name)
                self._shut.add(current)
                current.shutdown()
                current.server_close()
            elif up and name in self._down:
                self._down.discard(name)
                host, port = current.server_address[:2]
                server = self._listen(name, (str(host), int(port)))
                if name == MAIN:
                    self._server = server
                else:
                    self._dr = server
        return self.listeners()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _push_tickets(self) -> None:
        """A ticket on start, then one every ticket_interval seconds; waits on the stop event."""
        if self.config.push_ticket_on_start:
            self.pusher.push_ticket()
        interval = self.config.ticket_interval
        if not interval:
            return
        while not self.world.stopping.wait(interval):
            self.pusher.push_ticket()

    # -- the authorization pages -----------------------------------------------------------------

    def authorization_page(self, path: str, query: dict[str, str], referer: str | None) -> str:
        """The page, or WeChat's error page, for GET componentloginpage / bindcomponent."""
        start = domain(self.config.start_domain)
        if not referer or domain(referer) != start:
            return pages.referer_error_page(referer)
        component_appid = query.get("component_appid", "")
        if component_appid != self.config.component_appid:
            return pages.error_page(
                f"component_appid: {component_appid or '(none)'}",
                ["第三方平台 appid 无效。", "The component_appid is invalid."],
                kind="component_appid",
            )
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri:
            return pages.error_page(
                "redirect_uri is missing",
                ["缺少 redirect_uri 参数。", "The redirect_uri parameter is missing."],
                kind="redirect_uri",
            )
        if domain(redirect_uri) != start:
            return pages.referer_error_page(referer)
        pre_auth_code = query.get("pre_auth_code", "")
        problem = self.world.component.pre_auth_code_problem(pre_auth_code)
        if problem:
            return pages.error_page(problem, _PRE_AUTH_CODE_LINES, kind="pre_auth_code")
        try:
            auth_type = int(query.get("auth_type") or "3")
        except ValueError:
            auth_type = 3
        accounts = pages.accounts_for(self.world.merchants.accounts(), auth_type, query.get("biz_appid") or None)
        return pages.authorization_page(
            accounts,
            component_appid=component_appid,
            pre_auth_code=pre_auth_code,
            redirect_uri=redirect_uri,
            auth_type=auth_type,
            category_id_list=query.get("category_id_list", ""),
            mobile=path in MOBILE_PAGE_PATHS,
        )

    def confirm(self, form: dict[str, str], func_info: list[str] | None = None) -> tuple[str | None, str | None]:
        """The admin clicked authorize with the permission sets they left ticked (`func_info`; none
        given: the account's defaults): (redirect location, None) or (None, error page)."""
        redirect_uri = form.get("redirect_uri", "")
        appid = form.get("appid", "")
        if not redirect_uri or domain(redirect_uri) != domain(self.config.start_domain):
            return None, pages.referer_error_page(None)
        if self.world.merchants.account(appid) is None:
            page = pages.error_page(f"appid: {appid}", ["账号不存在。", "No such account."], kind="appid")
            return None, page
        permissions = [int(i) for i in func_info or [] if i.isascii() and i.isdigit()]
        if form.get("permissions_shown") and not permissions:
            lines = ["请至少选择一个权限集。", "Choose at least one permission set."]
            return None, pages.error_page(f"appid: {appid}", lines, kind="func_info")
        if not self.world.merchants.may_authorize(appid):
            lines = [NOT_RELEASED_ZH, NOT_RELEASED_EN]
            return None, pages.error_page(f"appid: {appid}", lines, kind="not_released")
        pre_auth_code = form.get("pre_auth_code", "")
        problem = self.world.component.consume_pre_auth_code(pre_auth_code)
        if problem:
            return None, pages.error_page(problem, _PRE_AUTH_CODE_LINES, kind="pre_auth_code")
        result = self.world.merchants.confirm(appid, permissions or None)
        code = result.code
        if result.event is not None:  # an unchanged permission set: the redirect alone brings the code
            threading.Thread(
                target=self.pusher.push_authorized,
                args=(appid, code.value, code.expires_at, pre_auth_code, result.event),
                name="sandbox-authorized-push",
                daemon=True,
            ).start()
        # WeChat leaves the @@@ raw.
        return with_query(redirect_uri, {"auth_code": code.value, "expires_in": str(AUTH_CODE_TTL)}, safe="@"), None

    # -- web login on an authorized account's behalf ---------------------------------------------

    def oauth_page(self, query: dict[str, str]) -> str:
        """GET /connect/oauth2/authorize: the page where a seeded user lets the account know who
        they are, or WeChat's error page (HTTP 200) with its web-authorization errcode."""
        problem = self._oauth_problem(query)
        if problem is not None:
            return problem
        account = self.world.merchants.account(query["appid"])
        assert account is not None  # _oauth_problem refuses unknown accounts
        scope = query["scope"]
        users = [(user, self.world.web.openid(account.appid, user.user_id)) for user in self.world.web.users()]
        return pages.oauth_page(account, users, query["redirect_uri"], scope, query.get("state", ""))

    def oauth_confirm(self, form: dict[str, str]) -> tuple[str | None, str | None]:
        """The user confirmed: (the redirect back with `code`, `state` and `appid`, None) or (None, error page)."""
        problem = self._oauth_problem({**form, "response_type": "code", "component_appid": self.config.component_appid})
        if problem is not None:
            return None, problem
        user = form.get("user", "")
        if self.world.web.user(user) is None:
            return None, pages.error_page(f"user: {user}", ["没有这个用户。", "No such user."], kind="user")
        code = self.world.web.new_code(form["appid"], user, form["scope"])
        back = {"code": code.value, "state": form.get("state", ""), "appid": form["appid"]}
        return with_query(form["redirect_uri"], back), None

    def oauth_deny(self, form: dict[str, str]) -> tuple[str | None, str | None]:
        """The user declined: back to `redirect_uri?state=STATE`, with no code (WeChat's refusal)."""
        problem = self._oauth_problem({**form, "response_type": "code", "component_appid": self.config.component_appid})
        if problem is not None:
            return None, problem
        return with_query(form["redirect_uri"], {"state": form.get("state", "")}), None

    def _oauth_problem(self, query: dict[str, str]) -> str | None:
        """WeChat's checks of a web-login link, in WeChat's errcodes; None when it may go on."""
        appid = query.get("appid", "")
        account = self.world.merchants.account(appid) if appid else None
        redirect_uri = query.get("redirect_uri", "")
        scope = query.get("scope", "")
        checks: list[tuple[bool, str, str, str]] = [
            (not appid, "10012", "appid 不能为空。", "The appid is missing."),
            (
                account is None or not account.is_official_account,
                "10016",
                "不支持此 appid，请使用公众号的 appid。",  # noqa: RUF001
                "Not an Official Account's appid.",
            ),
            (not redirect_uri, "10011", "redirect_uri 不能为空。", "The redirect_uri is missing."),
            (not scope, "10010", "scope 不能为空。", "The scope is missing."),
            (
                scope not in ("snsapi_base", "snsapi_userinfo"),
                "10005",
                "此公众号并没有这些 scope 的权限。",
                "No such scope.",
            ),
            (
                query.get("response_type") != "code",
                "response_type",
                "response_type 必须为 code。",
                "response_type must be code.",
            ),
            (
                query.get("component_appid") != self.config.component_appid,
                "component_appid",
                "第三方平台 appid 无效。",
                "The component_appid is invalid.",
            ),
            (
                not self.world.merchants.is_authorized(appid),
                "10015",
                "公众号未授权第三方平台，请检查授权状态。",  # noqa: RUF001
                "The Official Account has not authorized this third-party platform.",
            ),
            (
                domain(redirect_uri) != domain(self.config.web_origin),
                "10003",
                "redirect_uri 域名与后台配置不一致。",
                "The redirect_uri is not on the platform's page domain.",
            ),
        ]
        for failed, kind, chinese, english in checks:
            if failed:
                return pages.error_page(f"{kind}: {appid or '(no appid)'}", [chinese, english], kind=kind)
        return None

    # -- the API paths ---------------------------------------------------------------------------

    def call_api(
        self, name: str, query: dict[str, str], raw: bytes, client_ip: str = "127.0.0.1", listener: str = MAIN
    ) -> tuple[int, bytes | None]:
        """Applies any fault, answers, records the call (and an error's rid: api.answered), with the
        listener it came in on. (status, None) means: close unanswered."""
        self.previous.catch_up()  # a sweep the clock made due is done before WeChat answers anyone
        started = self.world.clock.now()
        if not self.world.whitelisted(client_ip):
            return self._not_whitelisted(name, query, raw, client_ip, started)
        fault = self.world.faults.take(name)
        body: JSON = {}
        answer: JSON
        status = 200
        payload: bytes | None
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            if not isinstance(parsed, dict):
                raise ValueError("not an object")
            body = parsed
        except (ValueError, UnicodeDecodeError):
            body = {"_raw": raw[:1024].decode("utf-8", "replace")}
            answer = {"errcode": 47001, "errmsg": "data format error"}
        else:
            answer = {}
        if fault is not None and fault.kind == "latency":
            self.world.stopping.wait(fault.value)
        if fault is not None and fault.kind == "timeout":
            # Counted on arrival, as WeChat would have received it: a client that gave up and
            # retried sees both calls counted without waiting for this one to close.
            self.world.journal.record_call(
                {
                    "api": name,
                    "query": query,
                    "body": body,
                    "errcode": None,
                    "http_status": None,
                    "fault": fault.describe(),
                    "time": started,
                    "listener": listener,
                }
            )
            self.world.stopping.wait(fault.value or DEFAULT_TIMEOUT_FAULT)
            return status, None
        if fault is not None and fault.kind == "http_status":
            status = int(fault.value)
            answer = {"errcode": None, "errmsg": f"fault: http {status}"}
            payload = f"<html><body>{status} sandbox fault</body></html>".encode()
        elif fault is not None and fault.kind == "errcode":
            answer = {"errcode": int(fault.value), "errmsg": "fault injected by the sandbox"}
            payload = self.api.answered(name, query, raw, answer, client_ip, started)
        else:
            if not answer:
                answer = self.api.handle(name, query, body)
            payload = self.api.answered(name, query, raw, answer, client_ip, started)
        self.world.journal.record_call(
            {
                "api": name,
                "query": query,
                "body": body,
                "errcode": answer.get("errcode", 0),
                "http_status": status if payload is not None else None,
                "fault": fault.describe() if fault else None,
                "time": started,
                "listener": listener,
            }
        )
        return status, payload

    def _not_whitelisted(
        self, name: str, query: dict[str, str], raw: bytes, client_ip: str, started: float
    ) -> tuple[int, bytes]:
        """61004, before anything else is looked at (WeChat checks the address first)."""
        answer = WeChatError(61004, f"access clientip is not registered requestIP: {client_ip}").answer()
        payload = self.api.answered(name, query, raw, answer, client_ip, started)
        self.world.journal.record_call(
            {
                "api": name,
                "query": query,
                "body": {"_raw": raw[:1024].decode("utf-8", "replace")},
                "errcode": 61004,
                "http_status": 200,
                "fault": None,
                "time": started,
            }
        )
        return 200, payload


def _make_handler(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.sandbox = sandbox
    return Handler


class _Handler(BaseHTTPRequestHandler):
    sandbox: Sandbox
    server_version = "WeChatSandbox/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    # -- helpers ---------------------------------------------------------------------------------

    def _split(self) -> tuple[str, dict[str, str]]:
        parts = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}
        return parts.path, query

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _json(self, status: int, value: Any) -> None:
        self._send(
            status,
            json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"),
            "application/json; charset=utf-8",
        )

    def _html(self, text: str, status: int = 200) -> None:
        self._send(status, text.encode("utf-8"), "text/html; charset=utf-8")

    # -- verbs -----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        try:
            self._route(method)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # noqa: BLE001 - the sandbox answers, it never dies
            with contextlib.suppress(OSError):
                self._json(500, {"errcode": -1, "errmsg": f"sandbox error: {type(exc).__name__}: {exc}"})

    def _api(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        if method != "POST":
            self._json(200, {"errcode": 43002, "errmsg": "require POST method"})
            return
        listener = self.sandbox.listener_of(self.server)
        status, payload = self.sandbox.call_api(API_PATHS[path], query, raw, self.client_address[0], listener)
        if payload is None:
            self.close_connection = True
            return
        kind = "application/json; charset=utf-8" if status == 200 else "text/html; charset=utf-8"
        self._send(status, payload, kind)

    def _get_api(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        if method != "GET":
            self._json(200, {"errcode": 43001, "errmsg": "require GET method"})
            return
        listener = self.sandbox.listener_of(self.server)
        status, payload = self.sandbox.call_api(GET_API_PATHS[path], query, raw, self.client_address[0], listener)
        if payload is None:
            self.close_connection = True
            return
        kind = "application/json; charset=utf-8" if status == 200 else "text/html; charset=utf-8"
        self._send(status, payload, kind)

    def _confirm(self, raw: bytes, path: str) -> None:
        fields = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))
        form = {k: v[-1] for k, v in fields.items()}
        if path == OAUTH_CONFIRM_PATH:
            location, page = self.sandbox.oauth_confirm(form)
        elif path == OAUTH_DENY_PATH:
            location, page = self.sandbox.oauth_deny(form)
        else:
            location, page = self.sandbox.confirm(form, fields.get("func_info"))
        if location is not None:
            self._send(302, b"", "text/html; charset=utf-8", {"Location": location})
        else:
            self._html(page or "")

    def _image(self, path: str) -> None:
        name = path.rsplit("/", 1)[1].removesuffix(".svg")
        if path.startswith("/sandbox/users/"):
            user = self.sandbox.world.web.user(name)
            if user is None:
                self._json(404, {"error": "no such user"})
                return
            self._send(200, pages.user_avatar_svg(user.user_id, user.nickname).encode("utf-8"), "image/svg+xml")
            return
        appid = name
        account = self.sandbox.world.merchants.account(appid)
        if account is None:
            self._json(404, {"error": "no such account"})
            return
        svg = pages.avatar_svg(account) if "/avatar/" in path else pages.qrcode_svg(account)
        self._send(200, svg.encode("utf-8"), "image/svg+xml")

    def _route(self, method: str) -> None:
        path, query = self._split()
        raw = self._body() if method in ("POST", "DELETE") else b""
        if path in API_PATHS:
            self._api(method, path, query, raw)
            return
        if path in GET_API_PATHS:
            self._get_api(method, path, query, raw)
            return
        if self._page(method, path, query, raw):
            return
        if path.startswith(("/sandbox/avatar/", "/sandbox/qrcode/", "/sandbox/users/")):
            self._image(path)
            return
        if method == "POST" and is_receiver_path(path):
            self._previous_platform(path, raw)
            return
        if path == LISTENERS_PATH:
            self._listeners(method, raw)
            return
        if path.startswith("/sandbox/"):
            self._control(method, path, query, raw)
            return
        self._json(404, {"errcode": -1, "errmsg": f"sandbox: no such path {path}", "time": time.time()})

    def _page(self, method: str, path: str, query: dict[str, str], raw: bytes) -> bool:
        """WeChat's pages (authorization, web login), the JS-SDK, the control page; False for others."""
        sb = self.sandbox
        if method == "GET" and path == OAUTH_PAGE_PATH:
            self._html(sb.oauth_page(query))
        elif method == "POST" and path in (OAUTH_CONFIRM_PATH, OAUTH_DENY_PATH, CONFIRM_PATH):
            self._confirm(raw, path)
        elif method == "GET" and path == JSSDK_PATH:
            self._send(200, pages.JSSDK_SCRIPT.encode("utf-8"), "application/javascript; charset=utf-8")
        elif method == "GET" and path == pages.FAVICON_PATH:
            self._send(200, pages.FAVICON_SVG.encode("utf-8"), "image/svg+xml")
        elif method == "GET" and path in PAGE_PATHS:
            self._html(sb.authorization_page(path, query, self.headers.get("Referer")))
        elif method == "GET" and path in ("/", "/sandbox", "/sandbox/"):
            self._html(pages.control_page(sb.world.snapshot()))
        else:
            return False
        return True

    def _previous_platform(self, path: str, raw: bytes) -> None:
        """The previous platform's receiver (previous.py): its pushes, and its users' messages."""
        if path.endswith("/messages"):
            self._send(200, b"success", "text/plain; charset=utf-8")
            return
        try:
            answer = self.sandbox.previous.receive_event(raw)
        except Exception as exc:  # noqa: BLE001 - a push it cannot read is refused, as a platform would
            self._send(400, f"{type(exc).__name__}".encode(), "text/plain; charset=utf-8")
            return
        self._send(200, answer, "text/plain; charset=utf-8")

    def _listeners(self, method: str, raw: bytes) -> None:
        """GET: each listener's URL and whether it is up; POST `{"main": false}` (or "dr", true)."""
        if method == "GET":
            self._json(200, self.sandbox.listeners())
            return
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            if not isinstance(body, dict) or not body or not all(isinstance(v, bool) for v in body.values()):
                raise ValueError('give {"main": true|false, "dr": true|false}')
            for name, up in body.items():
                shown = self.sandbox.set_listener(name, up)
        except (ValueError, UnicodeDecodeError) as exc:
            self._json(400, {"error": str(exc)})
            return
        self._json(200, shown)

    def _control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            self._json(400, {"error": "the body must be JSON"})
            return
        if not isinstance(body, dict):
            self._json(400, {"error": "the body must be a JSON object"})
            return
        status, value = self.sandbox.control.handle(method, path, query, body)
        if path.rstrip("/") == RELEASE_CHECKS_PATH and status == 200 and query.get("format") == "text":
            text = "".join(line + "\n" for line in summary_lines(value))
            self._send(status, text.encode("utf-8"), "text/plain; charset=utf-8")
            return
        # Pages on other origins ask for the config check from their browsers, as the JS-SDK does.
        cors = {"Access-Control-Allow-Origin": "*"} if path == JSSDK_VERIFY_PATH else {}
        payload = json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
        self._send(status, payload, "application/json; charset=utf-8", cors)
