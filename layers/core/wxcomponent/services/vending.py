"""Token vending: the request, the answer and the warm-container memory (docs/token-vending.md,
The contract).

Knows nothing of Lambda events: an entry point hands in the payload (a JSON value, or the raw bytes
of a JSON body) and the caller it authenticated, and gets back a status and a body. The body is the
contract's success or error shape; an error body never carries a token, a refresh token or a secret,
and the audit line written for every answer never carries a token either.

The memory keeps the last token per (kind, appid) for this container. It answers only while the
token is still valid for the asked `min_validity` plus `memory_safety`, and only for `memory_ttl`
seconds after it was stored, which bounds how long a container can hand out a token that another
container has since replaced (WeChat keeps a replaced token alive for 5 minutes) or whose
authorizer has revoked. A request carrying `invalid_token` never reads the memory; it drops the
entry and the compare-and-refresh's answer replaces it.

What can be asked for is the registry `VENDABLE_KINDS`, one `VendableKind` each: whether it names
an authorizer, the answer's field, whether memory may answer it, whether it can be reported, and
how its service is asked. A new kind is one entry there plus its service (docs/architecture.md,
"Adding a vendable kind"). The two JS-SDK ticket kinds (`jsapi_ticket`, `card_ticket`, one entry
per kind of `domain/js_tickets.py`) take an authorizer's appid, like `authorizer`, and are never
answered from memory either; their answer carries `ticket` where a token's carries
`access_token`. `web_login` takes an authorizer's appid and a visitor's code, and answers the
visitor (services/web_login.py): the component token it needs never leaves.

Every answer is audited with its `door`: `http` for `POST /tokens`, `invoke` for a direct Invoke.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wxcomponent.domain.errors import (
    BadRequest,
    ComponentAppidAsAuthorizer,
    ConfigurationError,
    NotAuthorized,
    UnknownAuthorizer,
    WxComponentError,
    http_status,
)
from wxcomponent.domain.grants import APPID_RE
from wxcomponent.domain.js_tickets import JS_TICKET_KINDS, JsTicket
from wxcomponent.domain.tokens import AccessToken, RefreshRefused
from wxcomponent.domain.web_login import CODE_RE, DEFAULT_LANG, LANGS
from wxcomponent.domain.wechat import rid_of
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import AuthorizerTokens, ComponentTokens, JsTickets, WebLogins
from wxcomponent.settings import ComponentSettings

COMPONENT = "component"
AUTHORIZER = "authorizer"
WEB_LOGIN = "web_login"  # a visitor's web-login code, exchanged here: the component token stays home
DEFAULT_MIN_VALIDITY = 300
# A token lives 7200 s and is stored as expiring 60 s early: asking for more than an hour is a bug.
MAX_MIN_VALIDITY = 3600
MAX_INVALID_TOKEN = 512
MEMORY_SAFETY = 60.0
MEMORY_TTL = 60.0  # well under the 5 minutes WeChat keeps a replaced token alive
NOT_AUTHORIZED_MESSAGE = "the authorizer is unknown, has revoked its authorization, or is not yours to ask for"

Check = Callable[[str | None, "VendRequest"], None]
# Which way a request came in, for the audit line: `POST /tokens` (API Gateway named the caller) or
# a direct Invoke (IAM's lambda:InvokeFunction alone; no caller to name).
HTTP = "http"
INVOKE = "invoke"


@dataclass(frozen=True)
class VendRequest:
    """A validated vending request. `appid` is "" for the component token (an `appid` sent with
    `kind: component` is ignored: the component is the one this stack is configured for, and the
    answer names it); every other kind names an authorizer. `invalid_token` is a rejected token,
    or for the ticket kinds a rejected ticket. `code` and `lang` are web login's: the visitor's
    code and the language of their profile."""

    kind: str
    appid: str = ""
    min_validity: int = DEFAULT_MIN_VALIDITY
    invalid_token: str | None = None
    code: str = ""
    lang: str = DEFAULT_LANG

    def __repr__(self) -> str:  # neither the reported token nor a visitor's code reaches a log
        reported = "<redacted>" if self.invalid_token else None
        return (
            f"VendRequest(kind={self.kind!r}, appid={self.appid!r}, min_validity={self.min_validity}, "
            f"invalid_token={reported}" + (", code=<redacted>" if self.code else "") + ")"
        )

    @classmethod
    def parse(cls, payload: object) -> VendRequest:
        """Validates a JSON-like value; anything off is `BadRequest`. Unknown keys are ignored and
        an explicit `null` counts as absent."""
        if not isinstance(payload, Mapping):
            raise BadRequest("the request must be a JSON object")
        kind = payload.get("kind")
        if not isinstance(kind, str) or kind not in VENDABLE_KINDS:
            raise BadRequest(f"kind must be one of {_kinds_text()}")
        vendable = VENDABLE_KINDS[kind]
        appid = payload.get("appid") if vendable.for_authorizer else ""
        if not isinstance(appid, str) or (vendable.for_authorizer and not APPID_RE.fullmatch(appid)):
            raise BadRequest("appid must be wx followed by 16 lower-case hex digits")
        min_validity = payload.get("min_validity")
        if min_validity is None:
            min_validity = DEFAULT_MIN_VALIDITY
        elif type(min_validity) is not int or not 0 <= min_validity <= MAX_MIN_VALIDITY:
            raise BadRequest(f"min_validity must be whole seconds from 0 to {MAX_MIN_VALIDITY}")
        invalid_token = payload.get("invalid_token")
        if invalid_token is not None and (
            not isinstance(invalid_token, str) or not 0 < len(invalid_token) <= MAX_INVALID_TOKEN
        ):
            raise BadRequest(f"invalid_token must be a non-empty string of at most {MAX_INVALID_TOKEN} characters")
        if vendable.takes_code:
            return cls._web_login(payload, appid, min_validity, invalid_token)
        return cls(kind, appid, min_validity, invalid_token)

    @classmethod
    def _web_login(cls, payload: Mapping[str, Any], appid: str, min_validity: int, invalid: str | None) -> VendRequest:
        code = payload.get("code")
        if not isinstance(code, str) or not CODE_RE.fullmatch(code):
            raise BadRequest("code must be the visitor's web-login code: 1 to 512 visible ASCII characters")
        lang = payload.get("lang")
        if lang is None:
            lang = DEFAULT_LANG
        elif lang not in LANGS:
            raise BadRequest(f"lang must be one of {', '.join(LANGS)}")
        if invalid is not None:
            raise BadRequest("invalid_token does not apply to web_login: a code serves once")
        return cls(WEB_LOGIN, appid, min_validity, None, code, str(lang))

    @classmethod
    def from_json(cls, body: bytes) -> VendRequest:
        """A request from the raw bytes of a JSON body."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # deep nesting is RecursionError
            raise BadRequest("the body is not JSON") from exc
        return cls.parse(payload)


