"""Requests signed as AWS SDKs sign them, by botocore's own SigV4 signer: the local gateway checks
`POST /tokens` against make dev's documented credentials (infra/local/sigv4.py), as API Gateway
checks a deployed stack's, and a signer other than the one it verifies with keeps that check honest."""

from __future__ import annotations

import json
from typing import Any

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from infra.local.sigv4 import LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY, SERVICE


def signed_headers(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    access_key: str = LOCAL_ACCESS_KEY,
    secret_key: str = LOCAL_SECRET_KEY,
    region: str = LOCAL_REGION,
    service: str = SERVICE,
) -> dict[str, str]:
    """The headers to send: `headers` plus `X-Amz-Date` and `Authorization`."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(access_key, secret_key), service, region).add_auth(request)
    return dict(request.headers.items())


def post_tokens(http: urllib3.PoolManager, gateway: str, payload: Any, **headers: str) -> urllib3.BaseHTTPResponse:
    """`POST /tokens` on the local gateway, signed with make dev's credentials. `payload`: the JSON
    value to send, or the body's raw bytes."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    url = f"{gateway}/tokens"
    return http.request("POST", url, body=body, headers=signed_headers("POST", url, body, headers))
