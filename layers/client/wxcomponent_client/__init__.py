"""wxcomponent-client: tokens from a wxcomponent-serverless token center for the vendor's own
services, WeChat API calls made with them, and the check of the redirect after an authorization.
Needs boto3 and urllib3 only (`pip install ./layers/client`); see README.md, "Token-vending contract"."""

from wxcomponent_client.redirect import AuthorizedRedirect, RedirectRejected, verify_authorized_redirect
from wxcomponent_client.tokens import LambdaInvoker, Token, TokenClient, TokenError
from wxcomponent_client.wechat import DEFAULT_API_BASE, TOKEN_REJECTED, WeChatError

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_API_BASE",
    "TOKEN_REJECTED",
    "AuthorizedRedirect",
    "LambdaInvoker",
    "RedirectRejected",
    "Token",
    "TokenClient",
    "TokenError",
    "WeChatError",
    "__version__",
    "verify_authorized_redirect",
]
