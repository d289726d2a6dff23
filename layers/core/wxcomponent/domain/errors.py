"""The domain's errors: a small hierarchy that every entry point maps to its answer in one place.

Messages are safe to log and to show: they never carry a token, a secret or a decrypted body.
"""

from __future__ import annotations


class WxComponentError(Exception):
    """Base of every error the core raises on purpose."""

    code = "internal"
    retryable = False  # the same request may well succeed in a moment

    def __init__(self, message: str, *, errcode: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errcode = errcode


class BadRequest(WxComponentError):
    """The caller sent something we refuse; nothing was changed."""

    code = "bad_request"


class InvalidSignature(BadRequest):
    """`signature` or `msg_signature` is missing or does not match (sample code -40001)."""


class StaleTimestamp(BadRequest):
    """The push's timestamp is too far from now: a replay or a broken clock."""


class MalformedMessage(BadRequest):
    """Not XML, forbidden XML (DOCTYPE, entities), or a required element is missing (-40002)."""


class DecryptError(BadRequest):
    """Not base64, not whole AES blocks, bad padding, or a length that overruns (-40007/-40008/-40010)."""


class AppIdMismatch(BadRequest):
    """The ciphertext was made for another component appid (-40005)."""


class PayloadTooLarge(BadRequest):
    """The body is over the size we accept."""


class ConfigurationError(WxComponentError):
    """Settings are missing or malformed; an operator must fix them. HTTP 503 (`not_configured` on
    the public URLs); through vending, the contract's `internal` with the reason."""


class StorageUnavailable(WxComponentError):
    """The table throttled, failed or could not be reached, beyond the client's own retries.
    The contract's `internal`, marked retryable: nothing was decided, a retry may well succeed."""

    retryable = True


class VerifyTicketMissing(WxComponentError):
    """No verify ticket yet, or only an expired one: wait for WeChat's next push."""

    code = "ticket_missing"


class NotAuthorized(WxComponentError):
    """Nothing may be vended for this: the caller policy refuses it (no reason: such a caller learns
    nothing about the appid), or the account's grant gives no token (a subclass, with its reason)."""

    code = "not_authorized"
    reason: str | None = None  # set where the caller, allowed to ask, may be told why


# What the subclasses' messages send the merchant back to: the stack's `AuthorizationStartUrl`.
START_PAGE = "the authorization start page (/wechat/authorize, the AuthorizationStartUrl output)"


class UnknownAuthorizer(NotAuthorized):
    """We hold no grant from this appid: it never authorized this platform (or is no account)."""

    reason = "unknown"


class AuthorizationRevoked(NotAuthorized):
    """The account revoked its authorization (取消授权): its tokens were deleted."""

    reason = "revoked"


class NeedsReauthorization(NotAuthorized):
    """WeChat refuses the account's refresh token and none could be recovered: only a new
    authorization brings one."""

    reason = "needs_reauthorization"


class NoApiPermission(NotAuthorized):
    """The account authorized us without API permission: WeChat gave no token for it, so none can be
    vended until it authorizes again with API permission."""

    reason = "no_api_permission"


class ComponentAppidAsAuthorizer(NotAuthorized):
    """The component's own appid, sent where an authorizer's belongs: its token is `kind: component`."""

    reason = "component_appid"


_STATUS_BY_CODE = {
    "bad_request": 400,
    "not_authorized": 404,
    "ticket_missing": 503,
    "upstream_error": 502,
    "internal": 500,
}


def http_status(error: WxComponentError) -> int:
    """The one map from domain errors to HTTP statuses, shared by every HTTP entry point."""
    if isinstance(error, PayloadTooLarge):
        return 413
    if isinstance(error, ConfigurationError):
        return 503  # not configured yet (a fresh deploy's secret): unavailable, not broken
    return _STATUS_BY_CODE.get(error.code, 500)
