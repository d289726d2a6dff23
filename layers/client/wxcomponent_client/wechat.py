"""WeChat's APIs over urllib3, for `TokenClient.call`: JSON in, JSON out, a timeout on every call,
and one typed error for everything that is not a successful answer.

The token travels in the query (`access_token=` or `component_access_token=`), as WeChat wants it,
so no error raised here carries the URL or chains urllib3's exception (whose text holds the URL):
a logged traceback must never show a token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

import urllib3

DEFAULT_API_BASE = "https://api.weixin.qq.com"
# WeChat's "this access token is not (or no longer) valid": 40001 invalid credential, 40014 invalid
# access_token, 42001 access_token expired. Reported to the token center, then the call is retried once.
TOKEN_REJECTED = frozenset({40001, 40014, 42001})
DEFAULT_TIMEOUT = urllib3.Timeout(connect=3.0, read=10.0)


class WeChatError(Exception):
    """WeChat refused (`errcode` and `errmsg` are WeChat's, `answer` its whole JSON body), or could
    not be asked: no answer, an HTTP status other than 200, or a body that is not a JSON object
    (then `errcode` is None)."""

    def __init__(self, errcode: int | None, errmsg: str, answer: Mapping[str, Any] | None = None) -> None:
        prefix = f"WeChat answered errcode {errcode}" if errcode is not None else "WeChat call failed"
        super().__init__(f"{prefix}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.answer: dict[str, Any] = dict(answer or {})


class HttpClient(Protocol):
    """The part of `urllib3.PoolManager` used here."""

    def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


class WeChatHttp:
    def __init__(
        self,
        api_base: str = DEFAULT_API_BASE,
        *,
        http: HttpClient | None = None,
        timeout: urllib3.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        if not api_base.startswith(("https://", "http://")):
            raise ValueError("api_base must be an http(s) URL")
        self.api_base = api_base.rstrip("/")
        self._http = http or urllib3.PoolManager(retries=False)
        self._timeout = timeout

    def request(self, method: str, path: str, credential: Mapping[str, str], body: Mapping[str, Any]) -> dict[str, Any]:
        """One call: `body` is the JSON body of a POST, or the query of a GET, beside `credential`
        (the token's query parameter). WeChat's answer, errcode or not; `WeChatError` when there is none."""
        verb = method.upper()
        if verb not in ("GET", "POST"):
            raise ValueError("WeChat's APIs are GET or POST")
        if not path.startswith("/"):
            raise ValueError("path must start with '/', e.g. /cgi-bin/message/custom/send")
        query = dict(credential)
        payload: bytes | None = None
        headers: dict[str, str] = {}
        if verb == "GET":
            query.update({name: _query_value(value) for name, value in body.items()})
        else:
            # Unescaped UTF-8: some of WeChat's APIs show `\u4f60` literally instead of 你.
            payload = json.dumps(dict(body), ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        url = f"{self.api_base}{path}{'&' if '?' in path else '?'}{urlencode(query)}"
        try:
            response = self._http.request(
                verb, url, body=payload, headers=headers, timeout=self._timeout, retries=False, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise WeChatError(None, f"no answer from WeChat ({type(exc).__name__})") from None  # its text holds the URL
        if response.status != 200:
            raise WeChatError(None, f"WeChat answered HTTP {response.status}")
        try:
            answer = json.loads(response.data)
        except ValueError:
            raise WeChatError(None, "WeChat's answer is not JSON") from None
        if not isinstance(answer, dict):
            raise WeChatError(None, "WeChat's answer is not a JSON object")
        return answer


def errcode_of(answer: Mapping[str, Any]) -> int:
    """WeChat's errcode, 0 when the answer has none (a success carries its data and no errcode)."""
    errcode = answer.get("errcode", 0)
    return errcode if isinstance(errcode, int) else -1


def checked(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer, or `WeChatError` for a non-zero errcode."""
    errcode = errcode_of(answer)
    if errcode != 0:
        errmsg = answer.get("errmsg")
        raise WeChatError(errcode, errmsg if isinstance(errmsg, str) else "", answer)
    return answer


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
