"""HTML: WeChat's authorization pages (docs/protocol.md §4), its error page, avatars and the control page.

Every value that comes from a request or from state is escaped with html.escape.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from infra.sandbox.config import CHANNELS, MINI_PROGRAM, OFFICIAL_ACCOUNT, STORE, TALENT, MerchantAccount

if TYPE_CHECKING:
    from infra.sandbox.state.web import WebUser

REFERER_ERROR_ZH = (
    "请确认授权入口页所在域名，与授权后回调页所在域名相同，并且，此两者都必须与申请第三方平台时"  # noqa: RUF001
    "填写的授权发起页域名相同。"
)
REFERER_ERROR_EN = (
    "Make sure the page that opened this authorization is on the same domain as the callback page, "
    "and that both are on the authorization-start domain configured for the third-party platform."
)

# Down to 320 px wide (the narrowest phone still in use): appids, openids and JSON break where
# they would push the page sideways, a row's text column may shrink below its longest word, and
# the control page's account table becomes one block per account.
_STYLE = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;
 background:#f6f6f6;color:#222}
header{background:#1aad19;color:#fff;padding:12px 20px;font-size:18px}
main{max-width:760px;margin:24px auto;background:#fff;padding:20px 24px;border-radius:6px;
 overflow-wrap:break-word}
.account{display:flex;align-items:center;gap:14px;border-bottom:1px solid #eee;padding:12px 0}
.account img{width:48px;height:48px;border-radius:50%;flex:none}
.account .who{flex:1;min-width:0}.muted{color:#888;font-size:13px}
button{background:#1aad19;color:#fff;border:0;border-radius:4px;padding:7px 16px;cursor:pointer;
 flex:none;white-space:nowrap;margin:2px 0}
button.grey{background:#888}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #eee;padding:4px;text-align:left}
pre{background:#f0f0f0;padding:8px;overflow:auto;max-height:360px;font-size:12px;white-space:pre-wrap}
.error{color:#c00}
@media (max-width:480px){
 main{margin:12px 0;padding:16px 12px;border-radius:0}
 .account{gap:10px}.account img{width:40px;height:40px}
 button{padding:7px 12px}
 #account-table,#account-table tbody,#account-table tr,#account-table td{display:block}
 #account-table tr:first-child{display:none}
 #account-table tr{border-bottom:1px solid #eee;padding:6px 0}
 #account-table td{border:0;padding:2px 0}
}
"""

AUTH_TYPES: dict[int, tuple[str, ...]] = {
    1: (OFFICIAL_ACCOUNT,),
    2: (MINI_PROGRAM,),
    3: (OFFICIAL_ACCOUNT, MINI_PROGRAM),
    5: (CHANNELS,),
    6: (OFFICIAL_ACCOUNT, MINI_PROGRAM, CHANNELS, STORE, TALENT),
    8: (TALENT,),
}


def accounts_for(accounts: Sequence[MerchantAccount], auth_type: int, biz_appid: str | None) -> list[MerchantAccount]:
    """The accounts the page offers: biz_appid wins over auth_type; 5 Channels, 8 talent (带货助手),
    6 every kind (the shop only there: no page names its own auth_type); 4 (推客) offers none."""
    if biz_appid:
        return [a for a in accounts if a.appid == biz_appid]
    kinds = AUTH_TYPES.get(auth_type, ())
    return [a for a in accounts if a.kind in kinds]


# The sandbox's icon, served at /favicon.ico (as SVG: every browser the tests and developers use
# reads it), so a page's console shows no 404 for the icon browsers ask for by themselves.
FAVICON_PATH = "/favicon.ico"
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#1aad19"/>'
    '<text x="16" y="23" font-size="18" font-family="sans-serif" text-anchor="middle" fill="#fff">W</text></svg>'
)


def _page(title: str, body: str, *, page_id: str) -> str:
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" type="image/svg+xml" href="{FAVICON_PATH}">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body id="{escape(page_id)}"><header>微信公众平台 · WeChat sandbox</header>'
        f"<main>{body}</main></body></html>"
    )


