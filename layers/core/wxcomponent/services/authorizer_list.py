"""WeChat's own list of the accounts that authorized the component (`api_get_authorizer_list`),
the authority we fall back on: a refresh token to recover (61023), a revocation to confirm (61003),
a grant whose exchange answer was lost."""

from __future__ import annotations

from functools import partial

from wxcomponent.domain.wechat import AuthorizerListItem, AuthorizerListPage
from wxcomponent.ports import WeChatApi
from wxcomponent.services.component_token import ComponentTokenService

LIST_PAGE = 500  # api_get_authorizer_list's maximum count


def find_listed(
    component_tokens: ComponentTokenService, api: WeChatApi, component_appid: str, authorizer_appid: str
) -> AuthorizerListItem | None:
    """The authorizer as WeChat lists it, or None when WeChat does not list it (page by page)."""

    def page(token: str, *, offset: int) -> AuthorizerListPage:
        return api.get_authorizer_list(token, component_appid, offset, LIST_PAGE)

    offset = 0
    while True:
        listed = component_tokens.call(partial(page, offset=offset))
        for item in listed.items:
            if item.authorizer_appid == authorizer_appid:
                return item
        offset += len(listed.items)
        if not listed.items or offset >= listed.total_count:
            return None
