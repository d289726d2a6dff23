"""Every interface the core owns, in one place: adapters implement them, tests hand in fakes
(tests/support/fakes.py), and one contract test holds fakes and adapters to the same behaviour.

The stores are cut by aggregate: the authorizer (grant, token, refresh lease, remembered refusal
and forced-refresh budget in one item, with the refresh-due index), the verify ticket (and push
records), the component token, profiles, authorization-code claims, leases and refusals (the
component's and the JS-SDK tickets'), message receipts, and the authorizers' JS-SDK tickets.
Each method's conditions are part of its contract, spelled out in its docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from wxcomponent.domain.binding import NO_ORIGIN, AuthorizationResult, CodeExchange, CodeOrigin
from wxcomponent.domain.grants import Grant, Profile
from wxcomponent.domain.js_tickets import JsTicket
from wxcomponent.domain.refresh_runs import RefreshRun
from wxcomponent.domain.tokens import AccessToken, ForcedRefreshes
from wxcomponent.domain.verify_tickets import PushRecord, VerifyTicket
from wxcomponent.domain.web_login import WebLogin
from wxcomponent.domain.wechat import (
    ApiQuota,
    AuthorizationInfo,
    AuthorizerListPage,
    AuthorizerProfile,
    AuthorizerToken,
    IssuedTicket,
    IssuedToken,
    PreAuthCode,
    RefreshFailure,
    RidInfo,
    WebAccessToken,
    WebUserInfo,
)

# -- stores ----------------------------------------------------------------------------------------


class VerifyTicketStore(Protocol):
    def save_ticket(self, ticket: VerifyTicket) -> bool:
        """Stores the ticket unless a ticket pushed later (or the same push) is already stored.
        Returns whether it was written."""
        ...

    def get_ticket(self, component_appid: str) -> VerifyTicket | None:
        """The stored ticket, expired or not (the caller checks `is_valid`)."""
        ...

    def record_push(self, record: PushRecord) -> bool:
        """Keeps a record of a push, once per push; returns whether it was new."""
        ...

    def claim_ticket_restart(self, component_appid: str, now: int, every: int) -> bool:
        """True at most once per `every` seconds, across containers (api_start_push_ticket)."""
        ...


class TokenStore(Protocol):
    """The component's access token (an authorizer's lives in its item: `Authorizers`). A save
    never replaces a token issued later (a holder whose lease ran out may finish late)."""

    def get_component_token(self, component_appid: str) -> AccessToken | None: ...

    def save_component_token(self, token: AccessToken) -> bool: ...


@dataclass(frozen=True)
class DueRefreshes:
    """What one shard of the refresh-due index holds that is due: grants (their authorizer token)
    and JS-SDK tickets (authorizer appid, kind), and how many index items were read to find them."""

    authorizers: list[str]
    js_tickets: list[tuple[str, str]]
    read: int


@dataclass(frozen=True)
class RefreshState:
    """An authorizer's item as a refresh needs it: the grant, the stored token, the refusal
    remembered (expired or not: the caller compares `until` with its clock), and the refreshes
    reports forced on the token lately (its forced-refresh budget)."""

    grant: Grant | None
    token: AccessToken | None
    failure: RefreshFailure | None
    forced: ForcedRefreshes | None = None


class Authorizers(Protocol):
    """The authorizer aggregate: its grant (with its place in the refresh-due index), its access
    token, its refresh lease, the refusal remembered and the forced-refresh budget, in one item
    (`AUTHORIZER#<appid>` / `GRANT`), so that each is read and written with the others and the
    item is the consistency boundary. A vend is one read; a refresh two writes (the lease, taken
    with the item returned, and the outcome on condition of holding it).

    Grants: never a TTL, never a refresh token replaced by an empty or other-than-expected one."""

    def get_grant(self, authorizer_appid: str) -> Grant | None: ...

    def save_grant(self, grant: Grant, refresh_due: int) -> bool:
        """Unless a later authorization is stored; an authorized grant with a refresh token only."""
        ...

    def save_grant_without_api_permission(self, grant: Grant) -> bool:
        """An authorization without tokens (status no_api_permission), unless a later authorization
        is stored; out of the due index; a stored refresh token is kept."""
        ...

    def revoke_grant(self, authorizer_appid: str, revoked_at: int) -> bool:
        """Revoked, its refresh token dropped, unless authorized again after `revoked_at` or
        revoked already."""
        ...

    def update_refresh_token(self, authorizer_appid: str, old: str, new: str, now: int) -> bool:
        """Compare-and-set on an authorized grant: `old` → non-empty `new`."""
        ...

    def set_refresh_due(self, authorizer_appid: str, due: int) -> bool:
        """When the authorizer's token is next due (authorized grants only)."""
        ...

    def revoke_unlisted(self, authorizer_appid: str, refresh_token: str, now: int) -> bool:
        """Revoked because WeChat says so (61003, and no longer listed), refresh token kept, out of
        the due index; an authorized grant still holding `refresh_token` only."""
        ...

    def mark_needs_reauthorization(self, authorizer_appid: str, refresh_token: str, now: int) -> bool:
        """Out of the due index, refresh token kept, if it is still `refresh_token`."""
        ...

    def refresh_shards(self) -> list[str]:
        """The shards of the refresh-due index."""
        ...

    def due_authorizers(self, shard: str, now: int) -> tuple[list[str], int]:
        """Appids due in one shard, and how many index items were read to find them."""
        ...

    def due_refreshes(self, shard: str, now: int) -> DueRefreshes:
        """Everything due in one shard, grants and JS-SDK tickets, in one read of the index."""
        ...

    def get_authorizer_token(self, authorizer_appid: str) -> AccessToken | None: ...

    def save_authorizer_token(self, token: AccessToken) -> bool:
        """Unless a token issued later is stored, or there is no grant to hold it."""
        ...

    def delete_authorizer_token(self, authorizer_appid: str) -> None:
        """The authorizer's token, and its JS-SDK tickets with it (a revoked account's go at once)."""
        ...

    def read_for_refresh(self, authorizer_appid: str) -> RefreshState:
        """The whole item, in one request (a vend's only read)."""
        ...

    def acquire_refresh_lease(self, authorizer_appid: str, holder: str, now: float, ttl: float) -> RefreshState | None:
        """The authorizer's refresh lease, unless another holder has it unexpired or the grant is
        not authorized, and the item as it stands with the lease taken, in one request. None, with
        nothing written, otherwise."""
        ...

    def release_refresh_lease(self, authorizer_appid: str, holder: str) -> None:
        """Gives the lease back, only if `holder` still holds it."""
        ...

    def store_refresh(
        self, authorizer_appid: str, used: str, rotated: str | None, token: AccessToken, due: int, holder: str
    ) -> bool:
        """A refresh's outcome, in one request, all or nothing: the rotated refresh token (when it
        differs from `used`), the next refresh due, the token, and the lease given back. False, with
        nothing written, when the grant is no longer authorized with `used`, a token issued later is
        stored, or `holder` no longer holds the lease."""
        ...

    def remember_failure(self, authorizer_appid: str, failure: RefreshFailure) -> None:
        """A refresh WeChat refused, until its `until` (readers compare it with their clock)."""
        ...

    def record_forced_refresh(
        self, authorizer_appid: str, seen: ForcedRefreshes | None, forced: ForcedRefreshes
    ) -> bool:
        """The token's forced-refresh budget: `forced`, only while what is recorded is still `seen`
        (None: nothing), so two containers never both spend the last of it."""
        ...