def error_page(reason: str, lines: Sequence[str], *, kind: str) -> str:
    """WeChat's error page (served with HTTP 200, as WeChat does)."""
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in lines)
    body = (
        f'<div id="wx-error" class="error" data-error="{escape(kind)}">'
        f"<h2>授权出错 Authorization error</h2>{paragraphs}"
        f'<p class="muted" id="wx-error-reason">{escape(reason)}</p></div>'
    )
    return _page("授权出错", body, page_id="wx-error-page")


def referer_error_page(referer: str | None) -> str:
    return error_page(
        f"Referer: {referer or '(none)'}",
        [REFERER_ERROR_ZH, REFERER_ERROR_EN],
        kind="referer",
    )


def authorization_page(
    accounts: Sequence[MerchantAccount],
    *,
    component_appid: str,
    pre_auth_code: str,
    redirect_uri: str,
    auth_type: int,
    category_id_list: str,
    mobile: bool,
) -> str:
    """The list of the merchant's accounts, each with an authorize button (a form POST)."""
    rows = []
    for a in accounts:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{escape(value)}">'
            for name, value in (
                ("component_appid", component_appid),
                ("pre_auth_code", pre_auth_code),
                ("redirect_uri", redirect_uri),
                ("auth_type", str(auth_type)),
                ("category_id_list", category_id_list),
                ("appid", a.appid),
                ("permissions_shown", "1"),
            )
        )
        # WeChat's page lets the admin untick permission sets before confirming.
        sets = "".join(
            f'<label class="muted"><input type="checkbox" name="func_info" value="{i}" checked '
            f'id="func-{escape(a.appid)}-{i}"> {i}</label> '
            for i in a.permissions
        )
        rows.append(
            f'<form class="account" method="post" action="/sandbox/authorize-confirm" '
            f'data-appid="{escape(a.appid)}" data-kind="{escape(a.kind)}">{hidden}'
            f'<img src="/sandbox/avatar/{escape(a.appid)}.svg" alt="">'
            f'<div class="who"><div class="name">{escape(a.nick_name)}</div>'
            f'<div class="muted">{escape(a.kind_label)} · {escape(a.user_name)} · '
            f'{escape(a.appid)}</div><div class="sets">权限集 permission sets: {sets}</div></div>'
            f'<button type="submit" id="authorize-{escape(a.appid)}" data-appid="{escape(a.appid)}">'
            "授权 Authorize</button></form>"
        )
    none = '<p id="no-accounts" class="muted">没有可授权的账号 No account to authorize.</p>'
    listing = "".join(rows) or none
    body = (
        "<h2>选择要授权的账号 Choose an account to authorize</h2>"
        f'<p class="muted">第三方平台 {escape(component_appid)} 请求获得以下账号的授权'
        f"{' (mobile)' if mobile else ''}。</p>"
        f'<div id="accounts" data-count="{len(accounts)}">{listing}</div>'
    )
    return _page("公众号授权 Authorization", body, page_id="wx-authorize-page")


_SCOPE_WORDS = {
    "snsapi_userinfo": (
        "获得你的公开信息（昵称、头像）",  # noqa: RUF001
        "your public profile: nickname and avatar",
    ),
    "snsapi_base": (
        "获取你的身份（静默授权：微信里不显示此页）",  # noqa: RUF001
        "who you are (silent in WeChat, which knows its user; the sandbox asks)",
    ),
}


def oauth_page(
    account: MerchantAccount,
    users: Sequence[tuple[WebUser, str]],
    redirect_uri: str,
    scope: str,
    state: str,
) -> str:
    """Web login on the account's behalf (docs/protocol.md §7): each seeded user (with the openid
    this account knows them by) has an allow button, a form POST back to the sandbox."""
    chinese, english = _SCOPE_WORDS[scope]
    rows = []
    for user, openid in users:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{escape(value)}">'
            for name, value in (
                ("appid", account.appid),
                ("redirect_uri", redirect_uri),
                ("scope", scope),
                ("state", state),
                ("user", user.user_id),
            )
        )
        rows.append(
            f'<form class="account" method="post" action="/sandbox/oauth-confirm" data-user="{escape(user.user_id)}"'
            f' data-openid="{escape(openid)}">{hidden}'
            f'<img src="/sandbox/users/{escape(user.user_id)}.svg" alt="">'
            f'<div class="who"><div class="name">{escape(user.nickname)}</div>'
            f'<div class="muted">openid {escape(openid)}</div></div>'
            f'<button type="submit" id="allow-{escape(user.user_id)}">允许 Allow</button></form>'
        )
    deny_fields = "".join(
        f'<input type="hidden" name="{name}" value="{escape(value)}">'
        for name, value in (
            ("appid", account.appid),
            ("redirect_uri", redirect_uri),
            ("scope", scope),
            ("state", state),
        )
    )
    body = (
        f'<h2><img src="/sandbox/avatar/{escape(account.appid)}.svg" width="32" alt=""> '
        f"{escape(account.nick_name)}</h2>"
        f'<p id="scope" data-scope="{escape(scope)}">申请{escape(chinese)}<br>'
        f'<span class="muted" lang="en">asks for {escape(english)}</span></p>'
        f'<div id="users">{"".join(rows)}</div>'
        f'<form method="post" action="/sandbox/oauth-deny">{deny_fields}'
        '<button type="submit" class="grey" id="deny">拒绝 Deny</button></form>'
    )
    return _page("微信网页授权 Web login", body, page_id="wx-oauth-page")


