"""What a merchant's authorization leaves us: the grant (refresh token, permissions, status) and
the account's profile (docs/architecture.md, Data).

The grant has no TTL, ever, and is never overwritten by an empty or older refresh token: losing it
means the merchant must authorize again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

APPID_RE = re.compile(r"wx[0-9a-f]{16}")  # an account's appid: what a grant is keyed by
AUTHORIZED = "authorized"
REVOKED = "revoked"
NEEDS_REAUTHORIZATION = "needs_reauthorization"


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
    service_type: int
    verify_type: int
    qrcode_url: str
    is_mini_program: bool
    updated_at: int
    extra: dict[str, Any] = field(default_factory=dict)
