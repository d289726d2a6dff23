"""What HTTP entry points share: raw bodies and plain-text error answers.

Kept free of Lambda's event types: entry points pass in what they read from the event.
"""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError

from wxcomponent.domain.errors import BadRequest, ConfigurationError, WxComponentError, http_status
from wxcomponent.observability import logger


def raw_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The request body as bytes, whatever API Gateway did to it."""
    if not body:
        return b""
    if not is_base64_encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("body is not valid base64") from exc


def error_response(error: Exception) -> Response[str]:
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
            return Response(status, content_types.TEXT_PLAIN, f"{code}: see the log, reference {reference}", headers)
        logger.warning("request refused", extra=extra)
        return Response(status, content_types.TEXT_PLAIN, f"{error.code}: {error.message}", headers)
    if isinstance(error, ServiceError) and 400 <= int(error.status_code) < 500:
        # The router's own refusals: a path its `<appid>` cannot match (API Gateway hands over the
        # decoded path, so `€` or an emoji arrive as such), a method it does not serve.
        status = int(error.status_code)
        text = "not_found: no such resource" if status == 404 else "bad_request: the request was refused"
        logger.warning("request refused", extra={"error": type(error).__name__, "status": status})
        return Response(status, content_types.TEXT_PLAIN, text, headers)
    logger.error("unexpected error", exc_info=error)  # the reason, for the reference the caller got
    return Response(500, content_types.TEXT_PLAIN, f"internal: see the log, reference {reference}", headers)
