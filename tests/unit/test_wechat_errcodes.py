"""Every errcode WeChat documents for the APIs we call maps to a typed error with a deliberate
retry-after (issue 18; docs/protocol.md §3 has the same table with its sources).

`retry_after` is how long a refresh that failed with it is remembered for every caller (None: never
remembered, because the service that meets it acts on it where it happens)."""

from __future__ import annotations

import pytest

from wxcomponent.domain.wechat import (
    AccountRevokedAuthorization,
    AuthorizationCodeRejected,
    ConfigurationRejected,
    CustomerServiceLimit,
    PermissionRejected,
    QuotaExceeded,
    RefreshFailure,
    RefreshTokenRejected,
    RequestRejected,
    SystemBusy,
    TokenRejected,
    UnknownWeChatError,
    UpstreamError,
    VerifyTicketRejected,
    WebLoginCodeRejected,
    error_for,
)

U1 = "https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_access_token.html"
U6 = "https://developers.weixin.qq.com/doc/oplatform/openApi/ticket-token/api_getpreauthcode"
U15 = "https://developers.weixin.qq.com/doc/oplatform/openApi/openapi/api_componentclearquota_v2.html"
U17 = "https://developers.weixin.qq.com/doc/service/en/api/webdev/jssdk/api_getticket.html"
U24 = "https://developers.weixin.qq.com/doc/subscription/guide/product/kf/intro.md"
U24B = "https://developers.weixin.qq.com/doc/service/en/api/customer/message/api_sendcustommessage"
U31 = "https://developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html"
C3 = "https://developers.weixin.qq.com/community/develop/doc/0006aa0152ce0011139d7cab956800"
C5 = "https://developers.weixin.qq.com/community/develop/doc/0000c454bf4000e068d265cef6bc00"
C9 = "https://developers.weixin.qq.com/community/develop/doc/0002ca075c44180dd2022811c65c00"
C8 = "https://developers.weixin.qq.com/community/develop/doc/000262c8de4e78e7141ce6aa056c00"
U12 = "https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/creat_token.html"

TEN_MINUTES, HOUR, MINUTE, TEN_SECONDS = 600, 3600, 60, 10

# errcode, WeChat's meaning, the typed error, retry-after, source
DOCUMENTED: list[tuple[int, str, type[UpstreamError], int | None, str]] = [
    (-1, "system busy", SystemBusy, TEN_SECONDS, U6),
    (40001, "invalid credential / wrong AppSecret on a token call", TokenRejected, TEN_MINUTES, U1),
    (40014, "invalid access_token", TokenRejected, TEN_MINUTES, U31),
    (42001, "access_token expired", TokenRejected, TEN_MINUTES, U31),
    (40013, "invalid appid", ConfigurationRejected, TEN_MINUTES, U1),
    (61011, "invalid component", ConfigurationRejected, TEN_MINUTES, U1),
    (40125, "invalid appsecret", ConfigurationRejected, TEN_MINUTES, U1),
    (41004, "appsecret missing", ConfigurationRejected, TEN_MINUTES, U1),
    (41001, "access_token missing", ConfigurationRejected, TEN_MINUTES, U6),
    (61004, "client IP not whitelisted", ConfigurationRejected, TEN_MINUTES, U1),
    (40164, "client IP not whitelisted", ConfigurationRejected, TEN_MINUTES, U12),
    (45009, "daily quota reached", QuotaExceeded, HOUR, U15),
    (61005, "component ticket expired", VerifyTicketRejected, MINUTE, U1),
    (61006, "component ticket invalid", VerifyTicketRejected, MINUTE, U1),
    (48001, "api unauthorized", PermissionRejected, TEN_MINUTES, U1),
    (61007, "api unauthorized to component", PermissionRejected, TEN_MINUTES, C5),
    (61003, "component is not authorized by this account", AccountRevokedAuthorization, None, C5),
    (61009, "authorization code invalid", AuthorizationCodeRejected, None, C9),
    (61010, "authorization code expired", AuthorizationCodeRejected, None, C9),
    (61023, "refresh_token invalid", RefreshTokenRejected, None, C3),
    (45015, "response out of time limit (48 h window)", CustomerServiceLimit, None, U24),
    (45047, "out of response count limit", CustomerServiceLimit, None, U24B),
    (40097, "invalid args", RequestRejected, TEN_MINUTES, U17),
    (47001, "data format error", RequestRejected, TEN_MINUTES, U31),
    (44002, "empty post data", RequestRejected, TEN_MINUTES, U31),
    (40003, "invalid openid", RequestRejected, TEN_MINUTES, U24B),
    (40008, "invalid message type", RequestRejected, TEN_MINUTES, U31),
    (44004, "empty content", RequestRejected, TEN_MINUTES, U31),
    (40007, "invalid media_id", RequestRejected, TEN_MINUTES, U31),
    (43001, "require GET method", RequestRejected, TEN_MINUTES, U31),
    (43002, "require POST method", RequestRejected, TEN_MINUTES, U31),
    (40002, "invalid grant_type", RequestRejected, TEN_MINUTES, U31),
    # Web login's code (sns/oauth2/component/access_token): the caller's to fix, never remembered.
    (40029, "invalid code (or expired, or another account's)", WebLoginCodeRejected, None, C8),
    (40163, "code been used", WebLoginCodeRejected, None, C8),
]
NOW = 1_767_225_600.0


@pytest.mark.parametrize(
    ("errcode", "meaning", "cls", "retry_after", "source"), DOCUMENTED, ids=[str(row[0]) for row in DOCUMENTED]
)
def test_each_documented_errcode_is_typed_with_a_deliberate_retry_after(
    errcode: int, meaning: str, cls: type[UpstreamError], retry_after: int | None, source: str
) -> None:
    assert source.startswith("https://developers.weixin.qq.com/")
    error = error_for(errcode, meaning, api="api_component_token")
    assert type(error) is cls and error.errcode == errcode
    assert error.code == ("bad_request" if cls is WebLoginCodeRejected else "upstream_error")
    failure = RefreshFailure.of(error, NOW)
    assert (None if failure is None else failure.until - NOW) == retry_after
    if failure is not None:  # what every other caller is answered until then: the same typed error
        again = failure.error()
        assert type(again) is cls and again.errcode == errcode and "remembered" in again.message


def test_an_undocumented_errcode_is_unknown_and_asked_again_soon() -> None:
    error = error_for(89999, "something new")
    assert type(error) is UnknownWeChatError
    failure = RefreshFailure.of(error, NOW)
    assert failure is not None and failure.until == NOW + TEN_SECONDS


def test_the_table_has_each_errcode_once() -> None:
    codes = [row[0] for row in DOCUMENTED]
    assert len(codes) == len(set(codes))