@dataclass(frozen=True)
class VendAnswer:
    """What to send back: `status` is for HTTP entry points; a direct invoke sends `body` only."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Vended:
    """What a kind's service answered, before it is shaped into the contract's body: the token or
    ticket (`value`) of `owner` with its expiry, or (web login) a `body` of its own. `refused` is
    set only on the answer to a report that could not refresh."""

    owner: str
    value: str = ""
    expires_at: int = 0
    issued_at: int = 0
    refused: RefreshRefused | None = None
    body: Mapping[str, Any] | None = None

    def __repr__(self) -> str:  # the value never reaches a log
        return f"Vended(owner={self.owner!r}, expires_at={self.expires_at})"

    @classmethod
    def token(cls, token: AccessToken) -> Vended:
        return cls(token.owner, token.access_token, token.expires_at, token.issued_at, token.refresh_refused)

    @classmethod
    def js_ticket(cls, ticket: JsTicket) -> Vended:
        return cls(ticket.owner, ticket.ticket, ticket.expires_at, ticket.issued_at, ticket.refresh_refused)

    def valid_for(self, seconds: float, now: float) -> bool:
        return now + seconds < self.expires_at


@dataclass(frozen=True)
class Services:
    """The services the kinds are asked of (`VendableKind.ask`), as the composition root hands them."""

    component_tokens: ComponentTokens
    authorizer_tokens: AuthorizerTokens
    js_tickets: JsTickets | None = None
    web_logins: WebLogins | None = None


@dataclass(frozen=True)
class VendableKind:
    """One kind a caller may ask for. `for_authorizer`: the request names an authorizer's appid (the
    caller policy scopes these by appid and kind). `field`: the answer's key for the value (None: the
    service answers a body of its own). `remembered`: the container's memory may answer it.
    `takes_code`: web login's visitor code and language (and no `invalid_token`: a code serves
    once). `ask`: how its service answers a validated request."""

    name: str
    for_authorizer: bool
    field: str | None
    ask: Callable[[Services, VendRequest], Vended]
    remembered: bool = False
    takes_code: bool = False


def _component(services: Services, request: VendRequest) -> Vended:
    tokens = services.component_tokens
    if request.invalid_token is not None:
        return Vended.token(tokens.replace_rejected(request.invalid_token, request.min_validity))
    return Vended.token(tokens.token(request.min_validity))


def _authorizer(services: Services, request: VendRequest) -> Vended:
    tokens = services.authorizer_tokens
    if request.invalid_token is not None:
        return Vended.token(tokens.replace_rejected(request.appid, request.invalid_token, request.min_validity))
    return Vended.token(tokens.token(request.appid, request.min_validity))


def _js_ticket(services: Services, request: VendRequest) -> Vended:
    tickets = services.js_tickets
    if tickets is None:
        raise ConfigurationError("this vendor was built without JS-SDK tickets")
    if request.invalid_token is not None:
        return Vended.js_ticket(
            tickets.replace_rejected(request.appid, request.kind, request.invalid_token, request.min_validity)
        )
    return Vended.js_ticket(tickets.ticket(request.appid, request.kind, request.min_validity))


def _web_login(services: Services, request: VendRequest) -> Vended:
    if services.web_logins is None:
        raise ConfigurationError("this vendor was built without web login")
    login = services.web_logins.exchange(request.appid, request.code, request.lang)
    return Vended(login.authorizer_appid, body=login.body(request.kind))


# The registry: what can be vended, and how. A new kind is one entry here plus its service.
VENDABLE_KINDS: dict[str, VendableKind] = {
    kind.name: kind
    for kind in (
        # Remembered per container: a replaced component token stays valid 5 minutes at WeChat.
        VendableKind(COMPONENT, for_authorizer=False, field="access_token", ask=_component, remembered=True),
        # Never from memory: a revocation must stop vending at once (docs/SECURITY.md).
        VendableKind(AUTHORIZER, for_authorizer=True, field="access_token", ask=_authorizer),
        *(VendableKind(kind, for_authorizer=True, field="ticket", ask=_js_ticket) for kind in JS_TICKET_KINDS),
        VendableKind(WEB_LOGIN, for_authorizer=True, field=None, ask=_web_login, takes_code=True),
    )
}


def authorizer_kinds() -> tuple[str, ...]:
    """What is asked of one authorizer (the caller policy scopes these by appid and kind)."""
    return tuple(name for name, kind in VENDABLE_KINDS.items() if kind.for_authorizer)


def _kinds_text() -> str:
    return ", ".join(f'"{kind}"' for kind in VENDABLE_KINDS)


@dataclass(frozen=True)
class _Remembered:
    vended: Vended
    stored_at: float


class TokenVendor:
    def __init__(
        self,
        component_tokens: ComponentTokens,
        authorizer_tokens: AuthorizerTokens,
        clock: Callable[[], float] = time.time,
        memory_safety: float = MEMORY_SAFETY,
        memory_ttl: float = MEMORY_TTL,
        js_tickets: JsTickets | None = None,
        web_logins: WebLogins | None = None,
        component: Callable[[], ComponentSettings] | None = None,
    ) -> None:
        """`component` (the settings) tells the component's own appid, sent as an authorizer's,
        from an appid we hold nothing for: read only to refuse, never on a success."""
        self._component = component
        self._services = Services(component_tokens, authorizer_tokens, js_tickets, web_logins)
        self._clock = clock
        self._memory_safety = memory_safety
        self._memory_ttl = memory_ttl
        self._lock = threading.Lock()
        self._memory: dict[tuple[str, str], _Remembered] = {}
        # Bumped whenever an entry is dropped: a lookup that started before the drop must not put
        # back what it found (it may be the very token just reported).
        self._generation: dict[tuple[str, str], int] = {}

    def answer(
        self, payload: object, caller: str | None = None, *, check: Check | None = None, door: str = INVOKE
    ) -> VendAnswer:
        """The whole exchange: parse (`bytes` are a JSON body, anything else the decoded payload),
        `check` the caller (raises to refuse), vend. Never raises; every outcome is audited once,
        with the `door` it came in by."""
        try:
            request = VendRequest.from_json(payload) if isinstance(payload, bytes) else VendRequest.parse(payload)
            if check is not None:
                check(caller, request)
        except Exception as error:  # noqa: BLE001 - every refusal becomes an error body
            return self.refused(error, caller, payload, door=door)
        try:
            return VendAnswer(200, self.vend(request, caller, door=door))
        except Exception as error:  # noqa: BLE001 - already audited by vend
            return VendAnswer(status_of(error), error_body(error))

    def vend(self, request: VendRequest, caller: str | None = None, *, door: str = INVOKE) -> dict[str, Any]:
        """The contract's success body; raises the services' domain errors (audited either way)."""
        try:
            body, from_memory = self._explained(request)
        except Exception as error:
            _audit(caller, request.kind, request.appid or None, _code(error), from_memory=False, door=door)
            if status_of(error) >= 500:  # ours or WeChat's failure, not the caller's (the alarm's metric)
                metrics.add_metric(name="VendFailed", unit=MetricUnit.Count, value=1)
            raise
        _audit(caller, request.kind, body["appid"], "ok", from_memory=from_memory, door=door)
        metrics.add_metric(name="TokenVended", unit=MetricUnit.Count, value=1)
        return body

    def _explained(self, request: VendRequest) -> tuple[dict[str, Any], bool]:
        """`_answer`, with an unknown appid that is the component's own said to be that (issue 21)."""
        try:
            return self._answer(request)
        except UnknownAuthorizer as unknown:
            if self._component is None or request.appid != self._component().component_appid:
                raise
            raise ComponentAppidAsAuthorizer(
                f"{request.appid} is this platform's component appid, not an authorized account's: its token is"
                f' asked for with {{"kind": "component"}}; "{request.kind}" names an account that authorized'
                " the platform"
            ) from unknown

    def _answer(self, request: VendRequest) -> tuple[dict[str, Any], bool]:
        """The success body, and whether it came from memory."""
        kind = VENDABLE_KINDS[request.kind]
        vended, from_memory = self._vended(kind, request)
        if kind.field is None:  # the service's own body (web login)
            return dict(vended.body or {}), False
        body = {"kind": kind.name, "appid": vended.owner, kind.field: vended.value, "expires_at": vended.expires_at}
        return _with_refusal(body, request, vended.refused), from_memory

    def refused(
        self, error: Exception, caller: str | None = None, payload: object = None, *, door: str = INVOKE
    ) -> VendAnswer:
        return refusal(error, caller, payload, door=door)

    def forget(self) -> None:
        """Empties the memory (tests; a container never needs to)."""
        with self._lock:
            for key in self._memory:
                self._generation[key] = self._generation.get(key, 0) + 1
            self._memory.clear()

    def _vended(self, kind: VendableKind, request: VendRequest) -> tuple[Vended, bool]:
        if not kind.remembered:
            return kind.ask(self._services, request), False
        key = (request.kind, request.appid)
        with self._lock:
            if request.invalid_token is not None:
                self._memory.pop(key, None)
                self._generation[key] = self._generation.get(key, 0) + 1
            else:
                remembered = self._memory.get(key)
                if remembered is not None and self._fresh(remembered, request.min_validity):
                    return remembered.vended, True
            generation = self._generation.get(key, 0)
        vended = kind.ask(self._services, request)
        with self._lock:
            current = self._memory.get(key)
            if self._generation.get(key, 0) == generation and (
                current is None or vended.issued_at >= current.vended.issued_at
            ):
                self._memory[key] = _Remembered(vended, self._clock())
        return vended, False

    def _fresh(self, remembered: _Remembered, min_validity: float) -> bool:
        now = self._clock()
        return now - remembered.stored_at < self._memory_ttl and remembered.vended.valid_for(
            min_validity + self._memory_safety, now
        )