def user_avatar_svg(user_id: str, nickname: str) -> str:
    initial = escape(nickname[:1] or "?")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        f'<rect width="96" height="96" rx="12" fill="{_color(user_id)}"/>'
        f'<text x="48" y="62" font-size="44" text-anchor="middle" fill="#fff">{initial}</text></svg>'
    )


# The JS-SDK as a page meets it, played by the sandbox: `wx.config` asks WeChat (here the sandbox's
# config check) whether the signature fits this page's URL without its fragment, then runs the
# page's `wx.ready` or `wx.error` callbacks. Only config, ready and error: no JS API is played.
JSSDK_SCRIPT = """(function () {
  var origin = new URL(document.currentScript.src).origin;
  var outcome = null, readies = [], errors = [];
  function settle(ok, answer) {
    outcome = {ok: ok, answer: answer};
    (ok ? readies : errors).forEach(function (callback) { callback(ok ? undefined : answer); });
  }
  window.wx = {
    config: function (config) {
      var check = {appId: config.appId, timestamp: String(config.timestamp), nonceStr: config.nonceStr,
                   signature: config.signature, url: location.href.split('#')[0]};
      fetch(origin + '/sandbox/jsapi-verify', {method: 'POST', body: JSON.stringify(check)})
        .then(function (r) { return r.json(); })
        .then(function (a) { settle(a.valid === true, {errMsg: a.errMsg || a.error}); },
              function (e) { settle(false, {errMsg: 'config:fail ' + e}); });
    },
    ready: function (callback) { if (outcome && outcome.ok) callback(); else readies.push(callback); },
    error: function (callback) { if (outcome && !outcome.ok) callback(outcome.answer); else errors.push(callback); }
  };
})();
"""


def _color(appid: str) -> str:
    return "#" + hashlib.sha1(appid.encode(), usedforsecurity=False).hexdigest()[:6]


def avatar_svg(account: MerchantAccount) -> str:
    initial = escape(account.nick_name[:1] or "?")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        f'<circle cx="48" cy="48" r="48" fill="{_color(account.appid)}"/>'
        f'<text x="48" y="62" font-size="44" text-anchor="middle" fill="#fff">{initial}</text></svg>'
    )


def qrcode_svg(account: MerchantAccount) -> str:
    """Not a real QR code: a stable pattern of squares derived from the appid."""
    bits = bin(int(hashlib.sha256(account.appid.encode()).hexdigest(), 16))[2:].zfill(256)
    cells = "".join(
        f'<rect x="{(i % 16) * 6}" y="{(i // 16) * 6}" width="6" height="6"/>'
        for i, bit in enumerate(bits)
        if bit == "1"
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        f'<rect width="96" height="96" fill="#fff"/><g fill="#000">{cells}</g></svg>'
    )


