"""What HTTP entry points share: the decorator stack's correlation path, raw bodies, error answers.

Kept free of Lambda's event types: entry points pass in what they read from the event.
"""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.event_handler import Response, content_types

from wxcomponent.domain.errors import BadRequest, WxComponentError, http_status
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
    """A short plain-text answer; 4xx for what the caller did, 500 for the rest (logged)."""
    if isinstance(error, WxComponentError):
        status = http_status(error)
        if status >= 500:
            logger.error("request failed", extra={"error": type(error).__name__, "reason": error.message})
        else:
            logger.warning("request refused", extra={"error": type(error).__name__, "reason": error.message})
        return Response(status, content_types.TEXT_PLAIN, f"{error.code}: {error.message}")
    logger.exception("unexpected error")
    return Response(500, content_types.TEXT_PLAIN, "internal: unexpected error")
