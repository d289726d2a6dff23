"""Access tokens as we keep them: the component's and each authorizer's (docs/architecture.md, Data),
and the rules every refresh of a token or a JS-SDK ticket obeys: when a report may refresh it, how
many refreshes reports may force, and when a `min_validity` may (docs/SECURITY.md, quota)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# WeChat says 7200 s; we treat a token as expired a little early so a caller never gets one that
# dies in flight.
EXPIRY_SAFETY = 60

# A rejected token younger than this is never refreshed on a report: WeChat keeps a superseded
# token alive about 5 minutes, so a token this young cannot have been superseded, and a caller that
# loops on `invalid_token` must not spend WeChat's daily quota (docs/SECURITY.md).
MIN_REFRESH_AGE = 300

# Reports (a vend's `invalid_token`, getticket's 40001, our own calls' 40001) may force at most this
# many refreshes of one token or ticket in any `FORCED_REFRESH_WINDOW` seconds (a token's life),
# beyond its scheduled refresh. Past that the report is answered with the stored value: a caller
# looping on reports, or on an API that refuses the token for good, costs no call (issue 19, M2).
FORCED_REFRESH_WINDOW = 7200
FORCED_REFRESHES_PER_WINDOW = 2

# A value fetched this recently is fetched again only once it has run out (or on a report), never
# for a `min_validity` it falls short of. With WeChat's 7200 s a value this young has over 5000 s
# left, so this changes nothing; when WeChat gives a shorter life (a getticket answering the live
# ticket again, say), asking again would only give as short a one, on every vend (issue 19, S2).
MIN_VALIDITY_REFRESH_AGE = 1800

TOO_YOUNG = "too_young"
BUDGET = "budget"


@dataclass(frozen=True)
class RefreshRefused:
    """Why a report of the stored value was answered with that value instead of a refresh
    (`TOO_YOUNG`, `BUDGET`: the contract's `refresh_refused`), and from when a report could refresh it."""

    reason: str
    until: float


def good_for(expires_at: int, fetched_at: int, min_validity: float, now: float) -> bool:
    """Valid for `min_validity` seconds more; or fetched less than `MIN_VALIDITY_REFRESH_AGE` ago and
    valid still (WeChat gave it this short a life: the freshest there is)."""
    if now + min_validity < expires_at:
        return True
    return now - fetched_at < MIN_VALIDITY_REFRESH_AGE and now < expires_at


@dataclass(frozen=True)
class AccessToken:
    """A component or authorizer access token. `owner` is the component or authorizer appid.
    `refresh_refused` is set only on the answer to a report that could not refresh it."""

    owner: str
    access_token: str
    issued_at: int
    expires_at: int
    refresh_refused: RefreshRefused | None = field(default=None, compare=False)

    def __repr__(self) -> str:  # the token value never reaches a log
        return f"AccessToken(owner={self.owner!r}, expires_at={self.expires_at})"

    @classmethod
    def issued(cls, owner: str, access_token: str, expires_in: int, now: int) -> AccessToken:
        return cls(owner, access_token, now, now + max(0, expires_in - EXPIRY_SAFETY))

    def valid_for(self, seconds: float, now: float) -> bool:
        """Still valid `seconds` from now. DynamoDB's TTL deletes late, so every read checks this."""
        return now + seconds < self.expires_at

    def good_for(self, min_validity: float, now: float) -> bool:
        """Good enough for a caller asking `min_validity`, without asking WeChat (`good_for`)."""
        return good_for(self.expires_at, self.issued_at, min_validity, now)

    def too_young_to_refresh(self, now: float) -> bool:
        return now - self.issued_at < MIN_REFRESH_AGE

    def refused(self, reason: str, until: float) -> AccessToken:
        """This token, as the answer to a report that could not refresh it."""
        return replace(self, refresh_refused=RefreshRefused(reason, until))


def too_young_to_refresh(token: AccessToken, now: float) -> bool:
    return token.too_young_to_refresh(now)


@dataclass(frozen=True)
class ForcedRefreshes:
    """The refreshes reports forced on one token or ticket (named by its lease), by when each was
    made, as the table keeps them; `version` is the write that stored them (compare-and-set)."""

    at: tuple[int, ...]
    version: str = ""

    def recent(self, now: float) -> tuple[int, ...]:
        """Those within the window: what still counts against the budget."""
        return tuple(sorted(made for made in self.at if made > now - FORCED_REFRESH_WINDOW))


def spend_forced_refresh(seen: ForcedRefreshes | None, now: int) -> ForcedRefreshes | None:
    """The budget with one more forced refresh at `now` (only the recent ones kept), or None when
    `FORCED_REFRESHES_PER_WINDOW` were forced within the window already."""
    recent = seen.recent(now) if seen is not None else ()
    if len(recent) >= FORCED_REFRESHES_PER_WINDOW:
        return None
    return ForcedRefreshes((*recent, now))


def forced_refresh_allowed_at(seen: ForcedRefreshes | None, now: float) -> float:
    """When a report may force a refresh again (`now`, when it may now)."""
    recent = seen.recent(now) if seen is not None else ()
    if len(recent) < FORCED_REFRESHES_PER_WINDOW:
        return now
    return recent[len(recent) - FORCED_REFRESHES_PER_WINDOW] + FORCED_REFRESH_WINDOW
