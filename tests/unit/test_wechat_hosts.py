"""Which hosts the core calls WeChat at (issue 22, Reach): the configured base first, then WeChat's
disaster-recovery host for a base on WeChat's own hosts, and the stack's whitelist for the logs."""

from __future__ import annotations

import pytest

from wxcomponent.adapters.wechat_http import WeChatHttpApi
from wxcomponent.bootstrap import Container
from wxcomponent.domain.errors import ConfigurationError
from wxcomponent.settings import Settings

REQUIRED = {"TABLE_NAME": "wxcomponent-t", "EVENT_BUS_NAME": "bus"}


@pytest.mark.parametrize(
    ("base", "fallbacks"),
    [
        (None, ("https://api.weixin.qq.com", "https://api2.weixin.qq.com")),
        (
            "https://hk.api.weixin.qq.com",
            ("https://hk.api.weixin.qq.com", "https://api.weixin.qq.com", "https://api2.weixin.qq.com"),
        ),
        ("https://api2.weixin.qq.com/", ("https://api2.weixin.qq.com", "https://api.weixin.qq.com")),
        ("http://127.0.0.1:3100", ("http://127.0.0.1:3100",)),  # the sandbox has no second host unless told
    ],
    ids=["default", "regional", "dr-first", "sandbox"],
)
def test_a_base_on_wechats_hosts_falls_back_to_the_general_then_the_dr_host(
    base: str | None, fallbacks: tuple[str, ...]
) -> None:
    settings = Settings.from_environment({**REQUIRED, **({"WECHAT_API_BASE": base} if base else {})})
    api = Container(settings).wechat
    assert isinstance(api, WeChatHttpApi) and api.base_urls == fallbacks


def test_the_fallbacks_are_configurable_and_can_be_none() -> None:
    given = Settings.from_environment(
        {**REQUIRED, "WECHAT_API_BASE": "http://127.0.0.1:3100", "WECHAT_API_FALLBACKS": "http://127.0.0.1:3101/"}
    )
    assert given.api_fallbacks == ("http://127.0.0.1:3101",)
    assert Settings.from_environment({**REQUIRED, "WECHAT_API_FALLBACKS": "none"}).api_fallbacks == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [("WECHAT_API_FALLBACKS", "https://api2.weixin.qq.com,ftp://x"), ("WHITELIST_IPS", "203.0.113.7,not-an-ip")],
)
def test_a_malformed_host_list_or_whitelist_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name) as raised:
        Settings.from_environment({**REQUIRED, name: value})
    assert value not in str(raised.value)


def test_the_whitelist_is_read_for_the_logs() -> None:
    settings = Settings.from_environment({**REQUIRED, "WHITELIST_IPS": "203.0.113.7, 198.51.100.2"})
    assert settings.whitelist_ips == ("203.0.113.7", "198.51.100.2")
    assert Settings.from_environment(REQUIRED).whitelist_ips == ()
