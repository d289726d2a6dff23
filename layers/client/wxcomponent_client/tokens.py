"""`TokenClient`: tokens from the token center's `token_vending` function, for the vendor's own
services, and WeChat API calls made with them.

    tokens = TokenClient("my-stack-TokenVendingFunction-abc123")
    token = tokens.get_authorizer_token("wx0123456789abcdef")
    ... WeChat answers 40001 / 42001 ...
    token = tokens.report_invalid(token)  # the replacement; many reports of one token cost one refresh

    # or let the client do that dance:
    tokens.call("wx0123456789abcdef", "POST", "/cgi-bin/message/custom/send", touser=..., msgtype="text", ...)

Tokens are kept in memory and reused while they are valid for more than `safety_margin` seconds;
each request asks for `min_validity = safety_margin`, so every answer is good for at least that.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from wxcomponent_client.wechat import DEFAULT_API_BASE, TOKEN_REJECTED, HttpClient, WeChatHttp, checked, errcode_of

if TYPE_CHECKING:
    from botocore.config import Config

DEFAULT_FUNCTION = "token_vending"
REMEMBERED_TOKENS = 256  # tokens handed out that report_invalid still recognises
RETRY_AFTER = 0.2  # seconds before the one retry of an answer marked retryable (a busy table)


class LambdaInvoker(Protocol):
    """The part of boto3's Lambda client used here."""

    def invoke(self, *, FunctionName: str, Payload: bytes) -> Mapping[str, Any]: ...


class TokenError(Exception):
    """The vending function refused: `code` is the contract's (`bad_request`, `not_authorized`,
    `ticket_missing`, `upstream_error`, `internal`), `errcode` WeChat's when there is one, and
    `retryable` true when nothing was decided (the table was busy) even after this client's retry."""

    def __init__(self, code: str, message: str, errcode: int | None = None, *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}" + (f" (errcode {errcode})" if errcode is not None else ""))
        self.code = code
        self.message = message
        self.errcode = errcode
        self.retryable = retryable


@dataclass(frozen=True)
class Token:
    """A vended token: `appid` is the component's or the authorizer's, `expires_at` epoch seconds."""

    access_token: str
    expires_at: int
    appid: str = ""

    def __repr__(self) -> str:
        return f"Token(access_token=<redacted>, expires_at={self.expires_at}, appid={self.appid!r})"


