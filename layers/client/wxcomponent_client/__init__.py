"""wxcomponent-client: tokens from a wxcomponent-serverless token center for the vendor's own
services, WeChat API calls made with them, the check of the redirect after an authorization, and
what authorized accounts' web pages need (`wx.config`'s fields, web login on their behalf).
Needs boto3 and urllib3 only (`pip install ./layers/client`); see docs/token-vending.md, "The contract"."""

from wxcomponent_client.redirect import AuthorizedRedirect, RedirectRejected, verify_authorized_redirect
from wxcomponent_client.tokens import LambdaInvoker, Ticket, Token, TokenClient, TokenError
from wxcomponent_client.web import OAuthCodeRejected, WebUser, jsapi_signature
from wxcomponent_client.wechat import DEFAULT_API_BASE, TOKEN_REJECTED, WeChatError

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_API_BASE",
    "TOKEN_REJECTED",
    "AuthorizedRedirect",
    "LambdaInvoker",
    "OAuthCodeRejected",
    "RedirectRejected",
    "Ticket",
    "Token",
    "TokenClient",
    "TokenError",
    "WeChatError",
    "WebUser",
    "__version__",
    "jsapi_signature",
    "verify_authorized_redirect",
]
