"""WeChat's answers as its pages publish them, fed through the core's WeChat adapter (issue 18, part 4).

Each file under `wechat/<api>/<case>.json` is one answer: `source` (the URL it is published on, its tag:
official, staff, observed or sdk, and `via` when it was read through a verbatim copy), `note` (which
variant), `api` (the adapter method), `answer` (WeChat's JSON body, values as published), optional
`call` (arguments to override) and `expect`: the returned dataclass's fields, `{"returns": null}` for
a call that returns nothing, or `{"error": "<ClassName>", "errcode": N}` with an optional `attempts`
(how many requests the adapter makes: 1 unless it is a retried -1). Each file is one test; a fake
transport answers, so nothing leaves the process.
"""

from __future__ import annotations

import dataclasses
import json
import random
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import urllib3

from wxcomponent.adapters.wechat_http import WeChatHttpApi
from wxcomponent.domain.wechat import UpstreamError

FIXTURES = Path(__file__).parent / "wechat"
CASES = sorted(FIXTURES.glob("*/*.json"))
MAX_ATTEMPTS = 3

# Each folder is one WeChat API: the adapter method that calls it and the request it must make.
APIS: dict[str, tuple[str, str, str]] = {
    "api_component_token": ("component_token", "POST", "/cgi-bin/component/api_component_token"),
    "api_create_preauthcode": ("create_preauthcode", "POST", "/cgi-bin/component/api_create_preauthcode"),
    "api_query_auth": ("query_auth", "POST", "/cgi-bin/component/api_query_auth"),
    "api_authorizer_token": ("authorizer_token", "POST", "/cgi-bin/component/api_authorizer_token"),
    "api_get_authorizer_info": ("get_authorizer_info", "POST", "/cgi-bin/component/api_get_authorizer_info"),
    "api_get_authorizer_list": ("get_authorizer_list", "POST", "/cgi-bin/component/api_get_authorizer_list"),
    "api_start_push_ticket": ("start_push_ticket", "POST", "/cgi-bin/component/api_start_push_ticket"),
    "custom_send": ("send_custom_message", "POST", "/cgi-bin/message/custom/send"),
    "getticket": ("get_ticket", "GET", "/cgi-bin/ticket/getticket"),
}

COMPONENT_APPID = "wx_component_appid"
COMPONENT_TOKEN = "CTOKEN-c0mp0nent-value"
AUTHORIZER_TOKEN = "ATOKEN-auth0rizer-value"
# Plausible arguments for each method; a fixture's `call` overrides some of them.
ARGUMENTS: dict[str, dict[str, Any]] = {
    "component_token": {
        "component_appid": COMPONENT_APPID,
        "component_appsecret": "SECRET-s3cr3t-value",
        "ticket": "ticket@@@TICKET-t1ck3t-value",
    },
    "create_preauthcode": {"component_token": COMPONENT_TOKEN, "component_appid": COMPONENT_APPID},
    "query_auth": {
        "component_token": COMPONENT_TOKEN,
        "component_appid": COMPONENT_APPID,
        "authorization_code": "queryauthcode@@@CODE-auth0rization-value",
    },
    "authorizer_token": {
        "component_token": COMPONENT_TOKEN,
        "component_appid": COMPONENT_APPID,
        "authorizer_appid": "wxf8b4f85f3a794e77",
        "refresh_token": "refreshtoken@@@RTOKEN-refr3sh-value",
    },
    "get_authorizer_info": {
        "component_token": COMPONENT_TOKEN,
        "component_appid": COMPONENT_APPID,
        "authorizer_appid": "wxf8b4f85f3a794e77",
    },
    "get_authorizer_list": {
        "component_token": COMPONENT_TOKEN,
        "component_appid": COMPONENT_APPID,
        "offset": 0,
        "count": 100,
    },
    "start_push_ticket": {"component_appid": COMPONENT_APPID, "component_secret": "SECRET-s3cr3t-value"},
    "send_custom_message": {
        "authorizer_token": AUTHORIZER_TOKEN,
        "message": {"touser": "OPENID", "msgtype": "text", "text": {"content": "Hello World"}},
    },
    "get_ticket": {"authorizer_token": AUTHORIZER_TOKEN, "ticket_type": "jsapi"},
}