class TokenClient:
    def __init__(
        self,
        function_name: str = DEFAULT_FUNCTION,
        *,
        lambda_client: LambdaInvoker | None = None,
        safety_margin: float = 120,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        api_base: str = DEFAULT_API_BASE,
        http: HttpClient | None = None,
    ) -> None:
        """`api_base` and `http` serve `call`: WeChat's API host (the sandbox locally) and a
        `urllib3.PoolManager` of your own, if you want one."""
        if not 0 <= safety_margin <= 3600:
            raise ValueError("safety_margin must be between 0 and 3600 seconds")
        self.function_name = function_name
        self._client = lambda_client
        self._safety_margin = safety_margin
        self._clock = clock
        self._sleep = sleep
        self._wechat = WeChatHttp(api_base, http=http)
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], Token] = {}
        self._owners: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def get_component_token(self) -> str:
        return self.get_token().access_token

    def get_authorizer_token(self, appid: str) -> str:
        return self.get_token(appid).access_token

    def get_token(self, appid: str | None = None) -> Token:
        """The authorizer's token (the component's without `appid`) with its expiry."""
        return self._get(("authorizer", appid) if appid else ("component", ""))

    def report_invalid(self, token: str) -> str:
        """The replacement for a token WeChat rejected (40001/42001). Only the stored token is
        refreshed: if someone already replaced it, the newer one comes back without a refresh.
        `ValueError` for a token this client never handed out."""
        with self._lock:
            key = self._owners.get(token)
            if key is None:
                raise ValueError("this client never handed out that token")
            held = self._held.get(key)
            if held is not None and held.access_token != token and self._usable(held):
                return held.access_token  # already replaced here
            self._held.pop(key, None)
        return self._ask(key, invalid_token=token).access_token

    # -- WeChat's APIs with these tokens -----------------------------------------------------------

    def call(self, appid: str, method: str, path: str, **body: Any) -> dict[str, Any]:
        """Calls a WeChat API on the authorizer's behalf, its token as the `access_token` query
        parameter; `body` is the JSON body of a POST or the query of a GET. On 40001, 42001 or 40014
        the token is reported (`report_invalid`) and the call made once more with the replacement.
        Returns WeChat's answer; raises `WeChatError` for any other errcode (or the second
        rejection), `TokenError` when the token center refuses."""
        return self._call(lambda: self.get_authorizer_token(appid), "access_token", method, path, body)

    def call_component(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        """As `call`, with the component's token as `component_access_token`."""
        return self._call(self.get_component_token, "component_access_token", method, path, body)

    def _call(
        self, token_of: Callable[[], str], parameter: str, method: str, path: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        token = token_of()
        answer = self._wechat.request(method, path, {parameter: token}, body)
        if errcode_of(answer) in TOKEN_REJECTED:
            answer = self._wechat.request(method, path, {parameter: self.report_invalid(token)}, body)
        return checked(answer)

    # -- the vending function ----------------------------------------------------------------------

    def _get(self, key: tuple[str, str]) -> Token:
        with self._lock:
            held = self._held.get(key)
            if held is not None and self._usable(held):
                return held
        return self._ask(key)

    def _usable(self, held: Token) -> bool:
        return self._clock() + self._safety_margin < held.expires_at

    def _ask(self, key: tuple[str, str], invalid_token: str | None = None) -> Token:
        kind, appid = key
        request: dict[str, Any] = {"kind": kind, "min_validity": int(self._safety_margin)}
        if appid:
            request["appid"] = appid
        if invalid_token is not None:
            request["invalid_token"] = invalid_token
        answer = self._invoke(request)
        answered_appid = answer.get("appid")
        held = Token(
            str(answer["access_token"]),
            int(answer["expires_at"]),
            answered_appid if isinstance(answered_appid, str) else appid,
        )
        with self._lock:
            current = self._held.get(key)
            if current is None or current.expires_at <= held.expires_at or current.access_token == invalid_token:
                self._held[key] = held
            self._owners[held.access_token] = key
            self._owners.move_to_end(held.access_token)
            while len(self._owners) > REMEMBERED_TOKENS:
                self._owners.popitem(last=False)
        return held

    def _invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._invoke_once(request)
        except TokenError as error:
            if not error.retryable:
                raise
        self._sleep(RETRY_AFTER)
        return self._invoke_once(request)

    def _invoke_once(self, request: dict[str, Any]) -> dict[str, Any]:
        response = self._lambda().invoke(FunctionName=self.function_name, Payload=json.dumps(request).encode())
        payload = response.get("Payload")
        raw = payload.read() if payload is not None and hasattr(payload, "read") else payload or b"{}"
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise TokenError("internal", "the vending function answered something that is not JSON") from exc
        if response.get("FunctionError"):
            raise TokenError("internal", "the vending function failed: " + _text(body, "errorType"))
        if not isinstance(body, dict):
            raise TokenError("internal", "the vending function answered something that is not an object")
        error = body.get("error")
        if isinstance(error, dict):
            errcode = error.get("errcode")
            raise TokenError(
                _text(error, "code"),
                _text(error, "message"),
                errcode if isinstance(errcode, int) else None,
                retryable=error.get("retryable") is True,
            )
        if not isinstance(body.get("access_token"), str) or not isinstance(body.get("expires_at"), int):
            raise TokenError("internal", "the vending function's answer has no access_token and expires_at")
        return body

    def _lambda(self) -> LambdaInvoker:
        if self._client is None:
            import boto3  # noqa: PLC0415 - created on first use: importing the module costs nothing

            self._client = boto3.client("lambda", config=_config())
        return self._client


def _config() -> Config:
    from botocore.config import Config  # noqa: PLC0415

    # The read timeout outlasts the function's own (29 s), so botocore's one retry never runs beside
    # the invocation it replaces; `total_max_attempts` counts the first try (`max_attempts` does not).
    return Config(connect_timeout=2, read_timeout=32, retries={"total_max_attempts": 2, "mode": "standard"})


def _text(body: object, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else "unknown"
