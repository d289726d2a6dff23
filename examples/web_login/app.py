"""A vendor's H5 page for an authorized Official Account, as `make dev` serves it (never deployed):
web login on the account's behalf, then the visitor's openid and a `wx.config` the JS-SDK accepts.

    GET /demo/web-login?appid=wx…           no code yet: a state cookie, then off to web login
    GET /demo/web-login?appid=…&code=…&state=…    back from it: the code exchanged, the page shown
    GET /demo/web-login/config?appid=…&url=…      wx.config's fields for the page at `url`

It is the vendor's side, so it uses only the client package (`wxcomponent_client`): the jsapi
ticket comes from the token center's vending function, and so does the visitor (a `web_login` vend:
the token center exchanges the code with the component token, which never reaches this page's
server). In AWS its caller-policy entry would be `["wx…:jsapi_ticket", "wx…:web_login"]`: no access
token, no component token. Settings come from make dev's environment: `WECHAT_API_BASE` and
`WECHAT_MP_BASE` (the sandbox), `WECHAT_COMPONENT_APPID` (the component's appid, which the link
names; the client reads it itself), `AWS_ENDPOINT_URL_LAMBDA` (the local gateway, which boto3 reads
itself).
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from wxcomponent_client import OAuthCodeRejected, TokenClient, TokenError, WeChatError

DEFAULT_APPID = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account
STATE_COOKIE = "demo_login_state"
_APPID = re.compile(r"wx[0-9a-f]{16}")


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    query: dict[str, str] = event.get("queryStringParameters") or {}
    appid = query.get("appid") or DEFAULT_APPID
    if not _APPID.fullmatch(appid):
        return _page(400, "<p>appid must be wx followed by 16 lower-case hex digits.</p>")
    try:
        if event.get("rawPath", "").endswith("/config"):
            return _json(200, _tokens().jsapi_config(appid, query.get("url", "")))
        return _login(event, appid, query)
    except ValueError as error:
        return _json(400, {"error": str(error)})
    except (TokenError, WeChatError) as error:
        return _page(502, f"<p id='failure'>{html.escape(str(error))}</p>")


def _login(event: dict[str, Any], appid: str, query: dict[str, str]) -> dict[str, Any]:
    here = f"http://{event['headers'].get('host', '127.0.0.1:3000')}{event['rawPath']}"
    code, state = query.get("code"), query.get("state", "")
    if not code and state:
        # WeChat's way back when the visitor declines carries the state alone: never start over
        # (that would send them straight back to the page they just declined).
        return _page(200, f"<p id='declined'>You declined to log in. {_again(appid)}</p>")
    if not code:
        state = secrets.token_hex(16)  # binds the login's return to this browser (oauth_url wants 16 or more)
        # WeChat adds `appid` to the way back itself (with `code` and `state`): not repeated here.
        link = _tokens().oauth_url(appid, here, "snsapi_userinfo", state)
        cookie = f"{STATE_COOKIE}={state}; Path=/demo; HttpOnly; SameSite=Lax; Max-Age=600"
        return {"statusCode": 302, "headers": {"Location": link, "Cache-Control": "no-store"}, "cookies": [cookie]}
    cookies = dict(c.split("=", 1) for c in event.get("cookies", []) if "=" in c)
    if not state or not secrets.compare_digest(cookies.get(STATE_COOKIE, ""), state):
        return _page(400, f"<p id='failure'>This login did not start in this browser. {_again(appid)}</p>")
    try:
        user = _tokens().oauth_exchange(appid, code)
    except OAuthCodeRejected as error:  # a reload: the code served already
        return _page(400, f"<p id='failure'>{html.escape(str(error))}</p><p>{_again(appid)}</p>")
    avatar = f'<img id="avatar" src="{html.escape(user.avatar)}" width="48" alt="">' if user.avatar else ""
    snapshot = (
        "<p id='snapshot'>You are viewing a snapshot of this page: tap 使用完整服务 to log in for real.</p>"
        if user.is_snapshotuser  # a virtual openid: bind nothing to it
        else ""
    )
    body = (
        snapshot + f"<h1>{avatar} <span id='nickname'>{html.escape(user.nickname or '')}</span></h1>"
        f"<p>openid <code id='openid'>{html.escape(user.openid)}</code> (scope {html.escape(user.scope)})</p>"
        "<p id='config' data-valid=''>wx.config: asking WeChat…</p>"
        f"<script src='{html.escape(_jssdk_url())}'></script>"
        f"<script>{_CONFIG_SCRIPT.replace('__APPID__', appid)}</script>"
    )
    return _page(200, body)


# The page asks its server for wx.config's fields for its own URL (the JS-SDK signs location.href
# without the fragment), then shows what the JS-SDK answers.
_CONFIG_SCRIPT = """
const status = document.getElementById('config');
wx.ready(function () { status.textContent = 'wx.config: ok'; status.dataset.valid = 'true'; });
wx.error(function (res) { status.textContent = 'wx.config: ' + res.errMsg; status.dataset.valid = 'false'; });
fetch('/demo/web-login/config?appid=__APPID__&url=' + encodeURIComponent(location.href.split('#')[0]))
  .then(function (r) { return r.json(); })
  .then(function (config) { wx.config(Object.assign({debug: false, jsApiList: ['chooseImage']}, config)); });
"""


def _again(appid: str) -> str:
    return f"<a id='again' href='/demo/web-login?{urlencode({'appid': appid})}'>Log in again</a>"


@functools.cache
def _tokens() -> TokenClient:
    """One client per container; WeChat's hosts are make dev's sandbox."""
    sandbox = os.environ["WECHAT_API_BASE"]
    return TokenClient("token_vending", api_base=sandbox, open_base=os.environ.get("WECHAT_MP_BASE", sandbox))


def _jssdk_url() -> str:
    """WeChat's is https://res.wx.qq.com/open/js/jweixin-1.6.0.js; locally the sandbox plays it."""
    return os.environ["WECHAT_MP_BASE"].rstrip("/") + "/open/js/jweixin-1.6.0.js"


def _page(status: int, body: str) -> dict[str, Any]:
    document = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Web login demo</title></head><body>{body}</body></html>"
    )
    headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    return {"statusCode": status, "headers": headers, "body": document}


def _json(status: int, value: object) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    return {"statusCode": status, "headers": headers, "body": json.dumps(value)}
