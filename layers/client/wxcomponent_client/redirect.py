"""The redirect to the vendor's `AuthorizedRedirectUrl` after a merchant's authorization, checked
offline with the `authorized_redirect_key` shared with the token center (the core signs it:
`wxcomponent.domain.binding`)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class AuthorizedRedirect:
    """What the token center's redirect to your `AuthorizedRedirectUrl` proves."""

    authorizer_appid: str
    state: str  # yours, as you passed it to /wechat/authorize?state=…


_EXPIRES_RE = re.compile(r"[0-9]{1,12}")
_SIGNATURE_RE = re.compile(r"[0-9a-f]{64}")


class RedirectRejected(Exception):
    """The redirect was not signed by the token center, was altered, or is too old."""


def verify_authorized_redirect(query: Mapping[str, str], key: str, *, now: float | None = None) -> AuthorizedRedirect:
    """Checks the query of the redirect to your page (`authorizer_appid`, `state`, `expires`,
    `signature`) with the `authorized_redirect_key` you share with the token center, offline. Bind
    the appid to your user only after this, and only if `state` is the one you gave this user."""
    appid, state = query.get("authorizer_appid", ""), query.get("state", "")
    expires, signature = query.get("expires", ""), query.get("signature", "")
    if not _EXPIRES_RE.fullmatch(expires) or not _SIGNATURE_RE.fullmatch(signature):
        raise RedirectRejected("the redirect is incomplete")
    message = f"{appid}\n{state}\n{expires}".encode()
    expected = hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise RedirectRejected("the redirect's signature does not match")
    if int(expires) < (time.time() if now is None else now):
        raise RedirectRejected("the redirect has expired")
    return AuthorizedRedirect(appid, state)
