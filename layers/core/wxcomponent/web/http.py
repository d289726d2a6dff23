"""What HTTP entry points share: their error answers (routing and the event: `web.router`)."""

from __future__ import annotations

from wxcomponent.domain.errors import ConfigurationError, WxComponentError, http_status
from wxcomponent.observability import logger
from wxcomponent.web.router import TEXT_PLAIN, Response, raw_body

__all__ = ["error_response", "raw_body"]


def error_response(error: Exception) -> Response:
    """A short plain-text answer: for a 4xx, what the caller got wrong (our own words); for a 5xx,
    only a reference, since the reason may hold WeChat's errmsg (a 61004 names our egress IP)."""
    headers = {"X-Content-Type-Options": "nosniff"}
    reference = logger.get_correlation_id() or "-"
    if isinstance(error, WxComponentError):
        status = http_status(error)
        extra = {"error": type(error).__name__, "reason": error.message, "errcode": error.errcode}
        if status >= 500:
            logger.error("request failed", extra=extra)
            code = "not_configured" if isinstance(error, ConfigurationError) else error.code
            return Response(status, TEXT_PLAIN, f"{code}: see the log, reference {reference}", headers)
        logger.warning("request refused", extra=extra)
        return Response(status, TEXT_PLAIN, f"{error.code}: {error.message}", headers)
    logger.exception("unexpected error")
    return Response(500, TEXT_PLAIN, f"internal: see the log, reference {reference}", headers)
