"""Access tokens as we keep them: the component's and each authorizer's (docs/architecture.md, Data)."""

from __future__ import annotations

from dataclasses import dataclass

# WeChat says 7200 s; we treat a token as expired a little early so a caller never gets one that
# dies in flight.
EXPIRY_SAFETY = 60


@dataclass(frozen=True)
class AccessToken:
    """A component or authorizer access token. `owner` is the component or authorizer appid."""

    owner: str
    access_token: str
    issued_at: int
    expires_at: int

    def __repr__(self) -> str:  # the token value never reaches a log
        return f"AccessToken(owner={self.owner!r}, expires_at={self.expires_at})"

    @classmethod
    def issued(cls, owner: str, access_token: str, expires_in: int, now: int) -> AccessToken:
        return cls(owner, access_token, now, now + max(0, expires_in - EXPIRY_SAFETY))

    def valid_for(self, seconds: float, now: float) -> bool:
        """Still valid `seconds` from now. DynamoDB's TTL deletes late, so every read checks this."""
        return now + seconds < self.expires_at


# A rejected token younger than this is never refreshed on a report: WeChat keeps a superseded
# token alive about 5 minutes, so a token this young cannot have been superseded, and a caller that
# loops on `invalid_token` must not spend WeChat's daily quota (docs/SECURITY.md).
MIN_REFRESH_AGE = 300


def too_young_to_refresh(token: AccessToken, now: float) -> bool:
    return now - token.issued_at < MIN_REFRESH_AGE
