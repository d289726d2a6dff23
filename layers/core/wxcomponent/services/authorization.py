"""Merchant authorization: the link to WeChat's page, and the exchange of the code it gives back
(docs/protocol.md §2 and §4).

The same authorization code reaches us twice, on the browser's redirect and in the `authorized`
push, and WeChat accepts it only once. Whoever comes first claims the code in the table and
exchanges it; whoever comes second waits for that exchange and changes nothing.

The browser's side is single use too (docs/SECURITY.md): the start page records its state with the
pre-auth code it was issued with, the first callback consumes it, and a code exchanged already is
shown only to the callback whose start page issued it (`domain.binding`).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from wxcomponent.domain.binding import (
    AUTH_CODE_LIFETIME,
    NO_ORIGIN,
    VENDOR_STATE_RE,
    AuthorizationResult,
    CodeExchange,
    CodeNotStartedHere,
    CodeOrigin,
    StateUsed,
    digest,
    new_state,
    state_lifetime,
)
from wxcomponent.domain.errors import BadRequest, WxComponentError
from wxcomponent.domain.grants import APPID_RE, AUTHORIZED, NO_API_PERMISSION, Grant, Profile, func_ids
from wxcomponent.domain.tokens import AccessToken
from wxcomponent.domain.wechat import AuthorizationCodeRejected, AuthorizationInfo, AuthorizerProfile, UpstreamError
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import (
    AuthorizationStates,
    Authorizers,
    CodeClaims,
    EventPublisher,
    ProfileStore,
    TaskQueue,
    WeChatApi,
)
from wxcomponent.services.authorizer_list import find_listed
from wxcomponent.services.best_effort import publish_best_effort
from wxcomponent.services.component_token import ComponentTokenService
from wxcomponent.settings import DEFAULT_MP_BASE, DEFAULT_OPEN_BASE, REFRESH_MARGIN, ComponentSettings

AUTH_TYPES = frozenset({1, 2, 3, 4, 5, 6, 8})
AUTH_TYPE_RE = re.compile(r"[0-9]{1,2}")  # exact: isdigit is true for '²', which int() refuses
DEFAULT_AUTH_TYPE = 3
CATEGORY_LIST_RE = re.compile(r"\d{1,4}(\|\d{1,4}){0,49}")
# WeChat documents no format for the authorization code (`queryauthcode@@@…` is only observed,
# docs/protocol.md §2): a cheap, bounded prefilter of visible ASCII, so a change of format breaks
# nothing, while empty, oversized or non-ASCII input never reaches WeChat.
AUTH_CODE_RE = re.compile(r"[\x21-\x7e]{1,512}")
CLAIM_TTL = 30.0  # seconds a claimed code is ours before another may try it

EVENT_AUTHORIZED = "authorized"
EVENT_UPDATED = "updated"
EVENT_REVOKED = "revoked"
EVENT_PROFILE = "profile"
EVENT_WITHOUT_API_PERMISSION = "authorized_without_api_permission"
CLOCK_SKEW = 300  # seconds: WeChat's CreateTime and our clock are not compared closer than this
EXCHANGE_TASK = "authorization.exchange"
PROFILE_TASK = "authorization.profile"


class AuthorizationInProgress(WxComponentError):
    """The code is being exchanged elsewhere and did not finish in time."""

    code = "upstream_error"


class AuthorizationCodeMalformed(BadRequest):
    """The callback's auth_code is missing or not of WeChat's form; refused before any WeChat call."""


class AuthorizationCodeTooOld(AuthorizationCodeRejected):
    """The code was first seen longer ago than WeChat lets a code live: whoever brings it now did
    not just come back from WeChat. Refused without a call, as WeChat would refuse it (61010)."""


@dataclass(frozen=True)
class AuthorizationRequest:
    """What the start page was asked for, validated."""

    auth_type: int = DEFAULT_AUTH_TYPE
    biz_appid: str = ""
    category_id_list: str = ""
    state: str = ""  # the vendor's own, passed through to its page

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> AuthorizationRequest:
        raw_type = query.get("auth_type", "") or str(DEFAULT_AUTH_TYPE)
        if not AUTH_TYPE_RE.fullmatch(raw_type) or int(raw_type) not in AUTH_TYPES:
            raise BadRequest("auth_type must be one of 1, 2, 3, 4, 5, 6, 8")
        biz_appid = query.get("biz_appid", "")
        if biz_appid and not APPID_RE.fullmatch(biz_appid):
            raise BadRequest("biz_appid must look like wx followed by 16 hex digits")
        categories = query.get("category_id_list", "")
        if categories and not CATEGORY_LIST_RE.fullmatch(categories):
            raise BadRequest("category_id_list must be ids separated by |")
        state = query.get("state", "")
        if state and not VENDOR_STATE_RE.fullmatch(state):
            raise BadRequest("state must be 1 to 128 of A-Z a-z 0-9 . _ ~ -")
        return cls(int(raw_type), biz_appid, categories, state)

    def query(self) -> dict[str, str]:
        """The start page's query that asks for this again (what is at its default left out)."""
        fields = {
            "auth_type": str(self.auth_type) if self.auth_type != DEFAULT_AUTH_TYPE else "",
            "biz_appid": self.biz_appid,
            "category_id_list": self.category_id_list,
            "state": self.state,
        }
        return {name: value for name, value in fields.items() if value}


