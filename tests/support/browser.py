"""A browser as the authorization flow needs one: it loads our start page (and keeps the state
cookie it sets), may confirm on WeChat's (the sandbox's) page with the pre-auth code of that link,
then comes back to the callback the way WeChat sends it, with the state from the link and a code."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import urllib3

from tests.conftest import World


class Browser:
    def __init__(self, world: World) -> None:
        self.world = world
        self.cookies: dict[str, str] = {}
        self.callback_query: dict[str, str] = {}
        self.link: dict[str, str] = {}  # the query of the link to WeChat's page

    def get(self, path: str, **headers: str) -> Any:
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        answer = self.world.http.request("GET", f"{self.world.gateway.url}{path}", headers=headers, redirect=False)
        self._keep(answer)
        return answer

    def start(self, query: dict[str, str] | None = None) -> Any:
        """Loads the start page: the state cookie is kept, and the query WeChat will send back."""
        page = self.get("/wechat/authorize" + (f"?{urlencode(query)}" if query else ""))
        assert page.status == 200, page.data[:300]
        link = re.search(r'id="authorize" class="button" href="([^"]+)"', page.data.decode())
        assert link is not None
        self.link = {k: v[-1] for k, v in parse_qs(urlsplit(html.unescape(link.group(1))).query).items()}
        redirect_uri = self.link["redirect_uri"]
        self.callback_query = {k: v[-1] for k, v in parse_qs(urlsplit(redirect_uri).query).items()}
        return page

    @property
    def pre_auth_code(self) -> str:
        """The pre-auth code the start page put in its link (after `start`)."""
        return self.link["pre_auth_code"]

    def authorize_at_wechat(self, appid: str) -> str:
        """The admin confirms `appid` on WeChat's page reached by this browser's link (after
        `start`), as the sandbox's form posts it; returns the code of WeChat's redirect back. Like
        WeChat, the sandbox also pushes `authorized` with this code and the link's pre-auth code."""
        form = {name: self.link[name] for name in ("component_appid", "pre_auth_code", "redirect_uri", "auth_type")}
        answer = self.world.http.request(
            "POST",
            f"{self.world.sandbox.url}/sandbox/authorize-confirm",
            body=urlencode({**form, "appid": appid}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            redirect=False,
        )
        assert answer.status == 302, answer.data[:300]
        code: str = parse_qs(urlsplit(answer.headers["Location"]).query)["auth_code"][0]
        return code

    def callback(self, auth_code: str) -> Any:
        """Back from WeChat with `auth_code` (after `start`)."""
        query = {**self.callback_query, "auth_code": auth_code, "expires_in": "600"}
        return self.get(f"/wechat/authorize/callback?{urlencode(query)}")

    def _keep(self, answer: urllib3.BaseHTTPResponse) -> None:
        for header in answer.headers.getlist("Set-Cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in header or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
