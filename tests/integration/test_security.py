"""Issue 10's holes that need the real wires: pages, headers, what a public route gives away."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

from tests.conftest import World
from tests.support.pushes import event_xml, signed_push


def get(world: World, path: str, **headers: str) -> Any:
    return world.http.request("GET", f"{world.gateway.url}{path}", headers=headers, redirect=False)


# -- hole 7: pages say nothing WeChat told us, send strict headers, and give a reference ------------------


def test_an_error_page_shows_a_generic_text_and_a_reference_never_wechats_errmsg(quiet_world: World) -> None:
    quiet_world.push_ticket_to_table()
    quiet_world.fault("api_create_preauthcode", "errcode", 61004, count=1)  # WeChat's errmsg names our IP
    page = get(quiet_world, "/wechat/authorize")
    html = page.data.decode()
    assert page.status == 502
    assert "61004" not in html and "errcode" not in html.lower() and "api_create_preauthcode" not in html
    reference = re.search(r'id="reference">([^<]+)<', html)
    assert reference is not None and len(reference.group(1)) >= 8


def test_every_page_sends_a_strict_policy(quiet_world: World) -> None:
    quiet_world.push_ticket_to_table()
    for path in ("/wechat/authorize", "/wechat/authorize/callback", "/wechat/authorize/callback?auth_code=x%20y"):
        page = get(quiet_world, path)
        headers = {k.lower(): v for k, v in page.headers.items()}
        csp = headers["content-security-policy"]
        for directive in ("default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"):
            assert directive in csp, (path, csp)
        assert "'unsafe-inline'" not in csp and "script-src" not in csp
        assert headers["referrer-policy"] == "no-referrer"  # the result URL carries auth_code
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"


def test_a_push_url_failure_gives_the_caller_no_detail(quiet_world: World) -> None:
    """The authorization-event URL is public: a 5xx there says nothing of WeChat's answer."""
    quiet_world.push_ticket_to_table()
    code = quiet_world.control("POST", "authorize", {"appid": "wx570bc396a51b8ff8"})["auth_code"]
    quiet_world.fault("api_query_auth", "errcode", 61004, count=None)
    inner = event_xml("authorized", int(time.time()), "wx570bc396a51b8ff8").replace(
        "</xml>", f"<AuthorizationCode><![CDATA[{code}]]></AuthorizationCode></xml>"
    )
    push = signed_push(inner)
    answer = quiet_world.http.request(
        "POST", f"{quiet_world.gateway.url}/wechat/component/events?{urlencode(push.query)}", body=push.body
    )
    body = answer.data.decode()
    assert answer.status >= 500 and "61004" not in body and "errmsg" not in body and "query_auth" not in body