class ProfileStore(Protocol):
    def save_profile(self, profile: Profile) -> None: ...

    def get_profile(self, authorizer_appid: str) -> Profile | None: ...


class ClaimLost(RuntimeError):
    """Our claim on a code expired and another holder took it while we were exchanging it."""


class CodeClaims(Protocol):
    """Who exchanges an authorization code (keyed by its hash; the code is never stored), and where
    the code came from (`CodeOrigin`, kept with the claim)."""

    def claim_code(self, code_hash: str, holder: str, now: float, ttl: float, origin: CodeOrigin = NO_ORIGIN) -> bool:
        """The right to exchange, unless exchanged already (within the claim's lifetime) or claimed
        by another within `ttl`; records `now` and the claimant's `origin`."""
        ...

    def finish_code(self, code_hash: str, holder: str, authorizer_appid: str) -> None:
        """Done, for this authorizer; raises `ClaimLost` unless `holder` still holds the claim."""
        ...

    def abandon_code(self, code_hash: str, holder: str) -> None:
        """Lets another try (the holder's pending claim only)."""
        ...

    def code_exchanged_for(self, code_hash: str, now: float) -> CodeExchange | None:
        """The finished exchange (its authorizer, when first claimed, its origin); None while
        pending, unknown, or past the claim's lifetime."""
        ...