def _with_refusal(body: dict[str, Any], request: VendRequest, refused: RefreshRefused | None) -> dict[str, Any]:
    """A report that could not refresh is answered with the stored value and why (`too_young`,
    `budget`: docs/token-vending.md); a plain vend never carries a reason, even from memory."""
    if request.invalid_token is None or refused is None:
        return body
    return {**body, "refresh_refused": refused.reason}


def refusal(error: Exception, caller: str | None = None, payload: object = None, *, door: str = INVOKE) -> VendAnswer:
    """A refusal before any vend (bad payload, caller not allowed, broken settings): audited, as
    the contract's answer. Needs no vendor, so it serves when the graph could not be built."""
    kind, appid = _named(payload)
    _audit(caller, kind, appid, _code(error), from_memory=False, door=door)
    metrics.add_metric(name="VendRefused", unit=MetricUnit.Count, value=1)
    return VendAnswer(status_of(error), error_body(error))


def error_body(error: Exception) -> dict[str, Any]:
    """The contract's failure body. Domain errors' messages are safe to show; anything else is
    logged with its traceback and answered `internal` with a generic message."""
    if isinstance(error, WxComponentError):
        status = http_status(error)
        rid = rid_of(error)  # WeChat's request id: `wxcomponent rid` looks it up (7 days)
        (logger.warning if status < 500 else logger.error)(
            "vend refused" if status < 500 else "vend failed",
            extra={"error": type(error).__name__, "reason": error.message, "errcode": error.errcode, "rid": rid},
        )
        # One message for every not_authorized: a caller the policy refuses learns no more than one
        # asking for an authorizer we do not know (the reason is in the log above).
        # Only a refusal with a reason says more: it comes from the grant, after the policy allowed it.
        vague = isinstance(error, NotAuthorized) and error.reason is None
        message = NOT_AUTHORIZED_MESSAGE if vague else error.message
        detail: dict[str, Any] = {"code": error.code, "message": message}
        if isinstance(error, NotAuthorized) and error.reason is not None:
            detail["reason"] = error.reason
        if error.errcode is not None:
            detail["errcode"] = error.errcode
        if rid is not None:
            detail["rid"] = rid
        if error.retryable:
            detail["retryable"] = True  # nothing was decided: the same request may succeed in a moment
        return {"error": detail}
    logger.exception("unexpected error while vending")
    return {"error": {"code": "internal", "message": "unexpected error"}}


def status_of(error: Exception) -> int:
    """The HTTP status of an error answer (the contract's codes only)."""
    return http_status(error) if isinstance(error, WxComponentError) else 500


def _code(error: Exception) -> str:
    return error.code if isinstance(error, WxComponentError) else "internal"


def _named(payload: object) -> tuple[str | None, str | None]:
    """What a refused payload asked for, when it is well formed enough to say (for the audit)."""
    if not isinstance(payload, Mapping):
        return None, None
    kind = payload.get("kind")
    appid = payload.get("appid")
    vendable = VENDABLE_KINDS.get(kind) if isinstance(kind, str) else None
    if vendable is None:
        return None, None
    named = vendable.for_authorizer and isinstance(appid, str) and APPID_RE.fullmatch(appid)
    return vendable.name, appid if named else None


def _audit(
    caller: str | None, kind: str | None, appid: str | None, outcome: str, *, from_memory: bool, door: str
) -> None:
    logger.info(
        "vend",
        extra={
            "audit": "vend",
            "door": door,
            "caller": caller,
            "kind": kind,
            "appid": appid,
            "outcome": outcome,
            "from_memory": from_memory,
        },
    )