_CONTROL_SCRIPT = """
async function call(method, path, body) {
  const out = document.getElementById('out');
  out.textContent = method + ' ' + path + ' ...';
  const r = await fetch(path, {method, headers: {'Content-Type': 'application/json'},
                               body: body === undefined ? undefined : JSON.stringify(body)});
  out.textContent = method + ' ' + path + ' -> ' + r.status + '\\n' + JSON.stringify(await r.json(), null, 2);
}
function send(appid) {
  const content = prompt('Message content', 'hello');
  if (content !== null) call('POST', '/sandbox/send-message', {appid, content});
}
function fault() {
  const api = prompt('API name (e.g. api_component_token, custom_send, *)', 'api_component_token');
  const kind = prompt('kind: latency | errcode | http_status | timeout', 'errcode');
  const value = Number(prompt('value', '-1'));
  const count = prompt('count (empty = until cleared)', '1');
  call('POST', '/sandbox/faults', {api, kind, value, count: count ? Number(count) : null});
}
"""


def control_page(state: dict[str, object]) -> str:
    """A small page to drive the sandbox by hand; every button calls the JSON control API."""
    accounts = state.get("accounts", [])
    rows = []
    for a in accounts if isinstance(accounts, list) else []:
        appid = escape(str(a["appid"]))
        rows.append(
            f'<tr data-appid="{appid}"><td><img src="/sandbox/avatar/{appid}.svg" width="24" alt=""></td>'
            f"<td>{escape(str(a['nick_name']))}<br><span class=muted>{appid} · {escape(str(a['user_name']))}"
            f"</span></td><td>{escape(str(a['kind']))}</td>"
            f'<td class="status">{escape(str(a["status"]))}</td><td>'
            f"<button onclick=\"call('POST','/sandbox/authorize',{{appid:'{appid}'}})\">authorize</button> "
            f"<button onclick=\"call('POST','/sandbox/update-authorization',{{appid:'{appid}'}})\">"
            "update</button> "
            f"<button class=grey onclick=\"call('POST','/sandbox/revoke',{{appid:'{appid}'}})\">"
            "revoke</button> "
            f"<button onclick=\"send('{appid}')\">message</button> "
            f"<button class=grey onclick=\"call('POST','/sandbox/accounts/{appid}/rotation',"
            f'{{enabled:{"false" if a.get("rotation") else "true"}}})">rotation '
            f"{'off' if a.get('rotation') else 'on'}</button> "
            f"<button class=grey onclick=\"call('POST','/sandbox/accounts/{appid}/api-permission',"
            f'{{enabled:{"false" if a.get("api_permission", True) else "true"}}})">API permission '
            f"{'off' if a.get('api_permission', True) else 'on'}</button></td></tr>"
        )
    faults = escape(json.dumps(state.get("faults", []), ensure_ascii=False))
    body = (
        "<h2>WeChat sandbox</h2>"
        f'<p class="muted">component {escape(str(state.get("component_appid")))} · '
        f"sandbox time {escape(str(state.get('now')))}</p>"
        "<p><button id=\"push-ticket\" onclick=\"call('POST','/sandbox/push-ticket')\">push ticket</button> "
        "<button id=\"release-checks\" onclick=\"call('POST','/sandbox/release-checks',{})\">"
        "release checks</button> "
        '<button onclick="fault()">inject fault</button> '
        "<button class=grey onclick=\"call('DELETE','/sandbox/faults')\">clear faults</button> "
        "<button class=grey onclick=\"call('POST','/sandbox/clock',{advance:3600})\">+1 h</button> "
        f"<button class=grey id=\"release\" onclick=\"call('POST','/sandbox/release',"
        f'{{released:{"false" if state.get("released") else "true"}}})">'
        f"{'unrelease' if state.get('released') else 'release'}</button> "
        "<button class=grey onclick=\"call('POST','/sandbox/reset',{})\">reset</button> "
        '<button class=grey onclick="location.reload()">refresh</button></p>'
        f'<table id="account-table"><tr><th></th><th>account</th><th>kind</th><th>status</th><th></th></tr>'
        f"{''.join(rows)}</table>"
        f'<p class="muted">faults: {faults}</p>'
        "<p><button class=grey onclick=\"call('GET','/sandbox/pushes')\">pushes</button> "
        "<button class=grey onclick=\"call('GET','/sandbox/calls')\">calls</button> "
        "<button class=grey onclick=\"call('GET','/sandbox/messages')\">messages</button> "
        "<button class=grey onclick=\"call('GET','/sandbox/state')\">state</button></p>"
        f'<pre id="out"></pre><script>{_CONTROL_SCRIPT}</script>'
    )
    return _page("WeChat sandbox", body, page_id="sandbox-control")
