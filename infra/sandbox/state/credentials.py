"""The credentials WeChat hands out: tokens that outlive their successor by OVERLAP, one-shot codes.

Plain data with no lock of its own: the part of the world that holds them (`Component`, `Merchants`)
guards them with its lock.
"""

from __future__ import annotations

from dataclasses import dataclass

OVERLAP = 300  # a superseded token or rotated refresh token lives 5 more minutes


@dataclass
class IssuedToken:
    value: str
    expires_at: float
    superseded_at: float | None = None


@dataclass
class TokenPair:
    """The current token and the one it replaced, which stays valid for OVERLAP seconds."""

    current: IssuedToken | None = None
    previous: IssuedToken | None = None

    def issue(self, value: str, now: float, ttl: float) -> IssuedToken:
        if self.current is not None:
            self.current.superseded_at = now
            self.previous = self.current
        self.current = IssuedToken(value, now + ttl)
        return self.current

    def check(self, value: str, now: float) -> int:
        """0 valid, 42001 expired, 40001 unknown or superseded for more than OVERLAP."""
        if self.current is not None and value == self.current.value:
            return 0 if now < self.current.expires_at else 42001
        prev = self.previous
        if prev is not None and value == prev.value and prev.superseded_at is not None:
            if now >= prev.superseded_at + OVERLAP:
                return 40001
            return 0 if now < prev.expires_at else 42001
        return 40001


@dataclass
class Code:
    """A pre-auth code or an authorization code (then with its account)."""

    value: str
    expires_at: float
    appid: str = ""
    used: bool = False
