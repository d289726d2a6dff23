"""GET /wechat/authorize and GET /wechat/authorize/callback: the merchant admin's pages.

The start page links to WeChat's authorization page with a fresh pre-auth code; the callback
exchanges the code WeChat hands back and shows who was authorized (or redirects to the vendor).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext

from wxcomponent.bootstrap import container
from wxcomponent.domain.binding import STATE_COOKIE, VENDOR_STATE_RE, check_same_browser, vendor_redirect
from wxcomponent.domain.errors import BadRequest, ConfigurationError
from wxcomponent.observability import logger, metrics
from wxcomponent.services.authorization import AuthorizationCodeMalformed, AuthorizationRequest
from wxcomponent.web import pages

START_PATH = "/wechat/authorize"
CALLBACK_PATH = "/wechat/authorize/callback"
MOBILE_MARKERS = ("MicroMessenger", "Mobile", "Android", "iPhone", "iPad")

app = APIGatewayHttpResolver()


@app.get(START_PATH)
def start() -> Response[str]:
    wx = container()
    request = AuthorizationRequest.from_query(app.current_event.query_string_parameters or {})
    mobile = any(marker in (app.current_event.headers.get("user-agent") or "") for marker in MOBILE_MARKERS)
    # This browser's state, in a cookie and in redirect_uri, recorded with its pre-auth code (domain/binding.py).
    started = wx.authorizations.start(request, f"{_origin()}{CALLBACK_PATH}", mobile=mobile)
    page = pages.start_page(_brand(), request.auth_type, started.link.url, mobile=mobile)
    return _respond(page, cookies=[_state_cookie(started.state, started.lifetime)])


@app.get(CALLBACK_PATH)
def callback() -> Response[str]:
    wx = container()
    query = app.current_event.query_string_parameters or {}
    state = query.get("state", "")
    check_same_browser(state, _cookie(STATE_COOKIE))  # before anything reaches WeChat
    auth_code = query.get("auth_code", "")
    if not auth_code:
        raise AuthorizationCodeMalformed("the callback carries no auth_code")
    # Consumes the state; a code exchanged already must come from this state's start page.
    result = wx.authorizations.complete_callback(auth_code, state)
    used = [_state_cookie("", 0)]  # a state serves one authorization
    vendor = wx.settings.authorized_redirect_url
    if vendor:
        key = wx.component().authorized_redirect_key
        location = vendor_redirect(vendor, result.authorizer_appid, query.get("vendor_state", ""), key, time.time())
        headers = {"Location": location, **pages.page_headers()}
        return Response(302, content_types.TEXT_HTML, "", headers, cookies=used)
    # This browser started this authorization: its one-use state matched, and the code was
    # exchanged by this callback or for the pre-auth code this state was issued with (the push's).
    page = pages.result_page(_brand(), result.authorizer_appid, result.profile, api_permission=result.api_permission)
    return _respond(page, cookies=used)


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
def handle_error(error: Exception) -> Response[str]:
    """Every failure is a page in the merchant's words with a way back (rendered by `web.pages`)."""
    return _respond(pages.error_page_for(error, retry_url=_way_back(error), brand=_brand()))


def _respond(page: pages.Page, cookies: list[Cookie] | None = None) -> Response[str]:
    return Response(page.status, content_types.TEXT_HTML, page.html, page.headers(), cookies=cookies or [])


def _state_cookie(state: str, lifetime: int) -> Cookie:
    """`__Host-` with Path=/ and no Domain (only this host sets it: a sibling subdomain cannot toss
    one in), HttpOnly (no script reads it), Secure, SameSite=Lax (sent on WeChat's top-level
    redirect back to us, never on a cross-site subrequest); an empty value clears it."""
    return Cookie(
        name=STATE_COOKIE,
        value=state,
        path="/",
        secure=True,
        http_only=True,
        same_site=SameSite.LAX_MODE,
        max_age=lifetime if state else 0,
    )


def _cookie(name: str) -> str:
    for cookie in app.current_event.cookies or []:
        key, _, value = cookie.partition("=")
        if key.strip() == name:
            return value.strip()
    return ""


def _brand() -> pages.Brand:
    """The vendor's name and logo; none when the settings cannot be read (an error page still renders)."""
    try:
        settings = container().settings
    except ConfigurationError:
        return pages.Brand()
    return pages.Brand(settings.product_name, settings.logo_url)


def _way_back(error: Exception) -> str:
    """Where an error page's button leads: the start page, asked for what the merchant came with.
    On the start page that is its own valid query (a retry); after WeChat, the vendor's state, so
    that the account authorized next is still bound to the vendor's user."""
    query = app.current_event.query_string_parameters or {}
    again: dict[str, str] = {}
    if app.current_event.route_key == f"GET {CALLBACK_PATH}":
        vendor_state = query.get("vendor_state", "")
        again = {"state": vendor_state} if VENDOR_STATE_RE.fullmatch(vendor_state) else {}
    elif not isinstance(error, BadRequest):
        try:  # the settings may have failed before the query was read
            again = AuthorizationRequest.from_query(query).query()
        except BadRequest:
            again = {}
    return f"{_origin()}{START_PATH}" + (f"?{urlencode(again)}" if again else "")


def _origin() -> str:
    """Our origin as browsers see it. Also used by the error page, so broken settings fall back
    to the request's own domain rather than failing twice."""
    try:
        configured = container().settings.public_base_url
    except ConfigurationError:
        configured = ""
    return configured or f"https://{app.current_event.request_context.domain_name}"


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
