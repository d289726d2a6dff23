"""Binding an authorization to the browser that started it, and proving the outcome to the vendor
(docs/SECURITY.md).

WeChat's redirect carries nothing that ties it to the browser that started: without our own
`state`, anyone can hand a victim's browser a callback with the attacker's code (login CSRF), or a
used code to replay. The start page sets a random state in a `__Host-` cookie (HttpOnly, Secure,
SameSite=Lax, Path=/, no Domain: a sibling subdomain cannot plant one) and puts the same value in
`redirect_uri`; the callback refuses a missing or different state before anything reaches WeChat.

The state is also recorded on our side with the pre-auth code it was issued with (both hashed), for
that code's life, and the first callback that brings it consumes it: one start-page load buys one
exchange at most. A code is bound to where it started (`CodeOrigin`): the callback that exchanges
it records its state and pre-auth code, and the `authorized` push records its `PreAuthCode`. A code
exchanged already is shown only to the callback whose state was issued with that pre-auth code.

The vendor's page learns which account was authorized from a redirect it can check offline:
`authorizer_appid`, the vendor's own `state` (passed through `/wechat/authorize?state=…`),
`expires` and `signature`, an HMAC-SHA256 under a key only the vendor and we hold
(`authorized_redirect_key` in the component secret). `wxcomponent.client.verify_authorized_redirect`
checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from wxcomponent.domain.errors import BadRequest, ConfigurationError
from wxcomponent.domain.grants import Profile

STATE_COOKIE = "__Host-wxcomponent_state"
PRE_AUTH_CODE_LIFETIME = 600  # seconds, when WeChat's answer gives no usable expires_in (docs/protocol.md §3)
MAX_STATE_LIFETIME = 1800  # seconds: the longest pre-auth code life WeChat's pages name
AUTH_CODE_LIFETIME = 600  # seconds WeChat's authorization code lives (the redirect's expires_in=600)
STATE_RE = re.compile(r"[A-Za-z0-9_-]{32}")
VENDOR_STATE_RE = re.compile(r"[A-Za-z0-9._~-]{1,128}")
PROOF_LIFETIME = 600  # seconds the vendor's page has to check the redirect
MIN_KEY_LENGTH = 32


class StateMismatch(BadRequest):
    """The callback's state is missing or is not this browser's: a link used already, opened in
    another browser, or forged."""


class StateUsed(StateMismatch):
    """The state is this browser's, but we never issued it, it has expired, or a callback already
    used it (with another code)."""


class CodeNotStartedHere(StateMismatch):
    """The code was exchanged already, for another start of the authorization (or for none we can
    tell): the callback is not shown whose account it was."""


@dataclass(frozen=True)
class CodeOrigin:
    """Where an authorization code came from, as far as whoever exchanges it knows: the hash of the
    pre-auth code its authorization was started with, and of the browser state whose callback brought
    it. Empty when unknown (a push without PreAuthCode, the release check)."""

    pre_auth_hash: str = ""
    state_hash: str = ""

    def same_start(self, other: CodeOrigin) -> bool:
        """Both name the same start page's load: the same state, or the same pre-auth code."""
        return _same(self.state_hash, other.state_hash) or _same(self.pre_auth_hash, other.pre_auth_hash)


NO_ORIGIN = CodeOrigin()


@dataclass(frozen=True)
class CodeExchange:
    """A finished exchange of a code, as its claim records it."""

    authorizer_appid: str
    claimed_at: float  # when the code was first claimed: it was issued before that
    origin: CodeOrigin = NO_ORIGIN


def new_state() -> str:
    """32 URL-safe characters: 192 random bits."""
    return secrets.token_urlsafe(24)


def digest(value: str) -> str:
    """What the table keeps of a state, a pre-auth code or an authorization code: its SHA-256."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def state_lifetime(pre_auth_expires_in: int) -> int:
    """A state is worth what its pre-auth code is: WeChat's expires_in, at most 30 minutes."""
    life = pre_auth_expires_in if pre_auth_expires_in > 0 else PRE_AUTH_CODE_LIFETIME
    return min(life, MAX_STATE_LIFETIME)


def _same(ours: str, theirs: str) -> bool:
    return bool(ours) and bool(theirs) and hmac.compare_digest(ours, theirs)


def same_browser(state: str, cookie: str) -> bool:
    """The callback's state is the one this browser's cookie holds (compared in constant time)."""
    if not STATE_RE.fullmatch(state) or not STATE_RE.fullmatch(cookie):
        return False
    return hmac.compare_digest(state.encode("ascii"), cookie.encode("ascii"))


def redirect_signature(key: str, authorizer_appid: str, vendor_state: str, expires: int) -> str:
    """HMAC-SHA256, hex, over `appid \\n state \\n expires` (the client package computes the same)."""
    message = f"{authorizer_appid}\n{vendor_state}\n{expires}".encode()
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def check_same_browser(state: str, cookie: str) -> None:
    """Refuses a callback this browser did not start (before anything reaches WeChat)."""
    if not same_browser(state, cookie):
        raise StateMismatch("the authorization was not started in this browser (state missing or different)")


def vendor_redirect(vendor_url: str, authorizer_appid: str, vendor_state: str, key: str, now: float) -> str:
    """The vendor's page, with what it needs to believe us: the account, its own state back, and a
    signature it checks offline. No key, no redirect: an unsigned one could be forged by anyone."""
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigurationError(
            f"authorized_redirect_key (at least {MIN_KEY_LENGTH} characters) is required to redirect to the vendor"
        )
    if vendor_state and not VENDOR_STATE_RE.fullmatch(vendor_state):
        raise BadRequest("state must be 1 to 128 of A-Z a-z 0-9 . _ ~ -")
    expires = int(now) + PROOF_LIFETIME
    query = {
        "authorizer_appid": authorizer_appid,
        "state": vendor_state,
        "expires": str(expires),
        "signature": redirect_signature(key, authorizer_appid, vendor_state, expires),
    }
    separator = "&" if "?" in vendor_url else "?"
    return f"{vendor_url}{separator}{urlencode(query)}"


@dataclass(frozen=True)
class AuthorizationResult:
    """What an authorization code's exchange leaves: whose account, its profile, and how it went."""

    authorizer_appid: str
    profile: Profile | None
    new: bool  # False when the code had already been exchanged (by the push or the callback)
    api_permission: bool = True  # False: recorded, but WeChat gave no token for the account
    exchanged: CodeExchange | None = None  # when not new: that exchange, as the code's claim records it
