"""Binding an authorization to the browser that started it, and proving the outcome to the vendor
(docs/SECURITY.md).

WeChat's redirect carries nothing that ties it to the browser that started: without our own
`state`, anyone can hand a victim's browser a callback with the attacker's code (login CSRF), or a
used code to replay. The start page sets a random state in an HttpOnly, Secure, SameSite=Lax
cookie and puts the same value in `redirect_uri`; the callback refuses a missing or different
state before anything reaches WeChat.

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
from urllib.parse import urlencode

from wxcomponent.domain.errors import BadRequest, ConfigurationError

STATE_COOKIE = "wxcomponent_state"
STATE_LIFETIME = 3600  # seconds a started authorization may take (WeChat's code lives 1 hour)
STATE_RE = re.compile(r"[A-Za-z0-9_-]{32}")
VENDOR_STATE_RE = re.compile(r"[A-Za-z0-9._~-]{1,128}")
PROOF_LIFETIME = 600  # seconds the vendor's page has to check the redirect
MIN_KEY_LENGTH = 32


class StateMismatch(BadRequest):
    """The callback's state is missing or is not this browser's: a link used already, opened in
    another browser, or forged."""


def new_state() -> str:
    """32 URL-safe characters: 192 random bits."""
    return secrets.token_urlsafe(24)


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