@dataclass(frozen=True)
class AuthorizationLink:
    url: str
    mobile: bool
    expires_in: int


@dataclass(frozen=True)
class StartedAuthorization:
    """The start page's link, and the state it binds to this browser (in its cookie and in the
    link's redirect_uri), good for `lifetime` seconds."""

    link: AuthorizationLink
    state: str
    lifetime: int

    def __repr__(self) -> str:  # the state is the browser's proof
        return f"StartedAuthorization(mobile={self.link.mobile}, lifetime={self.lifetime})"


class AuthorizationService:
    def __init__(
        self,
        authorizers: Authorizers,
        profiles: ProfileStore,
        code_claims: CodeClaims,
        api: WeChatApi,
        component_tokens: ComponentTokenService,
        publisher: EventPublisher,
        *,
        states: AuthorizationStates,
        component: Callable[[], ComponentSettings],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        wait: float = 8.0,
        refresh_margin: int = REFRESH_MARGIN[2],
        mp_base: str = DEFAULT_MP_BASE,
        open_base: str = DEFAULT_OPEN_BASE,
        tasks: TaskQueue | None = None,
    ) -> None:
        self._grants = authorizers
        self._profiles = profiles
        self._code_claims = code_claims
        self._states = states
        self._api = api
        self._component_tokens = component_tokens
        self._publisher = publisher
        self._component = component
        self._clock = clock
        self._sleep = sleep
        self._wait = wait
        self._refresh_margin = refresh_margin
        self._mp_base = mp_base
        self._open_base = open_base
        self._tasks = tasks

    # -- the link ----------------------------------------------------------------------------------

    def start(self, request: AuthorizationRequest, callback_url: str, *, mobile: bool) -> StartedAuthorization:
        """A fresh state for this browser and a fresh pre-auth code, recorded together (hashed) for
        the pre-auth code's life (at most 30 minutes); the link to WeChat's page, whose redirect_uri
        (`callback_url`) carries the state and the vendor's own."""
        state = new_state()
        back = {"state": state, **({"vendor_state": request.state} if request.state else {})}
        link, pre_auth_code = self._link(request, f"{callback_url}?{urlencode(back)}", mobile=mobile)
        lifetime = state_lifetime(link.expires_in)
        self._states.save_state(digest(state), digest(pre_auth_code), self._clock() + lifetime)
        return StartedAuthorization(link, state, lifetime)

    def link(self, request: AuthorizationRequest, redirect_uri: str, *, mobile: bool) -> AuthorizationLink:
        """A fresh pre-auth code in WeChat's PC or mobile authorization URL (no state recorded:
        `start` is the start page's)."""
        return self._link(request, redirect_uri, mobile=mobile)[0]

    def _link(self, request: AuthorizationRequest, redirect_uri: str, *, mobile: bool) -> tuple[AuthorizationLink, str]:
        appid = self._component().component_appid
        code = self._component_tokens.call(lambda token: self._api.create_preauthcode(token, appid))
        params: dict[str, str] = {}
        if mobile:
            params.update(action="bindcomponent", no_scan="1")
        params.update(
            component_appid=appid,
            pre_auth_code=code.pre_auth_code,
            redirect_uri=redirect_uri,
            auth_type=str(request.auth_type),
        )
        if request.biz_appid:
            params["biz_appid"] = request.biz_appid
        if request.category_id_list:
            params["category_id_list"] = request.category_id_list
        if mobile:
            url = f"{self._open_base}/wxaopen/safe/bindcomponent?{urlencode(params)}#wechat_redirect"
        else:
            url = f"{self._mp_base}/cgi-bin/componentloginpage?{urlencode(params)}"
        return AuthorizationLink(url, mobile, code.expires_in), code.pre_auth_code

    # -- the exchange ------------------------------------------------------------------------------

    def complete(self, auth_code: str) -> AuthorizationResult:
        """Exchanges the code (once, whoever asks first) and stores grant, token and profile. When
        someone else is exchanging it, waits for them (the release check). A code exchanged longer
        ago than a code lives is refused."""
        result = self._complete(auth_code, EVENT_AUTHORIZED, wait=True)
        if result is None:  # pragma: no cover - a waiting exchange returns or raises
            raise AuthorizationInProgress("the authorization is still being completed; try again shortly")
        if result.exchanged is not None:
            self._check_age(result.exchanged)
        return result

    def complete_callback(self, auth_code: str, state: str) -> AuthorizationResult:
        """The browser back from WeChat, its state matched with its cookie already. The state is
        used once: its first callback may exchange the code (one `api_query_auth` per start page
        at most); coming back with the same code (the in-progress page's refresh) only reads that
        exchange's outcome. A code exchanged already is shown only to the callback whose start page
        issued it, and only within the code's life."""
        if not AUTH_CODE_RE.fullmatch(auth_code):
            raise AuthorizationCodeMalformed("auth_code is malformed")
        state_hash = digest(state)
        use = self._states.consume_state(state_hash, digest(auth_code), self._clock())
        if use is None:
            raise StateUsed("the state was never issued, has expired, or was used with another code")
        origin = CodeOrigin(use.pre_auth_hash, state_hash)
        result = self._complete(auth_code, EVENT_AUTHORIZED, wait=True, origin=origin, claim=use.first)
        if result is None:  # pragma: no cover - a waiting exchange returns or raises
            raise AuthorizationInProgress("the authorization is still being completed; try again shortly")
        if result.exchanged is not None:
            if not result.exchanged.origin.same_start(origin):
                logger.warning(
                    "authorization code of another start refused", extra={"authorizer_appid": result.authorizer_appid}
                )
                metrics.add_metric(name="AuthorizationCodeNotStartedHere", unit=MetricUnit.Count, value=1)
                raise CodeNotStartedHere("the code was exchanged for another start of the authorization")
            self._check_age(result.exchanged)
        return result

    def complete_pushed(self, auth_code: str, info_type: str, pre_auth_code: str = "") -> None:
        """The code of an `authorized` / `updateauthorized` push: exchanged unless someone else is
        doing so already, never waited for (WeChat wants its answer within 5 seconds, and the other
        party will finish). Its `PreAuthCode` is kept with the claim, so that the callback whose
        state was issued with it is shown the account."""
        origin = CodeOrigin(pre_auth_hash=digest(pre_auth_code)) if pre_auth_code else NO_ORIGIN
        result = self._complete(auth_code, info_type, wait=False, origin=origin)
        earlier = result.exchanged if result is not None else None
        # Both known and different: a callback from another start page exchanged it first (a code
        # captured in flight). Nothing can take back that callback's answer; the log says so.
        if (
            earlier is not None
            and origin.pre_auth_hash
            and earlier.origin.pre_auth_hash not in ("", origin.pre_auth_hash)
        ):
            appid = earlier.authorizer_appid
            logger.warning("authorization code exchanged for another start", extra={"authorizer_appid": appid})
            metrics.add_metric(name="AuthorizationCodeStartMismatch", unit=MetricUnit.Count, value=1)

    def _check_age(self, exchanged: CodeExchange) -> None:
        if self._clock() - exchanged.claimed_at > AUTH_CODE_LIFETIME:
            raise AuthorizationCodeTooOld("the authorization code is older than a code lives")

    def _complete(
        self, auth_code: str, info_type: str, *, wait: bool, origin: CodeOrigin = NO_ORIGIN, claim: bool = True
    ) -> AuthorizationResult | None:
        """`claim=False`: only wait for another's exchange and read its outcome, never exchange."""
        if not AUTH_CODE_RE.fullmatch(auth_code):
            raise AuthorizationCodeMalformed("auth_code is malformed")
        code_hash = digest(auth_code)
        deadline = self._clock() + self._wait
        delay = 0.05
        while True:
            holder = secrets.token_hex(8)
            if claim and self._code_claims.claim_code(code_hash, holder, self._clock(), CLAIM_TTL, origin):
                return self._exchange(auth_code, code_hash, holder, info_type)
            exchanged = self._code_claims.code_exchanged_for(code_hash, self._clock())
            if exchanged is not None:
                appid = exchanged.authorizer_appid
                logger.info("authorization code already exchanged", extra={"authorizer_appid": appid})
                grant = self._grants.get_grant(appid)
                permitted = grant is None or grant.status != NO_API_PERMISSION
                profile = self._profile_for(appid, fetch=wait and exchanged.origin.same_start(origin))
                return AuthorizationResult(appid, profile, new=False, api_permission=permitted, exchanged=exchanged)
            if not wait:
                logger.info("authorization code being exchanged elsewhere")
                return None
            if self._clock() >= deadline:
                raise AuthorizationInProgress("the authorization is still being completed; try again shortly")
            self._sleep(delay)
            delay = min(delay * 2, 0.5)

    def revoke(self, authorizer_appid: str, revoked_at: int) -> bool:
        """`unauthorized`: marks the grant revoked and deletes its token, unless it was authorized
        again after `revoked_at`. `revoked_at` is WeChat's clock and `authorized_at` ours: near an
        authorization the two cannot be ordered, so WeChat's list decides (listed: the push is the
        older event, delivered late)."""
        grant = self._grants.get_grant(authorizer_appid)
        at = revoked_at
        if grant is not None and grant.active and revoked_at < grant.authorized_at + CLOCK_SKEW:
            component_appid = self._component().component_appid
            if find_listed(self._component_tokens, self._api, component_appid, authorizer_appid) is not None:
                logger.warning(
                    "unauthorized push older than the authorization", extra={"authorizer_appid": authorizer_appid}
                )
                metrics.add_metric(name="StaleRevocationIgnored", unit=MetricUnit.Count, value=1)
                return False
            at = max(revoked_at, grant.authorized_at)  # WeChat confirms it: order it after ours
        revoked = self._grants.revoke_grant(authorizer_appid, at)
        if revoked:
            self._grants.delete_authorizer_token(authorizer_appid)
            self._publish(EVENT_REVOKED, {"authorizer_appid": authorizer_appid, "revoked_at": revoked_at})
        logger.info("authorization revoked", extra={"authorizer_appid": authorizer_appid, "changed": revoked})
        return revoked

    def _exchange(self, auth_code: str, code_hash: str, holder: str, info_type: str) -> AuthorizationResult:
        component_appid = self._component().component_appid
        started = time.monotonic()
        try:
            info = self._component_tokens.call(lambda token: self._api.query_auth(token, component_appid, auth_code))
        except Exception:
            self._code_claims.abandon_code(code_hash, holder)
            raise
        if not info.has_api_permission:
            return self._without_api_permission(info, code_hash, holder, info_type)
        now = int(self._clock())
        previous = self._grants.get_grant(info.authorizer_appid)
        grant = Grant(
            authorizer_appid=info.authorizer_appid,
            component_appid=component_appid,
            refresh_token=info.authorizer_refresh_token,
            func_info=func_ids(info.func_info),
            status=AUTHORIZED,
            authorized_at=now,
            updated_at=now,
        )
        token = AccessToken.issued(info.authorizer_appid, info.authorizer_access_token, info.expires_in, now)
        self._grants.save_grant(grant, refresh_due=token.expires_at - self._refresh_margin)
        self._grants.save_authorizer_token(token)
        # Everything that must not be lost is stored: finish the claim and tell the vendor before the
        # optional profile, which WeChat may be slow to give (a push has 5 seconds in all).
        self._code_claims.finish_code(code_hash, holder, info.authorizer_appid)
        known = self._profiles.get_profile(info.authorizer_appid)  # from an earlier authorization
        updated = info_type == "updateauthorized" or (previous is not None and previous.active)
        self._publish(
            EVENT_UPDATED if updated else EVENT_AUTHORIZED,
            {
                "authorizer_appid": info.authorizer_appid,
                "func_info": list(grant.func_info),
                "authorized_at": now,
                "nick_name": known.nick_name if known else "",
                "is_mini_program": known.is_mini_program if known else False,
            },
        )
        took_ms = round((time.monotonic() - started) * 1000)  # whose exchange was slow, in the log
        stored = {"authorizer_appid": info.authorizer_appid, "updated": updated, "took_ms": took_ms}
        logger.info("authorization stored", extra=stored)
        metrics.add_metric(name="AuthorizationStored", unit=MetricUnit.Count, value=1)
        try:
            profile: Profile | None = self.fetch_profile(info.authorizer_appid)
        except UpstreamError as exc:
            logger.warning(
                "profile not fetched", extra={"authorizer_appid": info.authorizer_appid, "errcode": exc.errcode}
            )
            self._profile_later(info.authorizer_appid)
            profile = known
        return AuthorizationResult(info.authorizer_appid, profile, new=True)

    def _without_api_permission(
        self, info: AuthorizationInfo, code_hash: str, holder: str, info_type: str
    ) -> AuthorizationResult:
        """WeChat answered without tokens: the account authorized us but has no API permission. The
        grant is recorded (its permissions, a bus event, the profile when WeChat gives one) so it can
        be told apart; a vend for it is refused with that reason, and a later authorization that
        brings tokens makes it a normal grant."""
        component_appid = self._component().component_appid
        appid = info.authorizer_appid
        now = int(self._clock())
        grant = Grant(
            authorizer_appid=appid,
            component_appid=component_appid,
            refresh_token="",
            func_info=func_ids(info.func_info),
            status=NO_API_PERMISSION,
            authorized_at=now,
            updated_at=now,
        )
        if self._grants.save_grant_without_api_permission(grant):
            self._grants.delete_authorizer_token(appid)  # a token of an earlier grant is not this grant's
        self._code_claims.finish_code(code_hash, holder, appid)
        known = self._profiles.get_profile(appid)
        self._publish(
            EVENT_WITHOUT_API_PERMISSION,
            {
                "authorizer_appid": appid,
                "func_info": list(grant.func_info),
                "authorized_at": now,
                "info_type": info_type,
                "nick_name": known.nick_name if known else "",
            },
        )
        logger.warning("authorization stored without API permission", extra={"authorizer_appid": appid})
        metrics.add_metric(name="AuthorizationWithoutApiPermission", unit=MetricUnit.Count, value=1)
        try:
            profile: Profile | None = self.fetch_profile(appid)
        except UpstreamError as exc:
            logger.warning("profile not fetched", extra={"authorizer_appid": appid, "errcode": exc.errcode})
            self._profile_later(appid)
            profile = known
        return AuthorizationResult(appid, profile, new=True, api_permission=False)

    def reconcile(self, authorizer_appid: str) -> bool:
        """The exchange of this authorizer's code was refused as used (61009/61010), perhaps because
        an earlier try was processed by WeChat but its answer lost: WeChat's list carries the refresh
        token. Stores it unless the grant already holds it; True when a grant was (re)stored."""
        component_appid = self._component().component_appid
        item = find_listed(self._component_tokens, self._api, component_appid, authorizer_appid)
        if item is None or not item.refresh_token:
            return False
        previous = self._grants.get_grant(authorizer_appid)
        if previous is not None and previous.active and previous.refresh_token == item.refresh_token:
            return False  # nothing was lost
        now = int(self._clock())
        grant = Grant(
            authorizer_appid=authorizer_appid,
            component_appid=component_appid,
            refresh_token=item.refresh_token,
            func_info=previous.func_info if previous is not None else (),
            status=AUTHORIZED,
            authorized_at=now,
            updated_at=now,
        )
        if not self._grants.save_grant(grant, refresh_due=now):  # due now: a token is fetched at once
            return False
        logger.warning("grant recovered from the authorizer list", extra={"authorizer_appid": authorizer_appid})
        metrics.add_metric(name="GrantReconciled", unit=MetricUnit.Count, value=1)
        event = EVENT_UPDATED if previous is not None and previous.active else EVENT_AUTHORIZED
        self._publish(
            event, {"authorizer_appid": authorizer_appid, "func_info": list(grant.func_info), "authorized_at": now}
        )
        return True

    def fetch_profile(self, authorizer_appid: str) -> Profile:
        """The account's profile from WeChat, stored and announced (`profile` on the bus). Raises
        `UpstreamError` when WeChat will not give it now."""
        component_appid = self._component().component_appid
        answer = self._component_tokens.call(
            lambda token: self._api.get_authorizer_info(token, component_appid, authorizer_appid)
        )
        profile = profile_from(answer, int(self._clock()))
        self._profiles.save_profile(profile)
        self._publish(
            EVENT_PROFILE,
            {
                "authorizer_appid": authorizer_appid,
                "nick_name": profile.nick_name,
                "is_mini_program": profile.is_mini_program,
            },
        )
        return profile

    def _profile_for(self, authorizer_appid: str, *, fetch: bool) -> Profile | None:
        """The stored profile; a waiting caller (the admin's browser) fetches a missing one itself,
        since the push that exchanged the code may not have stored it yet."""
        profile = self._profiles.get_profile(authorizer_appid)
        if profile is not None or not fetch:
            return profile
        try:
            return self.fetch_profile(authorizer_appid)
        except UpstreamError:
            return None

    def _profile_later(self, authorizer_appid: str) -> None:
        """Another invocation fetches it (Lambda retries it twice if WeChat still will not)."""
        if self._tasks is None:
            return
        try:
            self._tasks.defer({"task": PROFILE_TASK, "authorizer_appid": authorizer_appid})
        except Exception:  # noqa: BLE001 - the grant is safe; the profile is a nicety
            logger.exception("profile fetch not handed over", extra={"authorizer_appid": authorizer_appid})

    def _publish(self, detail_type: str, detail: dict[str, object]) -> None:
        publish_best_effort(self._publisher, self._component().component_appid, detail_type, detail)


def profile_from(answer: AuthorizerProfile, now: int) -> Profile:
    """Our profile from WeChat's answer; only public fields (the answer may carry a refresh token)."""
    info = answer.raw.get("authorizer_info", {}) if isinstance(answer.raw, dict) else {}
    kept = (
        "business_info",
        "account_status",
        "MiniProgramInfo",
        "channels_info",
        "store_info",
        "talent_info",
        "supplier_info",
        "register_type",
    )
    extra = {key: info[key] for key in kept if key in info}
    return Profile(
        authorizer_appid=answer.authorizer_appid,
        nick_name=answer.nick_name,
        head_img=answer.head_img,
        user_name=answer.user_name,
        alias=answer.alias,
        principal_name=answer.principal_name,
        service_type=answer.service_type,
        verify_type=answer.verify_type,
        qrcode_url=answer.qrcode_url,
        is_mini_program=answer.is_mini_program,
        updated_at=now,
        extra=extra,
        account_kind=answer.account_kind,
    )
