"""What a merchant's authorization leaves us: the grant (refresh token, permissions, status) and
the account's profile (docs/architecture.md, Data).

The grant has no TTL, ever, and is never overwritten by an empty or older refresh token: losing it
means the merchant must authorize again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wxcomponent.domain.errors import (
    START_PAGE,
    AuthorizationRevoked,
    NeedsReauthorization,
    NoApiPermission,
    NotAuthorized,
    UnknownAuthorizer,
)

APPID_RE = re.compile(r"wx[0-9a-f]{16}")  # an account's appid: what a grant is keyed by
AUTHORIZED = "authorized"
REVOKED = "revoked"
NEEDS_REAUTHORIZATION = "needs_reauthorization"
# Authorized, but WeChat gave no tokens: the account has no API permission (api_query_auth's page).
# Recorded so it can be told apart; it becomes AUTHORIZED when a later authorization brings tokens.
NO_API_PERMISSION = "no_api_permission"


@dataclass(frozen=True)
class Grant:
    authorizer_appid: str
    component_appid: str
    refresh_token: str
    func_info: tuple[int, ...]
    status: str
    authorized_at: int
    updated_at: int

    def __post_init__(self) -> None:
        if self.status == AUTHORIZED and not self.refresh_token:
            raise ValueError("an authorized grant needs a refresh token")

    def __repr__(self) -> str:  # the refresh token never reaches a log
        return f"Grant(authorizer_appid={self.authorizer_appid!r}, status={self.status!r})"

    @property
    def active(self) -> bool:
        return self.status == AUTHORIZED


def require_active(grant: Grant | None) -> Grant:
    """The grant, if tokens may be had for it; else the refusal that says why and what to do next.
    Only callers the caller policy allowed to ask for this appid ever read it (services/vending.py)."""
    if grant is not None and grant.active:
        return grant
    if grant is None:
        raise UnknownAuthorizer(
            "no merchant has authorized this platform for this appid: send the merchant to " + START_PAGE
        )
    if grant.status == REVOKED:
        raise AuthorizationRevoked(
            "the account revoked its authorization of this platform, and its tokens were deleted: the merchant"
            " must authorize again, at " + START_PAGE
        )
    if grant.status == NEEDS_REAUTHORIZATION:
        raise NeedsReauthorization(
            "WeChat no longer accepts the account's refresh token, and none could be recovered: the merchant"
            " must authorize again, at " + START_PAGE
        )
    if grant.status == NO_API_PERMISSION:
        raise NoApiPermission(
            "the account authorized the platform without API permission: WeChat gives no token for it"
            " until it authorizes again with API permission, at " + START_PAGE
        )
    raise NotAuthorized(f"the grant's state {grant.status!r} gives no token")  # none other is written


def func_ids(func_info: list[dict[str, Any]]) -> tuple[int, ...]:
    """The permission-set ids of WeChat's `func_info` list, sorted."""
    ids = []
    for entry in func_info:
        category = entry.get("funcscope_category") if isinstance(entry, dict) else None
        if isinstance(category, dict) and isinstance(category.get("id"), int):
            ids.append(category["id"])
    return tuple(sorted(set(ids)))


@dataclass(frozen=True)
class Profile:
    """The account's public face, as `api_get_authorizer_info` describes it."""

    authorizer_appid: str
    nick_name: str
    head_img: str
    user_name: str
    alias: str
    principal_name: str
    service_type: int | None  # None: WeChat gave no service_type_info (Channels, shops)
    verify_type: int | None
    qrcode_url: str
    is_mini_program: bool
    updated_at: int
    extra: dict[str, Any] = field(default_factory=dict)
    account_kind: str = ""  # official_account, mini_program, channels or shop; "" before it was kept