@dataclass(frozen=True)
class StateUse:
    """A callback's use of a recorded state: the pre-auth code's hash it was issued with, and
    whether this is the state's first use or a return with the code it was first used for."""

    pre_auth_hash: str
    first: bool


class AuthorizationStates(Protocol):
    """The states the start page issued (keyed by their hash), each with its pre-auth code's hash,
    until the pre-auth code expires."""

    def save_state(self, state_hash: str, pre_auth_hash: str, expires_at: float) -> None: ...

    def consume_state(self, state_hash: str, code_hash: str, now: float) -> StateUse | None:
        """Uses the state for `code_hash`, once: the first use of an unexpired state binds it to its
        code (`first`, even under concurrent callbacks: one wins); the same code again is a return
        (not `first`); another code, an expired or unknown state is None."""
        ...


class LeaseStore(Protocol):
    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Takes the lease unless another holder has it and it has not expired."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Gives it back, only if we still hold it."""
        ...


@dataclass(frozen=True)
class JsTicketState:
    """What a JS-SDK ticket vend needs, read together in one request: the grant, the authorizer's
    token (to fetch with), the stored ticket, the fetch's remembered refusal, and the refetches
    reports forced on the ticket lately (its forced-refresh budget)."""

    grant: Grant | None
    token: AccessToken | None
    ticket: JsTicket | None
    failure: RefreshFailure | None
    forced: ForcedRefreshes | None = None


class JsTicketRecords(Protocol):
    """An authorizer's JS-SDK tickets: `AUTHORIZER#<appid>` / `JSAPI_TICKET` or `CARD_TICKET`, read
    with its grant and token. A fetch's lease and remembered refusal are named by `keys.js_ticket_lease`
    (`LeaseStore` and `RefreshFailures` keep them). Every stored ticket carries its place in the
    refresh-due index, until the refresher finds it unused (`drop_from_renewal`)."""

    def read_for_ticket(self, authorizer_appid: str, kind: str) -> JsTicketState:
        """The grant, the token, the ticket and the remembered refusal, in one request."""
        ...

    def acquire_ticket_lease(
        self, authorizer_appid: str, kind: str, seen: JsTicket | None, holder: str, now: float, ttl: float
    ) -> bool:
        """The fetch's lease, taken only while the stored ticket is still `seen` (None: none stored),
        in one request. False when another holds the lease or the ticket changed."""
        ...

    def store_ticket(self, ticket: JsTicket, holder: str, due: int, *, vended: bool) -> bool:
        """A fetch's outcome, in one request, all or nothing: the ticket (due for renewal at `due`;
        its vend mark written from `ticket.vended_at` when `vended`, else the stored one kept) and
        the lease given back.
        False, with nothing written, when the grant is no longer authorized, a ticket issued later
        is stored, or another holder took the lease."""
        ...

    def mark_vended(self, authorizer_appid: str, kind: str, now: int, due: int) -> bool:
        """Marks the stored ticket vended at `now` (and due for renewal at `due`), unless it was
        marked less than `VENDED_MARK_EVERY` ago or is gone: a write at most once an hour."""
        ...

    def drop_from_renewal(self, authorizer_appid: str, kind: str, issued_at: int, now: int) -> bool:
        """Out of the refresh-due index (it expires unrenewed), if the stored ticket is still the one
        issued at `issued_at` and no vend marked it within `HOT_FOR` of `now`."""
        ...


class Refusals(Protocol):
    """Where a refresh's refusals and forced refreshes are written, per lease name: `RefreshFailures`
    for the component token and the JS-SDK tickets, the authorizer's item for its token."""

    def remember_failure(self, name: str, failure: RefreshFailure) -> None: ...

    def record_forced_refresh(self, name: str, seen: ForcedRefreshes | None, forced: ForcedRefreshes) -> bool: ...


