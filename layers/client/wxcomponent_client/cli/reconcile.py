"""`reconcile`: our grants beside WeChat's own list of the accounts that authorized the platform
(`api_get_authorizer_list`, through the core's services), repaired where the list proves us wrong.

For each listed account:
- our grant holds the listed refresh token: nothing to do;
- an authorized grant with another refresh token (stale: a rotation whose answer was lost): the
  listed one replaces it, compare-and-set on ours (`Authorizers.update_refresh_token`);
- no grant, or one marked `needs_reauthorization` whose token WeChat has since replaced: the core's
  `AuthorizationService.reconcile` stores the listed one, due for refresh at once, and publishes it;
- a grant we hold as revoked: only reported. A list can lag a revocation, and only a new
  authorization (its push) brings a revoked grant back.
Afterwards every grant we hold as authorized that WeChat did not list is reported: the refresher
will meet 61003 for it. Nothing is deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wxcomponent.bootstrap import Container
    from wxcomponent.domain.wechat import AuthorizerListItem, AuthorizerListPage

PAGE = 500  # api_get_authorizer_list's largest page


@dataclass
class Finding:
    appid: str
    problem: str  # stale_refresh_token, missing_grant, needs_reauthorization, revoked_but_listed
    action: str  # repaired, would_repair, not_repaired, reported


@dataclass
class Reconciliation:
    listed: int = 0
    in_order: int = 0
    findings: list[Finding] = field(default_factory=list)
    unknown_to_wechat: list[str] = field(default_factory=list)


def listed_authorizers(wx: Container, on_total: Callable[[int], None]) -> Iterator[AuthorizerListItem]:
    """WeChat's list, page by page, with the component token (refreshed once if WeChat rejects it)."""
    component_appid = wx.component().component_appid
    offset = 0
    while True:
        start = offset  # bound now: the lambda runs inside `call`

        def page(token: str, start: int = start) -> AuthorizerListPage:
            return wx.wechat.get_authorizer_list(token, component_appid, start, PAGE)

        listed = wx.component_tokens.call(page)
        on_total(listed.total_count)
        yield from listed.items
        offset += len(listed.items)
        if not listed.items or offset >= listed.total_count:
            return


def reconcile(
    wx: Container,
    authorized: list[str],
    *,
    repair: bool,
    on_total: Callable[[int], None] = lambda _: None,
    on_item: Callable[[], None] = lambda: None,
) -> Reconciliation:
    """`authorized`: the grants we hold as authorized (to find those WeChat no longer lists)."""
    result = Reconciliation()
    seen: set[str] = set()
    for item in listed_authorizers(wx, on_total):
        result.listed += 1
        seen.add(item.authorizer_appid)
        finding = _check(wx, item, repair=repair)
        if finding is None:
            result.in_order += 1
        else:
            result.findings.append(finding)
        on_item()
    result.unknown_to_wechat = sorted(set(authorized) - seen)
    return result


def _check(wx: Container, item: AuthorizerListItem, *, repair: bool) -> Finding | None:
    appid = item.authorizer_appid
    grant = wx.authorizers.get_grant(appid)
    if grant is not None and grant.status == "revoked":
        return Finding(appid, "revoked_but_listed", "reported")
    if grant is not None and grant.refresh_token == item.refresh_token:
        return None
    if not item.refresh_token:
        return Finding(appid, "listed_without_refresh_token", "reported")
    if grant is not None and grant.active:
        if not repair:
            return Finding(appid, "stale_refresh_token", "would_repair")
        done = wx.authorizers.update_refresh_token(appid, grant.refresh_token, item.refresh_token, int(time.time()))
        return Finding(appid, "stale_refresh_token", "repaired" if done else "not_repaired")
    problem = "missing_grant" if grant is None else "needs_reauthorization"
    if not repair:
        return Finding(appid, problem, "would_repair")
    return Finding(appid, problem, "repaired" if wx.authorizations.reconcile(appid) else "not_repaired")
