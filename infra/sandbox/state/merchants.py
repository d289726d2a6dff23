"""The merchants: their accounts, and what our component holds from each of them.

That is: grants (permissions, refresh token and its rotation), authorization codes and authorizer
access tokens. Owns its data behind its own lock; reads the clock and draws from the world's one
random source.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from infra.sandbox.config import CHANNELS, RELEASE_TEST_ACCOUNTS, STORE, TALENT, MerchantAccount, SandboxConfig
from infra.sandbox.state import saved
from infra.sandbox.state.clock import Clock
from infra.sandbox.state.credentials import OVERLAP, Code, TokenPair
from infra.sandbox.state.errors import JSON, WeChatError
from infra.sandbox.state.randomness import Randomness

AUTHORIZER_TOKEN_TTL = 7200
AUTH_CODE_TTL = 600  # the redirect's expires_in=600 (WeChat's authorization-process page)
_INVALID_CREDENTIAL = "invalid credential, access_token is invalid or not latest"
AUTHORIZED = "authorized"
UPDATE_AUTHORIZED = "updateauthorized"


@dataclass
class Grant:
    account: MerchantAccount
    refresh_token: str
    auth_time: int
    func_info: list[int]
    authorized: bool = True
    previous_refresh_token: str | None = None
    previous_refresh_until: float = 0.0
    access: TokenPair = field(default_factory=TokenPair)
    # api_query_auth answered for this authorization: until then WeChat lists an empty refresh token.
    exchanged: bool = False
    # The account had API permission when it authorized: else no token, no refresh token.
    api_permission: bool = True
    # False: WeChat shows this grant's refresh token nowhere, though its code was exchanged and the
    # token works (list entries without one are observed, C10): played for a previous platform's
    # accounts (previous.py), whose own record then holds the only copy. A new authorization shows it.
    shown: bool = True

    def listed_refresh_token(self) -> str:
        """The refresh token api_get_authorizer_list and api_get_authorizer_info show: empty until
        the code was exchanged, for an account without API permission, and for one not `shown`."""
        return self.refresh_token if self.exchanged and self.api_permission and self.shown else ""


@dataclass
class _SavedGrant:
    """A grant as saved: its account by appid, beside it (a file saved before `exchanged` and
    `api_permission` existed restores them as True: its grants were exchanged with tokens)."""

    refresh_token: str
    auth_time: int
    func_info: list[int]
    authorized: bool
    previous_refresh_token: str | None
    previous_refresh_until: float
    access: TokenPair
    exchanged: bool = True
    api_permission: bool = True
    shown: bool = True


@dataclass(frozen=True)
class Authorization:
    """An admin's confirmation: the code, and what WeChat pushes for it (None: nothing, the
    permission set did not change and the code goes back by the redirect alone)."""

    code: Code
    event: str | None
    was_authorized: bool


class NotOnTestList(Exception):
    """Before the full-network release, an account not on the platform's test list tried to authorize."""