class RefreshFailures(Protocol):
    """Refreshes WeChat refused, per lease name (`COMPONENT#…`, a JS-SDK ticket's), until their
    retry-after; and the refreshes reports forced, per lease name, that count against its budget."""

    def remember_failure(self, name: str, failure: RefreshFailure) -> None: ...

    def recent_failure(self, name: str, now: float) -> RefreshFailure | None:
        """The failure remembered for `name`, unless its `until` has passed."""
        ...

    def forced_refreshes(self, name: str) -> ForcedRefreshes | None:
        """The forced refreshes recorded for `name` (old ones too: the caller counts the recent)."""
        ...

    def record_forced_refresh(self, name: str, seen: ForcedRefreshes | None, forced: ForcedRefreshes) -> bool:
        """Records `forced` for `name`, only while what is recorded is still `seen` (None: nothing),
        so two containers never both spend the last of a budget. False, nothing written, otherwise.
        Kept until the last of them leaves the window (TTL)."""
        ...


class RefreshRuns(Protocol):
    """The last refresher run, per component (one record, replaced by each run)."""

    def record_run(self, component_appid: str, run: RefreshRun) -> None: ...

    def last_run(self, component_appid: str) -> RefreshRun | None: ...


class MessageReceipts(Protocol):
    """Which account messages we have seen, so that WeChat's retries are acted on once and
    answered the same way. `key` is `AccountMessage.dedupe_key`."""

    def claim(self, authorizer_appid: str, key: str, now: int, lease: int, keep: int) -> bool:
        """True for the first sight of this message (or when an earlier attempt died: its claim
        is older than `lease` seconds). The record is kept for `keep` seconds."""
        ...

    def record_answer(self, authorizer_appid: str, key: str, answer: str) -> None:
        """What the message was answered with (an encrypted reply, "" or `success`)."""
        ...

    def answer_of(self, authorizer_appid: str, key: str, now: int) -> str | None:
        """The recorded answer; None while the first attempt is still at work (or unknown)."""
        ...


# -- the outside world -----------------------------------------------------------------------------


class WeChatApi(Protocol):
    """One method per WeChat API the token center calls. Raises `UpstreamError` subclasses."""

    def component_token(self, component_appid: str, component_appsecret: str, ticket: str) -> IssuedToken:
        """api_component_token: a new component access token (each call issues a new one)."""
        ...

    def create_preauthcode(self, component_token: str, component_appid: str) -> PreAuthCode:
        """api_create_preauthcode: a single-use code for the authorization page."""
        ...

    def query_auth(self, component_token: str, component_appid: str, authorization_code: str) -> AuthorizationInfo:
        """api_query_auth: exchanges the authorization code for the authorizer's tokens."""
        ...

    def authorizer_token(
        self, component_token: str, component_appid: str, authorizer_appid: str, refresh_token: str
    ) -> AuthorizerToken:
        """api_authorizer_token: a new authorizer access token (and maybe a new refresh token)."""
        ...

    def get_authorizer_info(
        self, component_token: str, component_appid: str, authorizer_appid: str
    ) -> AuthorizerProfile:
        """api_get_authorizer_info: the account's profile and what it granted."""
        ...

    def get_authorizer_list(
        self, component_token: str, component_appid: str, offset: int, count: int
    ) -> AuthorizerListPage:
        """api_get_authorizer_list: one page (count ≤ 500) of accounts with their refresh tokens."""
        ...

    def start_push_ticket(self, component_appid: str, component_secret: str) -> None:
        """api_start_push_ticket: asks WeChat to push a verify ticket now."""
        ...

    def send_custom_message(self, authorizer_token: str, message: dict[str, Any]) -> None:
        """message/custom/send on an authorizer's behalf."""
        ...

    def get_ticket(self, authorizer_token: str, ticket_type: str) -> IssuedTicket:
        """getticket (GET): a new JS-SDK ticket of `ticket_type` (`jsapi`, `wx_card`) for the authorizer."""
        ...

    def oauth2_component_access_token(
        self, component_token: str, component_appid: str, authorizer_appid: str, code: str
    ) -> WebAccessToken:
        """sns/oauth2/component/access_token (GET): a visitor's web-login code, single use, exchanged
        on the authorizer's behalf. 40029/40163 are `WebLoginCodeRejected`."""
        ...

    def sns_userinfo(self, web_access_token: str, openid: str, lang: str) -> WebUserInfo:
        """sns/userinfo (GET): the visitor's nickname and avatar, with their own web token."""
        ...

    def get_rid_info(self, access_token: str, rid: str) -> RidInfo:
        """getRidInfo (openapi/rid/get): what WeChat saw of the call that answered with `rid`, asked
        with the token of the account that made it (the component's, or an authorizer's), within 7
        days; tokens and secrets in what it saw come back masked."""
        ...

    def get_api_quota(self, access_token: str, cgi_path: str) -> ApiQuota:
        """getApiQuota (openapi/quota/get): today's limit, use and remainder of one API, for the
        account whose token asks (the component's APIs with its token, an authorizer's with its)."""
        ...

    def clear_quota(self, component_appid: str, component_appsecret: str, authorizer_appid: str = "") -> None:
        """clear_quota/v2 with the AppSecret alone (no token: it works when the token APIs' quota is
        spent): the component's daily quotas, or an authorizer's with its appid. 10 a month per
        account; 48006 beyond. Single use: never sent twice once WeChat may have seen it."""
        ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Publishes one event for the vendor's services (EventBridge in AWS)."""
        ...


