"""A client of `token_vending` for the vendor's own Python services: boto3 and the standard library
only, so it can be copied into any project (it imports nothing else from this package).

    tokens = TokenClient("my-stack-TokenVendingFunction-abc123")
    token = tokens.get_authorizer_token("wx0123456789abcdef")
    ... WeChat answers 40001 / 42001 ...
    token = tokens.report_invalid(token)  # the replacement; many reports of one token cost one refresh

Tokens are kept in memory and reused while they are valid for more than `safety_margin` seconds;
each request asks for `min_validity = safety_margin`, so every answer is good for at least that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

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
class _Held:
    access_token: str
    expires_at: int

    def __repr__(self) -> str:
        return f"_Held(access_token=<redacted>, expires_at={self.expires_at})"


class TokenClient:
    def __init__(
        self,
        function_name: str = DEFAULT_FUNCTION,
        *,
        lambda_client: LambdaInvoker | None = None,
        safety_margin: float = 120,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 <= safety_margin <= 3600:
            raise ValueError("safety_margin must be between 0 and 3600 seconds")
        self.function_name = function_name
        self._client = lambda_client
        self._safety_margin = safety_margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], _Held] = {}
        self._owners: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def get_component_token(self) -> str:
        return self._get(("component", ""))

    def get_authorizer_token(self, appid: str) -> str:
        return self._get(("authorizer", appid))

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
        return self._ask(key, invalid_token=token)

    def _get(self, key: tuple[str, str]) -> str:
        with self._lock:
            held = self._held.get(key)
            if held is not None and self._usable(held):
                return held.access_token
        return self._ask(key)

    def _usable(self, held: _Held) -> bool:
        return self._clock() + self._safety_margin < held.expires_at

    def _ask(self, key: tuple[str, str], invalid_token: str | None = None) -> str:
        kind, appid = key
        request: dict[str, Any] = {"kind": kind, "min_validity": int(self._safety_margin)}
        if appid:
            request["appid"] = appid
        if invalid_token is not None:
            request["invalid_token"] = invalid_token
        answer = self._invoke(request)
        held = _Held(str(answer["access_token"]), int(answer["expires_at"]))
        with self._lock:
            current = self._held.get(key)
            if current is None or current.expires_at <= held.expires_at or current.access_token == invalid_token:
                self._held[key] = held
            self._owners[held.access_token] = key
            self._owners.move_to_end(held.access_token)
            while len(self._owners) > REMEMBERED_TOKENS:
                self._owners.popitem(last=False)
        return held.access_token

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


# -- the redirect after an authorization -------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizedRedirect:
    """What the token center's redirect to your `AuthorizedRedirectUrl` proves."""

    authorizer_appid: str
    state: str  # yours, as you passed it to /wechat/authorize?state=…


_EXPIRES_RE = re.compile(r"[0-9]{1,12}")
_SIGNATURE_RE = re.compile(r"[0-9a-f]{64}")


class RedirectRejected(Exception):
    """The redirect was not signed by the token center, was altered, or is too old."""


def verify_authorized_redirect(query: Mapping[str, str], key: str, *, now: float | None = None) -> AuthorizedRedirect:
    """Checks the query of the redirect to your page (`authorizer_appid`, `state`, `expires`,
    `signature`) with the `authorized_redirect_key` you share with the token center, offline. Bind
    the appid to your user only after this, and only if `state` is the one you gave this user."""
    appid, state = query.get("authorizer_appid", ""), query.get("state", "")
    expires, signature = query.get("expires", ""), query.get("signature", "")
    if not _EXPIRES_RE.fullmatch(expires) or not _SIGNATURE_RE.fullmatch(signature):
        raise RedirectRejected("the redirect is incomplete")
    message = f"{appid}\n{state}\n{expires}".encode()
    expected = hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise RedirectRejected("the redirect's signature does not match")
    if int(expires) < (time.time() if now is None else now):
        raise RedirectRejected("the redirect has expired")
    return AuthorizedRedirect(appid, state)
