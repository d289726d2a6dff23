"""An authorized account's JS-SDK tickets, as we keep them (docs/protocol.md §7): the `jsapi_ticket`
its pages sign `wx.config` with, and the card ticket (`wx_card`) coupons need. Each is fetched with
the authorizer's access token, lives 7200 s, and costs a call from a small daily quota: one fetch
per expiry, for everybody.

A ticket remembers when it was last vended, written at most once an hour (`VENDED_MARK_EVERY`), so
that the refresher renews before expiry only the tickets pages still use (`HOT_FOR`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from wxcomponent.domain.tokens import EXPIRY_SAFETY, MIN_REFRESH_AGE, RefreshRefused, good_for

JSAPI_TICKET = "jsapi_ticket"
CARD_TICKET = "card_ticket"
JS_TICKET_KINDS = (JSAPI_TICKET, CARD_TICKET)
# The kind's `type` in getticket's query.
WECHAT_TYPE = {JSAPI_TICKET: "jsapi", CARD_TICKET: "wx_card"}
VENDED_MARK_EVERY = 3600  # a vend writes its mark only when the stored one is older: not a write per vend
HOT_FOR = 24 * 3600  # vended within a day (measured by the mark, so to within an hour): renewed before expiry


@dataclass(frozen=True)
class JsTicket:
    """A JS-SDK ticket of `kind` for the authorizer `owner`. `vended_at` is the last vend marked
    (None: never vended, only renewed). `fetched_at` is when getticket last answered it, when that
    is not `issued_at` (it answered the same ticket again). `refresh_refused` is set only on the
    answer to a report that could not refetch it."""

    owner: str
    kind: str
    ticket: str
    issued_at: int
    expires_at: int
    vended_at: int | None = None
    fetched_at: int | None = None
    refresh_refused: RefreshRefused | None = field(default=None, compare=False)

    def __repr__(self) -> str:  # the ticket value never reaches a log
        return f"JsTicket(owner={self.owner!r}, kind={self.kind!r}, expires_at={self.expires_at})"

    @classmethod
    def issued(cls, owner: str, kind: str, ticket: str, expires_in: int, now: int, vended_at: int | None) -> JsTicket:
        """Stored as expiring a little early, as tokens are: a page never signs with a dying one."""
        return cls(owner, kind, ticket, now, now + max(0, expires_in - EXPIRY_SAFETY), vended_at)

    def valid_for(self, seconds: float, now: float) -> bool:
        """Still valid `seconds` from now. DynamoDB's TTL deletes late, so every read checks this."""
        return now + seconds < self.expires_at

    def good_for(self, min_validity: float, now: float) -> bool:
        """Good enough for a vend asking `min_validity`, without asking WeChat (`tokens.good_for`)."""
        fetched = self.issued_at if self.fetched_at is None else self.fetched_at
        return good_for(self.expires_at, fetched, min_validity, now)

    def hot(self, now: float) -> bool:
        """Vended in the last day: worth renewing before it expires."""
        return self.vended_at is not None and now - self.vended_at < HOT_FOR

    def needs_vended_mark(self, now: float) -> bool:
        return self.vended_at is None or now - self.vended_at >= VENDED_MARK_EVERY

    def too_young_to_refresh(self, now: float) -> bool:
        """A reported ticket this young cannot have been superseded: the same abuse protection as
        tokens (docs/SECURITY.md), so a page that loops on `invalid_token` costs WeChat nothing."""
        return now - self.issued_at < MIN_REFRESH_AGE

    def refused(self, reason: str, until: float) -> JsTicket:
        """This ticket, as the answer to a report that could not refetch it."""
        return replace(self, refresh_refused=RefreshRefused(reason, until))
