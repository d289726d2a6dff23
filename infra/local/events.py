"""The one builder of API Gateway HTTP API (payload format 2.0) events: the local gateway and the
tests both use it, so what the handlers see locally is what they see in AWS."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")
# The local stack's stage variables, as template.yaml gives the HTTP API's stage its own: the door
# `POST /tokens` trusts (TOKENS_DOOR, which `infra.local.stack.local_environment` sets to the same).
LOCAL_API_ID = "local"
LOCAL_TOKENS_DOOR = "local-stack-tokens-door"
LOCAL_STAGE_VARIABLES = {"tokens_door": LOCAL_TOKENS_DOOR}


def http_api_event(
    method: str,
    path: str,
    *,
    route_key: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    query: str | Mapping[str, str] | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    body: bytes | str | None = None,
    source_ip: str = "127.0.0.1",
    iam: Mapping[str, Any] | None = None,
    domain: str = "127.0.0.1:3000",
    stage_variables: Mapping[str, str] | None = LOCAL_STAGE_VARIABLES,
) -> dict[str, Any]:
    """An event as API Gateway builds it for a `$default`-stage HTTP API route, with the stage's
    variables (the local stack's unless given; None or empty: none)."""
    raw_query = query if isinstance(query, str) else urlencode(dict(query or {}))
    header_map = _headers(headers)
    cookies = [c.strip() for c in header_map.pop("cookie", "").split(";") if c.strip()]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method.upper()} {path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": header_map,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": LOCAL_API_ID,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": header_map.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key or f"{method.upper()} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    if cookies:
        event["cookies"] = cookies
    parameters = _query_parameters(raw_query)
    if parameters:
        event["queryStringParameters"] = parameters
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if iam is not None:
        event["requestContext"]["authorizer"] = {"iam": dict(iam)}
    if body is not None and body != b"":
        raw = body.encode("utf-8") if isinstance(body, str) else body
        if _is_text(header_map.get("content-type", "")) and _utf8(raw):
            event["body"] = raw.decode("utf-8")
        else:
            event["body"] = base64.b64encode(raw).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def _headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict[str, str]:
    """Lower-case names; repeated headers joined with commas, as HTTP APIs do."""
    items = headers.items() if isinstance(headers, Mapping) else (headers or [])
    merged: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    return merged


def _query_parameters(raw_query: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        merged[name] = f"{merged[name]},{value}" if name in merged else value
    return merged


def _is_text(content_type: str) -> bool:
    return content_type.lower().startswith(_TEXT_TYPES) or content_type == ""


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