class Merchants:
    """Accounts, grants, authorization codes, authorizer tokens and which accounts rotate refresh tokens."""

    def __init__(self, config: SandboxConfig, clock: Clock, random: Randomness) -> None:
        self._config = config
        self._clock = clock
        self._random = random
        self._lock = threading.Lock()
        self._accounts: dict[str, MerchantAccount] = {}
        self._rotation: dict[str, bool] = {}
        self._auth_codes: dict[str, Code] = {}
        self._grants: dict[str, Grant] = {}
        self._access_index: dict[str, str] = {}  # authorizer access token -> appid
        self._api_permission: dict[str, bool] = {}  # flipped by the control API, else the account's
        self._released = config.released
        self._test_accounts: list[str] | None = None
        self.reset()

    def reset(self) -> None:
        """The configured accounts again, none of them authorized."""
        with self._lock:
            self._accounts = {a.appid: a for a in self._config.merchant_accounts()}
            self._rotation = {}
            self._auth_codes = {}
            self._grants = {}
            self._access_index = {}
            self._api_permission = {}
            self._released = self._config.released
            self._test_accounts = self._default_test_accounts()

    def _default_test_accounts(self) -> list[str]:
        listed = self._config.test_accounts
        return list(self._accounts) if listed is None else list(listed)

    def export(self) -> JSON:
        """What the merchants granted, as JSON (`make dev` saves it across restarts); the accounts
        themselves come from the configuration."""
        with self._lock:
            return {
                "rotation": dict(self._rotation),
                "auth_codes": [saved.dump(code) for code in self._auth_codes.values()],
                "grants": [
                    {
                        "appid": appid,
                        "refresh_token": grant.refresh_token,
                        "auth_time": grant.auth_time,
                        "func_info": list(grant.func_info),
                        "authorized": grant.authorized,
                        "previous_refresh_token": grant.previous_refresh_token,
                        "previous_refresh_until": grant.previous_refresh_until,
                        "access": saved.dump(grant.access),
                        "exchanged": grant.exchanged,
                        "api_permission": grant.api_permission,
                        "shown": grant.shown,
                    }
                    for appid, grant in self._grants.items()
                ],
                "access_index": dict(self._access_index),
                "api_permission": dict(self._api_permission),
                "released": self._released,
                "test_accounts": list(self._test_accounts or []),
            }

    def restore(self, data: JSON) -> None:
        """`export`'s JSON back onto the configured accounts; ValueError (and nothing changed) when
        it is not one, or names an account this configuration does not have."""
        with self._lock:
            accounts = {a.appid: a for a in self._config.merchant_accounts()}

        def account(appid: str) -> MerchantAccount:
            if appid not in accounts:
                raise ValueError(f"{appid} is not one of this sandbox's accounts")
            return accounts[appid]

        rotation = saved.checked(data.get("rotation"), dict[str, bool], "rotation")
        codes = [saved.load(Code, c) for c in saved.checked(data.get("auth_codes"), list[Any], "auth_codes")]
        grants: dict[str, Grant] = {}
        for item in saved.checked(data.get("grants"), list[dict[str, Any]], "grants"):
            fields = dict(item)
            appid = saved.checked(fields.pop("appid", None), str, "grant appid")
            record = saved.load(_SavedGrant, fields)
            grants[appid] = Grant(
                account(appid),
                record.refresh_token,
                record.auth_time,
                record.func_info,
                record.authorized,
                record.previous_refresh_token,
                record.previous_refresh_until,
                record.access,
                record.exchanged,
                record.api_permission,
                record.shown,
            )
        index = saved.checked(data.get("access_index"), dict[str, str], "access_index")
        # Saved before these existed: the configuration's defaults.
        api_permission = saved.checked(data.get("api_permission", {}), dict[str, bool], "api_permission")
        released = saved.checked(data.get("released", self._config.released), bool, "released")
        test_accounts = saved.checked(data.get("test_accounts"), list[str] | None, "test_accounts")
        for appid in [*rotation, *index.values(), *(code.appid for code in codes), *api_permission]:
            account(appid)
        with self._lock:
            self._accounts = accounts
            self._rotation = rotation
            self._auth_codes = {code.value: code for code in codes}
            self._grants = grants
            self._access_index = index
            self._api_permission = api_permission
            self._released = released
            self._test_accounts = self._default_test_accounts() if test_accounts is None else test_accounts

    # -- accounts --------------------------------------------------------------------------------

    def accounts(self) -> list[MerchantAccount]:
        with self._lock:
            return list(self._accounts.values())

    def account(self, appid: str) -> MerchantAccount | None:
        with self._lock:
            return self._accounts.get(appid)

    def set_rotation(self, appid: str, enabled: bool) -> None:
        """Whether api_authorizer_token rotates this account's refresh token."""
        with self._lock:
            if appid not in self._accounts:
                raise WeChatError(40013, "invalid appid")
            self._rotation[appid] = enabled

    def set_api_permission(self, appid: str, enabled: bool) -> None:
        """Whether the account has API permission from its next authorization on (its grant as it
        stands keeps what it had: WeChat decides when the account authorizes)."""
        with self._lock:
            if appid not in self._accounts:
                raise WeChatError(40013, "invalid appid")
            self._api_permission[appid] = enabled

    def has_api_permission(self, appid: str) -> bool:
        with self._lock:
            return self._has_api_permission(appid)

    def _has_api_permission(self, appid: str) -> bool:
        account = self._accounts.get(appid)
        return self._api_permission.get(appid, account.api_permission if account else False)

    # -- the full-network release and the test list ----------------------------------------------

    @property
    def released(self) -> bool:
        with self._lock:
            return self._released

    def set_released(self, released: bool) -> None:
        with self._lock:
            self._released = released

    def test_accounts(self) -> list[str]:
        with self._lock:
            return list(self._test_accounts or [])

    def set_test_accounts(self, appids: list[str] | None) -> list[str]:
        """The platform's test list (None: every account); ValueError for an appid the sandbox lacks."""
        with self._lock:
            unknown = [appid for appid in appids or [] if appid not in self._accounts]
            if unknown:
                raise ValueError(f"not sandbox accounts: {', '.join(unknown)}")
            self._test_accounts = list(self._accounts) if appids is None else list(appids)
            return list(self._test_accounts)

    def may_authorize(self, appid: str) -> bool:
        """Released, on the test list, or one of WeChat's release-test accounts."""
        with self._lock:
            return (
                self._released
                or appid in (self._test_accounts or [])
                or any(appid == a.appid for a in RELEASE_TEST_ACCOUNTS)
            )

    def states(self) -> list[JSON]:
        """Each account with its grant, as `GET /sandbox/state` lists them."""
        with self._lock:
            return [self._account_state(a) for a in self._accounts.values()]

    # -- authorization ---------------------------------------------------------------------------

    def authorize(self, appid: str, func_info: list[int] | None = None) -> tuple[Code, bool]:
        """Creates or renews the grant and an authorization code; True when it was already authorized."""
        result = self.confirm(appid, func_info)
        return result.code, result.was_authorized

    def confirm(self, appid: str, func_info: list[int] | None = None) -> Authorization:
        """What an admin's confirmation does: the grant (new, or renewed with a new refresh token),
        a code, and the event WeChat pushes: `authorized` for a new grant, `updateauthorized` when
        the permission set changed, nothing when it did not."""
        with self._lock:
            return self._authorize(appid, func_info)

    def release_test_code(self, appid: str) -> Code:
        """A fresh authorization code for an account, authorizing it if needed (the caller pushes it)."""
        with self._lock:
            grant = self._grants.get(appid)
            if grant is None or not grant.authorized:
                return self._authorize(appid, None).code
            return self._new_code(appid, self._clock.now())

    def hide_refresh_token(self, appid: str) -> None:
        """WeChat shows this grant's refresh token nowhere from now on (see `Grant.shown`); 61003
        without a live grant."""
        with self._lock:
            self._grant(appid).shown = False

    def is_authorized(self, appid: str) -> bool:
        with self._lock:
            grant = self._grants.get(appid)
            return grant is not None and grant.authorized

    def revoke(self, appid: str) -> bool:
        """Marks the grant revoked and kills its tokens and codes; False if it was not authorized."""
        with self._lock:
            grant = self._grants.get(appid)
            if grant is None or not grant.authorized:
                return False
            grant.authorized = False
            grant.previous_refresh_token = None
            self._forget_access(appid)
            for code in self._auth_codes.values():
                if code.appid == appid:
                    code.used = True
            return True

    # -- the component's API on behalf of merchants ----------------------------------------------

    def query_auth(self, value: Any) -> JSON:
        with self._lock:
            code = self._auth_codes.get(value) if isinstance(value, str) else None
            if code is None or code.used:
                raise WeChatError(61009, "code is invalid")
            if self._clock.now() >= code.expires_at:
                raise WeChatError(61010, "code is expired")
            code.used = True
            grant = self._grant(code.appid)
            grant.exchanged = True
            func_info = [{"funcscope_category": {"id": i}} for i in grant.func_info]
            if not grant.api_permission:
                # Tokens, expires_in and the refresh token come only with API permission.
                return {"authorization_info": {"authorizer_appid": code.appid, "func_info": func_info}}
            return {
                "authorization_info": {
                    "authorizer_appid": code.appid,
                    "authorizer_access_token": self._issue_access(grant),
                    "expires_in": AUTHORIZER_TOKEN_TTL,
                    "authorizer_refresh_token": grant.refresh_token,
                    "func_info": func_info,
                }
            }

    def authorizer_token(self, appid: Any, refresh: Any) -> JSON:
        with self._lock:
            grant = self._grant(appid)
            now = self._clock.now()
            if not grant.api_permission:
                # No refresh token was ever issued for this grant: whatever is sent is not one
                # (the sandbox's choice of errcode; WeChat documents none for this case).
                raise WeChatError(61023, "refresh_token is invalid")
            current = bool(refresh) and refresh == grant.refresh_token
            overlapping = bool(refresh) and refresh == grant.previous_refresh_token
            if not current and not (overlapping and now < grant.previous_refresh_until):
                raise WeChatError(61023, "refresh_token is invalid")
            if self._rotation.get(grant.account.appid):
                grant.previous_refresh_token = grant.refresh_token
                grant.previous_refresh_until = now + OVERLAP
                grant.refresh_token = self._random.string("refreshtoken@@@", 43)
            return {
                "authorizer_access_token": self._issue_access(grant),
                "expires_in": AUTHORIZER_TOKEN_TTL,
                "authorizer_refresh_token": grant.refresh_token,
            }

    def authorizer_info(self, appid: Any, base_url: str) -> JSON:
        """The account's profile; its avatar and QR code are served by the sandbox at `base_url`."""
        with self._lock:
            grant = self._grant(appid)
            a = grant.account
            authorization = {
                "authorizer_appid": a.appid,
                "authorizer_refresh_token": grant.listed_refresh_token(),
                "func_info": [{"funcscope_category": {"id": i}} for i in grant.func_info],
            }
            if a.kind in _NEWER_KINDS:
                return {"authorizer_info": _newer_profile(a, base_url), "authorization_info": authorization}
            info: JSON = {
                "nick_name": a.nick_name,
                "head_img": f"{base_url}/sandbox/avatar/{a.appid}.svg",
                "service_type_info": {"id": a.service_type},
                "verify_type_info": {"id": a.verify_type},
                "user_name": a.user_name,
                "alias": a.alias,
                "principal_name": a.principal_name,
                "qrcode_url": f"{base_url}/sandbox/qrcode/{a.appid}.svg",
                "business_info": {
                    "open_store": 0,
                    "open_scan": 0,
                    "open_pay": 0,
                    "open_card": 0,
                    "open_shake": 0,
                },
                "account_status": 1,
                "idc": 1,
                "signature": f"{a.nick_name} (WeChat sandbox)",
            }
            if a.is_mini_program:
                info["MiniProgramInfo"] = {
                    "network": {
                        "RequestDomain": [],
                        "WsRequestDomain": [],
                        "UploadDomain": [],
                        "DownloadDomain": [],
                        "BizDomain": [],
                        "UDPDomain": [],
                    },
                    "categories": [{"first": "工具", "second": "效率"}],
                    "visit_status": 0,
                }
            return {"authorizer_info": info, "authorization_info": authorization}

    def authorizer_list(self, offset: Any, count: Any) -> JSON:
        if not isinstance(offset, int) or not isinstance(count, int) or offset < 0 or not 1 <= count <= 500:
            raise WeChatError(40097, "invalid args: offset >= 0, 1 <= count <= 500")
        with self._lock:
            grants = sorted(
                (g for g in self._grants.values() if g.authorized),
                key=lambda g: (g.auth_time, g.account.appid),
            )
            page = grants[offset : offset + count]
            return {
                "total_count": len(grants),
                "list": [
                    {
                        "authorizer_appid": g.account.appid,
                        "refresh_token": g.listed_refresh_token(),
                        "auth_time": g.auth_time,
                    }
                    for g in page
                ],
            }

    def granted(self, appid: str) -> tuple[MerchantAccount, list[int]]:
        """The account and the permission sets its live grant gave the component (61003 without one)."""
        with self._lock:
            grant = self._grant(appid)
            return grant.account, list(grant.func_info)

    def token_owner(self, token: str | None) -> str | None:
        """The account an authorizer access token was issued to, live or not (None: never issued,
        or its grant was revoked since): whose call it was, for getRidInfo."""
        with self._lock:
            return self._access_index.get(token) if token else None

    def check_access_token(self, token: str | None) -> str:
        """The appid an authorizer access token belongs to."""
        if not token:
            raise WeChatError(41001, "access_token missing")
        with self._lock:
            appid = self._access_index.get(token)
            grant = self._grants.get(appid) if appid else None
            if grant is None or not grant.authorized:
                raise WeChatError(40001, _INVALID_CREDENTIAL)
            code = grant.access.check(token, self._clock.now())
            if code == 42001:
                raise WeChatError(42001, "access_token expired")
            if code:
                raise WeChatError(40001, _INVALID_CREDENTIAL)
            return grant.account.appid

    # -- helpers (the caller holds the lock) -----------------------------------------------------

    def _authorize(self, appid: str, func_info: list[int] | None) -> Authorization:
        account = self._accounts.get(appid)
        if account is None:
            raise WeChatError(40013, "invalid appid")
        now = self._clock.now()
        grant = self._grants.get(appid)
        was_authorized = grant is not None and grant.authorized
        permissions = list(func_info) if func_info else list(account.permissions)
        api_permission = self._has_api_permission(appid)
        refresh = self._random.string("refreshtoken@@@", 43) if api_permission else ""
        event: str | None = AUTHORIZED
        if grant is None:
            self._grants[appid] = Grant(account, refresh, int(now), permissions, api_permission=api_permission)
        else:
            if was_authorized:
                # "If the permission set did not change, no update notification is pushed."
                event = UPDATE_AUTHORIZED if sorted(set(permissions)) != sorted(set(grant.func_info)) else None
            # Re-authorization issues a new refresh token and kills the old one (docs/protocol.md §3).
            grant.refresh_token = refresh
            grant.previous_refresh_token = None
            grant.authorized = True
            grant.func_info = permissions
            grant.auth_time = int(now)
            grant.exchanged = False
            grant.shown = True
            if not api_permission:
                self._forget_access(appid)
            grant.api_permission = api_permission
        return Authorization(self._new_code(appid, now), event, was_authorized)

    def _forget_access(self, appid: str) -> None:
        for token in [t for t, owner in self._access_index.items() if owner == appid]:
            del self._access_index[token]
        self._grants[appid].access = TokenPair()

    def _new_code(self, appid: str, now: float) -> Code:
        code = Code(self._random.string("queryauthcode@@@", 64), now + AUTH_CODE_TTL, appid)
        self._auth_codes[code.value] = code
        return code

    def _grant(self, appid: Any) -> Grant:
        grant = self._grants.get(appid) if isinstance(appid, str) else None
        if grant is None or not grant.authorized:
            raise WeChatError(61003, "component is not authorized by this account")
        return grant

    def _issue_access(self, grant: Grant) -> str:
        issued = grant.access.issue(self._random.string("", 136), self._clock.now(), AUTHORIZER_TOKEN_TTL)
        self._access_index[issued.value] = grant.account.appid
        return issued.value

    def _account_state(self, a: MerchantAccount) -> JSON:
        grant = self._grants.get(a.appid)
        access = grant.access.current if grant else None
        return {
            "appid": a.appid,
            "user_name": a.user_name,
            "nick_name": a.nick_name,
            "kind": a.kind,
            "status": "authorized" if grant and grant.authorized else ("revoked" if grant else "never"),
            "rotation": self._rotation.get(a.appid, False),
            "refresh_token": grant.refresh_token if grant and grant.authorized else None,
            "exchanged": grant.exchanged if grant and grant.authorized else None,
            "api_permission": self._has_api_permission(a.appid),
            "grant_api_permission": grant.api_permission if grant else None,
            "on_test_list": a.appid in (self._test_accounts or []),
            "authorizer_access_token": access.value if access else None,
            "access_expires_at": access.expires_at if access else None,
            "auth_time": grant.auth_time if grant else None,
            "func_info": grant.func_info if grant else list(a.permissions),
        }


_NEWER_KINDS = {CHANNELS: "channels_info", STORE: "store_info", TALENT: "talent_info"}
_NEWER_KIND_NAMES = {CHANNELS: "视频号", STORE: "微信小店", TALENT: "带货助手"}


def _newer_profile(a: MerchantAccount, base_url: str) -> JSON:
    """A Channels, shop or talent account's profile: no service_type_info, verify_type_info,
    business_info nor MiniProgramInfo; its kind in channels_info / store_info / talent_info
    (api_get_authorizer_info's page names these objects without their fields: the sandbox's
    `{id, name}` mirrors service_type_info's shape)."""
    return {
        "nick_name": a.nick_name,
        "head_img": f"{base_url}/sandbox/avatar/{a.appid}.svg",
        "user_name": a.user_name,
        "alias": a.alias,
        "principal_name": a.principal_name,
        "qrcode_url": f"{base_url}/sandbox/qrcode/{a.appid}.svg",
        "account_status": 1,
        "signature": f"{a.nick_name} (WeChat sandbox)",
        _NEWER_KINDS[a.kind]: {"id": 1, "name": _NEWER_KIND_NAMES[a.kind]},
    }
