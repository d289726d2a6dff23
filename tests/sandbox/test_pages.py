"""The authorization pages: the Referer rule, the account list, confirm → 302 + push."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from infra.sandbox import Sandbox
from infra.sandbox.pages import REFERER_ERROR_EN, REFERER_ERROR_ZH
from tests.sandbox.helpers import START_DOMAIN, Client, Receiver, Wx

REDIRECT = START_DOMAIN + "/wechat/authorize/callback"
REFERER = {"Referer": START_DOMAIN + "/wechat/authorize"}


def page_path(
    wx: Wx, *, path: str = "/cgi-bin/componentloginpage", pre_auth_code: str | None = None, **params: str
) -> tuple[str, str]:
    code = pre_auth_code or wx.call("api_create_preauthcode")["pre_auth_code"]
    query = {"component_appid": wx.appid, "pre_auth_code": code, "redirect_uri": REDIRECT, "auth_type": "3"}
    query.update(params)
    return path + "?" + urllib.parse.urlencode(query), code


def listed(html: str) -> list[str]:
    return re.findall(r'<form class="account"[^>]*data-appid="(wx[0-9a-f]{16})"', html)


def confirm(
    client: Client, code: str, appid: str, redirect: str = REDIRECT, func_info: list[int] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """POSTs the page's form; `func_info`: the permission sets the admin left ticked (None: as the
    page's form without its checkboxes, the account's defaults)."""
    fields: dict[str, Any] = {
        "component_appid": "x",
        "pre_auth_code": code,
        "appid": appid,
        "redirect_uri": redirect,
        "auth_type": "3",
    }
    if func_info is not None:
        fields.update(permissions_shown="1", func_info=[str(i) for i in func_info])
    form = urllib.parse.urlencode(fields, doseq=True).encode()
    return client.request(
        "POST", "/sandbox/authorize-confirm", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )


def test_no_referer_shows_wechats_error_page(wx: Wx, client: Client) -> None:
    path, _ = page_path(wx)
    status, headers, body = client.get(path)
    html = body.decode()
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert REFERER_ERROR_ZH in html and REFERER_ERROR_EN in html
    assert 'data-error="referer"' in html
    assert listed(html) == []


def test_referer_from_another_domain_is_refused(wx: Wx, client: Client) -> None:
    path, _ = page_path(wx)
    html = client.get(path, {"Referer": "https://evil.example/page"})[2].decode()
    assert 'data-error="referer"' in html


def test_callback_on_another_domain_is_refused(wx: Wx, client: Client) -> None:
    path, _ = page_path(wx, redirect_uri="https://evil.example/cb")
    html = client.get(path, REFERER)[2].decode()
    assert 'data-error="referer"' in html


def test_referer_from_start_domain_lists_accounts_by_auth_type(wx: Wx, client: Client) -> None:
    accounts = wx.accounts()
    officials = [a["appid"] for a in accounts if a["kind"] == "official_account"]
    minis = [a["appid"] for a in accounts if a["kind"] == "mini_program"]
    code = wx.call("api_create_preauthcode")["pre_auth_code"]
    for auth_type, expected in (
        ("1", officials),
        ("2", minis),
        ("3", officials + minis),
        ("6", [a["appid"] for a in accounts]),
    ):
        html = client.get(page_path(wx, pre_auth_code=code, auth_type=auth_type)[0], REFERER)[2].decode()
        assert sorted(listed(html)) == sorted(expected), auth_type
    html = client.get(page_path(wx, pre_auth_code=code, auth_type="4")[0], REFERER)[2].decode()
    assert 'id="no-accounts"' in html
    one = client.get(page_path(wx, pre_auth_code=code, auth_type="2", biz_appid=officials[1])[0], REFERER)[2]
    assert listed(one.decode()) == [officials[1]]
    assert f'id="authorize-{officials[1]}"' in one.decode()
    assert f'src="/sandbox/avatar/{officials[1]}.svg"' in one.decode()


def test_mobile_pages(wx: Wx, client: Client) -> None:
    for path in ("/wxaopen/safe/bindcomponent", "/safe/bindcomponent"):
        url, _ = page_path(wx, path=path, action="bindcomponent", no_scan="1")
        html = client.get(url, REFERER)[2].decode()
        assert "(mobile)" in html and len(listed(html)) == 8  # six seeded, two release test accounts


def test_parameter_errors(wx: Wx, client: Client) -> None:
    html = client.get(page_path(wx, pre_auth_code="preauthcode@@@nope")[0], REFERER)[2].decode()
    assert 'data-error="pre_auth_code"' in html
    html = client.get(page_path(wx, component_appid="wx0000000000000000")[0], REFERER)[2].decode()
    assert 'data-error="component_appid"' in html
    html = client.get(page_path(wx, redirect_uri="")[0], REFERER)[2].decode()
    assert 'data-error="redirect_uri"' in html


def test_user_input_is_escaped(wx: Wx, client: Client) -> None:
    evil = REDIRECT + '?x="><script>alert(1)</script>'
    html = client.get(page_path(wx, redirect_uri=evil)[0], REFERER)[2].decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)" in html
    html = client.get(page_path(wx)[0], {"Referer": "https://x.example/<script>alert(2)</script>"})[2].decode()
    assert "<script>alert" not in html


def test_confirm_redirects_and_pushes_authorized(wx: Wx, client: Client, receiver: Receiver) -> None:
    appid = next(a["appid"] for a in wx.accounts() if a["kind"] == "mini_program")
    _, code = page_path(wx)
    status, headers, _ = confirm(client, code, appid)
    assert status == 302
    location = urllib.parse.urlsplit(headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    params = dict(urllib.parse.parse_qsl(location.query))
    assert params["expires_in"] == "600"
    assert params["auth_code"].startswith("queryauthcode@@@")
    pushed = receiver.wait_info("authorized")
    assert pushed.error is None
    assert pushed.fields["AuthorizerAppid"] == appid
    assert pushed.fields["AuthorizationCode"] == params["auth_code"]
    assert pushed.fields["PreAuthCode"] == code
    assert int(pushed.fields["AuthorizationCodeExpiredTime"]) > int(pushed.fields["CreateTime"])
    info = wx.call("api_query_auth", {"authorization_code": params["auth_code"]})["authorization_info"]
    assert info["authorizer_appid"] == appid

    status, _, body = confirm(client, code, appid)  # the pre-auth code is single use
    assert status == 200 and b'data-error="pre_auth_code"' in body
    html = client.get(page_path(wx, pre_auth_code=code)[0], REFERER)[2].decode()
    assert 'data-error="pre_auth_code"' in html

    # Again with the same permission sets: no push (the redirect alone brings the code) ...
    _, again = page_path(wx)
    assert confirm(client, again, appid)[0] == 302
    # ... and with one set unticked: updateauthorized.
    _, third = page_path(wx)
    status, headers, _ = confirm(client, third, appid, func_info=[17, 18])
    assert status == 302
    pushed = receiver.wait_info("updateauthorized")
    assert pushed.fields["AuthorizerAppid"] == appid
    assert pushed.fields["AuthorizationCode"] in headers["Location"]
    assert [r.fields.get("InfoType") for r in receiver.received].count("authorized") == 1


def test_redirect_keeps_an_existing_query(wx: Wx, client: Client) -> None:
    _, code = page_path(wx)
    appid = wx.accounts()[0]["appid"]
    location = confirm(client, code, appid, REDIRECT + "?state=abc")[1]["Location"]
    assert location.startswith(REDIRECT + "?state=abc&auth_code=queryauthcode@@@")


def test_confirm_refuses_a_foreign_callback(wx: Wx, client: Client) -> None:
    _, code = page_path(wx)
    status, _, body = confirm(client, code, wx.accounts()[0]["appid"], "https://evil.example/cb")
    assert status == 200 and b'data-error="referer"' in body


def test_avatar_qrcode_and_control_page(sandbox: Sandbox, client: Client) -> None:
    appid = sandbox.world.merchants.accounts()[0].appid
    status, headers, body = client.get(f"/sandbox/avatar/{appid}.svg")
    assert status == 200 and headers["Content-Type"] == "image/svg+xml" and body.startswith(b"<svg")
    assert client.get(f"/sandbox/qrcode/{appid}.svg")[0] == 200
    assert client.get("/sandbox/avatar/wx0000000000000000.svg")[0] == 404
    status, _, body = client.get("/sandbox/")
    html = body.decode()
    assert status == 200 and 'id="account-table"' in html and f'data-appid="{appid}"' in html
    assert 'id="push-ticket"' in html and 'id="release-checks"' in html