# Where a fixture may say it comes from: WeChat's own site, the SDKs' repositories, and the verbatim
# copies the audit (../shared/reviews/wechat-fidelity-2026-12.md) read official pages through.
OFFICIAL_HOSTS = {"developers.weixin.qq.com"}
ALLOWED_HOSTS = OFFICIAL_HOSTS | {"github.com", "blog.csdn.net", "www.cnblogs.com", "wdk-docs.github.io"}
TAGS = {"official", "staff", "observed", "sdk"}


def load(path: Path) -> dict[str, Any]:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(case, dict), f"{path}: a fixture is a JSON object"
    return case


def case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@dataclass
class FakeResponse:
    status: int
    data: bytes


@dataclass
class FakeTransport:
    """Answers every request with the same body, as WeChat would answer the same request again."""

    body: bytes
    requests: list[tuple[str, str]] = field(default_factory=list)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: urllib3.Timeout,
        retries: bool,
    ) -> FakeResponse:
        self.requests.append((method, url))
        return FakeResponse(200, self.body)


class _NoNetwork(socket.socket):
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("contract tests must not open sockets")


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket, "socket", _NoNetwork)
    yield


def plain(value: object) -> object:
    """A returned value as JSON would spell it: dataclasses as objects, lists item by item."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def test_the_folder_holds_every_api() -> None:
    assert {path.parent.name for path in CASES} == set(APIS)


@pytest.mark.parametrize("path", CASES, ids=case_id)
def test_fixture_names_its_source(path: Path) -> None:
    case = load(path)
    assert set(case) <= {"source", "note", "api", "call", "answer", "expect"}, sorted(case)
    source = case["source"]
    assert isinstance(source, dict)
    assert set(source) <= {"url", "tag", "via"}, sorted(source)
    assert source["tag"] in TAGS
    urls = [source["url"], *([source["via"]] if "via" in source else [])]
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme == "https", url
        assert parts.hostname in ALLOWED_HOSTS, url
    host = urlsplit(source["url"]).hostname
    if source["tag"] in {"official", "staff"}:  # WeChat's own word is on WeChat's own site
        assert host in OFFICIAL_HOSTS, source["url"]
    if source["tag"] == "sdk":
        assert host == "github.com", source["url"]
    note = case["note"]
    assert isinstance(note, str)
    assert note.strip()
    assert "\n" not in note
    assert case["api"] == APIS[path.parent.name][0]
    assert isinstance(case["answer"], dict)
    assert isinstance(case["expect"], dict)
    assert case["expect"]


@pytest.mark.parametrize("path", CASES, ids=case_id)
def test_answer_through_the_adapter(path: Path) -> None:
    case = load(path)
    method, http_method, http_path = APIS[path.parent.name]
    transport = FakeTransport(json.dumps(case["answer"], ensure_ascii=False).encode("utf-8"))
    sleeps: list[float] = []
    api = WeChatHttpApi(
        "https://api.weixin.qq.com",
        http=transport,
        max_attempts=MAX_ATTEMPTS,
        sleep=sleeps.append,
        rng=random.Random(7),
    )
    arguments = {**ARGUMENTS[method], **case.get("call", {})}
    expect: dict[str, Any] = case["expect"]
    call = getattr(api, method)

    if "error" in expect:
        with pytest.raises(UpstreamError) as caught:
            call(**arguments)
        assert type(caught.value).__name__ == expect["error"], caught.value.message
        assert caught.value.errcode == expect["errcode"]
    else:
        result = call(**arguments)
        if "returns" in expect:
            assert result == expect["returns"]
        else:
            missing = object()
            got = {name: plain(getattr(result, name, missing)) for name in expect}
            assert got == expect

    assert len(transport.requests) == expect.get("attempts", 1)
    for request_method, url in transport.requests:
        assert request_method == http_method
        assert urlsplit(url).path == http_path
