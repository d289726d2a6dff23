"""Moved: the vendor's client is the package `wxcomponent_client` in layers/client
(`pip install ./layers/client`, boto3 and urllib3 only). This name stays for code that imported it
from here; there is one copy of the code, that package's."""

from __future__ import annotations

try:
    from wxcomponent_client import (
        AuthorizedRedirect,
        LambdaInvoker,
        RedirectRejected,
        Token,
        TokenClient,
        TokenError,
        WeChatError,
        verify_authorized_redirect,
    )
except ModuleNotFoundError as exc:  # the layer alone does not carry it
    raise ModuleNotFoundError(
        "wxcomponent.client moved to the package wxcomponent_client: pip install ./layers/client"
    ) from exc

__all__ = [
    "AuthorizedRedirect",
    "LambdaInvoker",
    "RedirectRejected",
    "Token",
    "TokenClient",
    "TokenError",
    "WeChatError",
    "verify_authorized_redirect",
]