class TaskQueue(Protocol):
    def defer(self, task: dict[str, Any]) -> None:
        """Runs `task` in another invocation, after this one has answered (a Lambda is frozen
        once it answers). Raises when the task could not be handed over."""
        ...


class ReplyFunction(Protocol):
    def ask(self, request: dict[str, Any], timeout: float) -> object:
        """The vendor's reply function's answer to one message (a JSON value), within `timeout`
        seconds. Raises when it failed, timed out or answered something that is not JSON."""
        ...


# -- the composition root's view of the stores, and services as other services see them -------------


class Stores(Protocol):
    """One store per aggregate of the table (`adapters.dynamodb.Tables` in AWS, fakes in tests)."""

    @property
    def verify_tickets(self) -> VerifyTicketStore: ...

    @property
    def tokens(self) -> TokenStore: ...
    @property
    def profiles(self) -> ProfileStore: ...
    @property
    def code_claims(self) -> CodeClaims: ...
    @property
    def authorization_states(self) -> AuthorizationStates: ...
    @property
    def leases(self) -> LeaseStore: ...
    @property
    def receipts(self) -> MessageReceipts: ...

    @property
    def failures(self) -> RefreshFailures: ...

    @property
    def authorizers(self) -> Authorizers: ...

    @property
    def js_tickets(self) -> JsTicketRecords: ...


class Authorizations(Protocol):
    """`services.authorization.AuthorizationService`, as pushes and the release check use it."""

    def complete(self, auth_code: str) -> AuthorizationResult: ...

    def complete_pushed(self, auth_code: str, info_type: str, pre_auth_code: str = "") -> None: ...

    def revoke(self, authorizer_appid: str, revoked_at: int) -> bool: ...


class ComponentTokens(Protocol):
    """`services.component_token.ComponentTokenService`, as vending uses it."""

    def token(self, min_validity: float = ...) -> AccessToken: ...

    def replace_rejected(self, rejected: str, min_validity: float = ...) -> AccessToken: ...


class AuthorizerTokens(Protocol):
    """`services.authorizer_token.AuthorizerTokenService`, as vending and the release check use it."""

    def token(self, authorizer_appid: str, min_validity: float = ...) -> AccessToken: ...

    def replace_rejected(self, authorizer_appid: str, rejected: str, min_validity: float = ...) -> AccessToken: ...


class ComponentCalls(Protocol):
    """`services.component_token.ComponentTokenService`, as services that call WeChat with the
    component token use it: the stored token, compare-and-refreshed once on 40001/40014/42001."""

    def call[T](self, request: Callable[[str], T]) -> T: ...


class WebLogins(Protocol):
    """`services.web_login.WebLoginService`, as vending uses it."""

    def exchange(self, authorizer_appid: str, code: str, lang: str) -> WebLogin: ...


class JsTickets(Protocol):
    """`services.js_tickets.JsTicketService`, as vending uses it."""

    def ticket(self, authorizer_appid: str, kind: str, min_validity: float = ...) -> JsTicket: ...

    def replace_rejected(
        self, authorizer_appid: str, kind: str, rejected: str, min_validity: float = ...
    ) -> JsTicket: ...
