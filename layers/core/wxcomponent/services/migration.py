"""Moving a live platform here (docs/deploy.md, "Moving a live platform here"): every account WeChat
lists for the component becomes a grant, with its refresh token, so that no merchant authorizes
again.

The old system and this one serve the same component, so WeChat's `api_get_authorizer_list` (every
page, 500 a page) lists the refresh tokens both hold. The old system's own record (appid → refresh
token, `read_old_tokens`) is asked only for the accounts the list shows without one. What is planned
for each listed account (`Step.action`):
- `import`: no grant here, or one that gives no token (needs_reauthorization, no_api_permission, or
  revoked here before WeChat's current authorization), and a refresh token from one of the sources;
- `held`: our grant already holds that refresh token;
- `conflict`: an authorized grant here holds another one. It is left alone: a grant held here was
  written by this platform's own authorization or refresh. `replace_held` (the operator says so)
  puts the list's token in its place, compare-and-set; a file's token never replaces one we hold;
- `revoked_here`: we hold it revoked after WeChat's current authorization (the list lags);
- `no_token`: neither source has a refresh token: the merchant must authorize again, or the account
  has no API permission (WeChat lists none for it).
An entry of the file that WeChat does not list is `not_listed`: that account no longer authorizes
the component, and its token would only meet 61003.

An import stores the grant unless an authorization stored meanwhile is newer (its `authorized_at`
is WeChat's `auth_time`), with the profile and permission sets `api_get_authorizer_info` gives,
due for refresh now: the refresher fetches its access token on its schedule, and a vend at once.
It is announced as `migrated`, never `authorized`: the merchant did nothing, and a vendor's
onboarding hangs on `authorized`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from wxcomponent.domain.errors import BadRequest
from wxcomponent.domain.grants import APPID_RE, AUTHORIZED, NEEDS_REAUTHORIZATION, NO_API_PERMISSION, REVOKED, Grant
from wxcomponent.domain.grants import func_ids as func_ids_of
from wxcomponent.domain.wechat import AccountRevokedAuthorization, AuthorizerListItem, AuthorizerListPage, UpstreamError
from wxcomponent.observability import logger
from wxcomponent.ports import Authorizers, ComponentCalls, EventPublisher, ProfileStore, WeChatApi
from wxcomponent.services.authorization import profile_from
from wxcomponent.services.best_effort import publish_best_effort
from wxcomponent.settings import ComponentSettings

LIST_PAGE = 500  # api_get_authorizer_list's largest page
EVENT_MIGRATED = "migrated"
SOURCE_LIST = "authorizer_list"
SOURCE_FILE = "file"
IMPORT, HELD, CONFLICT, REVOKED_HERE, NO_TOKEN, NOT_LISTED = (
    "import",
    "held",
    "conflict",
    "revoked_here",
    "no_token",
    "not_listed",
)
# What WeChat's refresh tokens look like is not documented ("refreshtoken@@@…" is observed): a
# bounded run of visible ASCII, so nothing empty, oversized or binary is ever stored as one.
REFRESH_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,512}")
OLD_TOKENS_LIMIT = 64 * 1024 * 1024  # bytes: a file for 100,000 accounts is about 10 MB
CSV_HEADERS = (("authorizer_appid", "refresh_token"), ("appid", "refresh_token"))


@dataclass(frozen=True)
class Step:
    """What the migration does (or did) for one account. The token is never shown."""

    authorizer_appid: str
    action: str  # IMPORT, HELD, CONFLICT, REVOKED_HERE, NO_TOKEN, NOT_LISTED
    source: str = ""  # SOURCE_LIST or SOURCE_FILE: where the refresh token comes from
    auth_time: int = 0  # WeChat's, from the list
    refresh_token: str = field(default="", repr=False)
    held_token: str = field(default="", repr=False)  # ours, for a conflict's compare-and-set
    previous_authorized_at: int = 0  # the grant held here, if any


@dataclass
class Plan:
    listed: int = 0  # accounts WeChat lists
    steps: list[Step] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for step in self.steps if step.action == action)


@dataclass(frozen=True)
class Outcome:
    """What applying a step did: `imported`, `replaced`, `authorized_meanwhile` (a newer grant was
    stored since the plan was made), `revoked_since_listed` (WeChat answered 61003), `changed_meanwhile`
    (a conflict's grant no longer holds the token planned against), or `skipped`."""

    step: Step
    result: str
    nick_name: str = ""


def read_old_tokens(data: bytes) -> dict[str, str]:
    """The old system's appid → refresh token, from a JSON object (`{"wx…": "…"}`) or CSV with two
    columns, `authorizer_appid,refresh_token` (a header of those names, or `appid,refresh_token`,
    is skipped). Whitespace around a value is dropped. Anything else, an appid twice with two
    tokens, a value that is not an appid or a refresh token: `BadRequest`, naming where, never the
    value (it may be a token)."""
    if len(data) > OLD_TOKENS_LIMIT:
        raise BadRequest(f"the file is over {OLD_TOKENS_LIMIT // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("the file is not UTF-8 text") from None
    if text.lstrip().startswith(("{", "[")):
        return _from_json(text)
    return _from_csv(text)


def _from_json(text: str) -> dict[str, str]:
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise BadRequest(f"the file is not valid JSON (line {getattr(error, 'lineno', '?')})") from None
    if not isinstance(parsed, dict):
        raise BadRequest("the JSON file must be one object: appid → refresh token")
    tokens: dict[str, str] = {}
    for number, (appid, token) in enumerate(parsed.items(), start=1):
        _add(tokens, appid, token if isinstance(token, str) else None, f"entry {number}")
    return tokens


def _from_csv(text: str) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if not tokens and tuple(cell.lower() for cell in cells) in CSV_HEADERS:
            continue
        if len(cells) != 2:
            raise BadRequest(f"line {number}: two columns expected, authorizer_appid,refresh_token")
        _add(tokens, cells[0], cells[1], f"line {number}")
    return tokens


def _add(tokens: dict[str, str], appid: str, token: str | None, where: str) -> None:
    appid = appid.strip()
    if not APPID_RE.fullmatch(appid):
        raise BadRequest(f"{where}: the appid is not wx followed by 16 hex digits")
    token = token.strip() if token is not None else None
    if token is None or not REFRESH_TOKEN_RE.fullmatch(token):
        raise BadRequest(f"{where} ({appid}): the refresh token is not 1 to 512 visible ASCII characters")
    if tokens.get(appid, token) != token:
        raise BadRequest(f"{where}: {appid} appears twice with two refresh tokens")
    tokens[appid] = token


class MigrationService:
    """Plans the migration from WeChat's list and the old system's file, and applies it a step at a
    time (the CLI shows progress), through the grant and profile stores' own conditions."""

    def __init__(
        self,
        grants: Authorizers,
        profiles: ProfileStore,
        api: WeChatApi,
        component_tokens: ComponentCalls,
        publisher: EventPublisher,
        *,
        component: Callable[[], ComponentSettings],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._grants = grants
        self._profiles = profiles
        self._api = api
        self._component_tokens = component_tokens
        self._publisher = publisher
        self._component = component
        self._clock = clock

    # -- the plan ----------------------------------------------------------------------------------

    def plan(
        self,
        old_tokens: Mapping[str, str] | None = None,
        *,
        on_total: Callable[[int], None] = lambda _: None,
        on_item: Callable[[], None] = lambda: None,
    ) -> Plan:
        """Reads WeChat's list (every page) and our grant of each listed account; writes nothing."""
        old = dict(old_tokens or {})
        plan = Plan()
        seen: set[str] = set()
        for item in self.listed(on_total):
            if item.authorizer_appid in seen:  # a page shifted by an authorization meanwhile
                continue
            seen.add(item.authorizer_appid)
            plan.listed += 1
            plan.steps.append(self._step(item, old.get(item.authorizer_appid, "")))
            on_item()
        plan.steps += [Step(appid, NOT_LISTED, SOURCE_FILE) for appid in sorted(set(old) - seen)]
        return plan

    def listed(self, on_total: Callable[[int], None] = lambda _: None) -> Iterator[AuthorizerListItem]:
        """WeChat's list, page by page, with the component token (refreshed once if WeChat rejects it)."""
        component_appid = self._component().component_appid
        offset = 0
        while True:
            start = offset

            def page(token: str, start: int = start) -> AuthorizerListPage:
                return self._api.get_authorizer_list(token, component_appid, start, LIST_PAGE)

            listed = self._component_tokens.call(page)
            on_total(listed.total_count)
            yield from listed.items
            offset += len(listed.items)
            if not listed.items or offset >= listed.total_count:
                return

    def _step(self, item: AuthorizerListItem, from_file: str) -> Step:
        appid = item.authorizer_appid
        token, source = (item.refresh_token, SOURCE_LIST) if item.refresh_token else (from_file, SOURCE_FILE)
        if not token:
            source = ""
        grant = self._grants.get_grant(appid)
        held_at = grant.authorized_at if grant is not None else 0
        step = Step(appid, IMPORT, source, item.auth_time, token, previous_authorized_at=held_at)
        if grant is not None and grant.status == AUTHORIZED:
            if grant.refresh_token == token:
                return Step(appid, HELD, source, item.auth_time)
            if token:
                return Step(appid, CONFLICT, source, item.auth_time, token, grant.refresh_token, held_at)
            return Step(appid, HELD, "", item.auth_time)  # WeChat and the file have none: ours stays
        # Revoked after the authorization WeChat lists (our revocation is WeChat's push's time, or a
        # 61003 the list confirmed): the list lags it. Revoked before it: WeChat lists a newer one.
        if grant is not None and grant.status == REVOKED and item.auth_time <= grant.updated_at:
            return Step(appid, REVOKED_HERE, source, item.auth_time)
        if grant is not None and grant.status not in (REVOKED, NEEDS_REAUTHORIZATION, NO_API_PERMISSION):
            return Step(appid, HELD, "", item.auth_time)  # a state no migration should touch
        if not token:
            return Step(appid, NO_TOKEN, "", item.auth_time)
        return step

    # -- applying it -------------------------------------------------------------------------------

    def apply(self, step: Step, *, replace_held: bool = False) -> Outcome:
        """One step: an import, or with `replace_held` a conflict's replacement by the list's token.
        Every other step changes nothing."""
        if step.action == IMPORT:
            return self._import(step)
        if step.action == CONFLICT and replace_held and step.source == SOURCE_LIST:
            now = int(self._clock())
            replaced = self._grants.update_refresh_token(
                step.authorizer_appid, step.held_token, step.refresh_token, now
            )
            if replaced:
                self._grants.set_refresh_due(step.authorizer_appid, now)  # its token was fetched with the other
                logger.warning("held refresh token replaced by the listed one", extra=_who(step))
            return Outcome(step, "replaced" if replaced else "changed_meanwhile")
        return Outcome(step, "skipped")

    def _import(self, step: Step) -> Outcome:
        component_appid = self._component().component_appid
        appid = step.authorizer_appid
        now = int(self._clock())
        func_info: tuple[int, ...] = ()
        nick_name, is_mini_program = "", False
        try:
            answer = self._component_tokens.call(
                lambda token: self._api.get_authorizer_info(token, component_appid, appid)
            )
        except AccountRevokedAuthorization:
            logger.info("listed account revoked before its import", extra=_who(step))
            return Outcome(step, "revoked_since_listed")
        except UpstreamError as error:  # the grant matters, the profile can come later
            logger.warning("profile not fetched for an import", extra={**_who(step), "errcode": error.errcode})
            answer = None
        if answer is not None:
            authorization = answer.raw.get("authorization_info")
            listed_func = authorization.get("func_info") if isinstance(authorization, dict) else None
            func_info = func_ids_of(listed_func) if isinstance(listed_func, list) else ()
            nick_name, is_mini_program = answer.nick_name, answer.is_mini_program
        grant = Grant(
            authorizer_appid=appid,
            component_appid=component_appid,
            refresh_token=step.refresh_token,
            func_info=func_info,
            status=AUTHORIZED,
            # WeChat's time of the authorization it lists: an authorization stored here meanwhile is
            # later, and the store's condition keeps it (never overwritten by this older one).
            authorized_at=max(step.auth_time, step.previous_authorized_at),
            updated_at=now,
        )
        if not self._grants.save_grant(grant, refresh_due=now):
            logger.info("listed account authorized here meanwhile", extra=_who(step))
            return Outcome(step, "authorized_meanwhile")
        if answer is not None:
            self._profiles.save_profile(profile_from(answer, now))
        logger.info("grant migrated", extra=_who(step))
        publish_best_effort(
            self._publisher,
            component_appid,
            EVENT_MIGRATED,
            {
                "authorizer_appid": appid,
                "func_info": list(func_info),
                "authorized_at": grant.authorized_at,
                "nick_name": nick_name,
                "is_mini_program": is_mini_program,
                "source": step.source,
            },
        )
        return Outcome(step, "imported", nick_name)


def _who(step: Step) -> dict[str, object]:
    return {"authorizer_appid": step.authorizer_appid, "source": step.source}
