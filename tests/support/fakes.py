"""In-memory fakes of the core's ports, with the same conditional semantics as the DynamoDB
adapters. tests/integration/test_store_contract.py runs the same scenarios against both, so a fake
cannot drift from the table it stands in for."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from wxcomponent.adapters.dynamodb.code_claims import CODE_CLAIM_LIFETIME
from wxcomponent.domain.binding import NO_ORIGIN, CodeExchange, CodeOrigin
from wxcomponent.domain.grants import AUTHORIZED, NEEDS_REAUTHORIZATION, NO_API_PERMISSION, REVOKED, Grant, Profile
from wxcomponent.domain.js_tickets import HOT_FOR, VENDED_MARK_EVERY, JsTicket
from wxcomponent.domain.tokens import AccessToken, ForcedRefreshes
from wxcomponent.domain.verify_tickets import PushRecord, VerifyTicket
from wxcomponent.domain.wechat import RefreshFailure
from wxcomponent.keys import js_ticket_lease, refresh_shard, refresh_shards
from wxcomponent.ports import ClaimLost, DueRefreshes, JsTicketState, RefreshState, StateUse


class MemoryVerifyTickets:
    def __init__(self) -> None:
        self.tickets: dict[str, VerifyTicket] = {}
        self.records: dict[tuple[str, int, str, str], PushRecord] = {}
        self.restarts: dict[str, int] = {}
        self.writes = 0

    def save_ticket(self, ticket: VerifyTicket) -> bool:
        current = self.tickets.get(ticket.component_appid)
        if current is not None and (
            current.create_time > ticket.create_time
            or (current.create_time == ticket.create_time and current.ticket == ticket.ticket)
        ):
            return False
        self.tickets[ticket.component_appid] = ticket
        self.writes += 1
        return True

    def get_ticket(self, component_appid: str) -> VerifyTicket | None:
        return self.tickets.get(component_appid)

    def record_push(self, record: PushRecord) -> bool:
        key = (record.component_appid, record.create_time, record.info_type, record.authorizer_appid)
        if key in self.records:
            return False
        self.records[key] = record
        self.writes += 1
        return True

    def claim_ticket_restart(self, component_appid: str, now: int, every: int) -> bool:
        last = self.restarts.get(component_appid)
        if last is not None and last > now - every:
            return False
        self.restarts[component_appid] = now
        return True


class MemoryTokens:
    """The component's tokens; `js_tickets` are the authorizers' JS-SDK tickets (by appid and kind),
    which `MemoryJsTickets` keeps here and `MemoryAuthorizers` deletes with the authorizer's token."""

    def __init__(self) -> None:
        self.component: dict[str, AccessToken] = {}
        self.js_tickets: dict[tuple[str, str], JsTicket] = {}
        self.js_ticket_due: dict[tuple[str, str], int] = {}  # their place in the refresh-due index

    def get_component_token(self, component_appid: str) -> AccessToken | None:
        return self.component.get(component_appid)

    def save_component_token(self, token: AccessToken) -> bool:
        return _save_newer(self.component, token)


def _save_newer(tokens: dict[str, AccessToken], token: AccessToken) -> bool:
    current = tokens.get(token.owner)
    if current is not None and current.issued_at > token.issued_at:
        return False
    tokens[token.owner] = token
    return True


class MemoryAuthorizers:
    """`Authorizers`: each authorizer's one item, as dictionaries by appid: its grant, its place in
    the refresh-due index (`due`), its token, its refresh lease (holder, expiry), the refusal
    remembered and the forced-refresh budget; with the adapter's conditions, each write one item."""

    def __init__(self, *grants: Grant, tickets: MemoryTokens | None = None) -> None:
        self.grants = {grant.authorizer_appid: grant for grant in grants}
        self.due: dict[str, int] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.leases: dict[str, tuple[str, float]] = {}
        self.failures: dict[str, RefreshFailure] = {}
        self.forced: dict[str, ForcedRefreshes] = {}
        self._tickets = tickets or MemoryTokens()
        self.js_ticket_due = self._tickets.js_ticket_due  # one index, as in the table
        self._versions = itertools.count(1)

    def get_grant(self, authorizer_appid: str) -> Grant | None:
        return self.grants.get(authorizer_appid)

    def save_grant(self, grant: Grant, refresh_due: int) -> bool:
        if grant.status != AUTHORIZED or not grant.refresh_token:
            raise ValueError("only an authorized grant with a refresh token is saved")
        current = self.grants.get(grant.authorizer_appid)
        if current is not None and current.authorized_at > grant.authorized_at:
            return False
        self.grants[grant.authorizer_appid] = grant
        self.due[grant.authorizer_appid] = refresh_due
        return True

    def save_grant_without_api_permission(self, grant: Grant) -> bool:
        if grant.status != NO_API_PERMISSION:
            raise ValueError("only a grant without API permission is recorded here")
        current = self.grants.get(grant.authorizer_appid)
        if current is not None and current.authorized_at > grant.authorized_at:
            return False
        kept = current.refresh_token if current is not None else ""
        self.grants[grant.authorizer_appid] = replace(grant, refresh_token=kept)
        self.due.pop(grant.authorizer_appid, None)
        return True

    def revoke_grant(self, authorizer_appid: str, revoked_at: int) -> bool:
        current = self.grants.get(authorizer_appid)
        if current is None or current.authorized_at > revoked_at or current.status == REVOKED:
            return False
        self.grants[authorizer_appid] = replace(current, status=REVOKED, refresh_token="", updated_at=revoked_at)
        self.due.pop(authorizer_appid, None)
        return True

    def update_refresh_token(self, authorizer_appid: str, old: str, new: str, now: int) -> bool:
        current = self.grants.get(authorizer_appid)
        if not new or new == old or current is None or not current.active or current.refresh_token != old:
            return False
        self.grants[authorizer_appid] = replace(current, refresh_token=new, updated_at=now)
        return True

    def set_refresh_due(self, authorizer_appid: str, due: int) -> bool:
        current = self.grants.get(authorizer_appid)
        if current is None or not current.active:
            return False
        self.due[authorizer_appid] = due
        return True

    def revoke_unlisted(self, authorizer_appid: str, refresh_token: str, now: int) -> bool:
        current = self.grants.get(authorizer_appid)
        if current is None or not current.active or current.refresh_token != refresh_token:
            return False
        self.grants[authorizer_appid] = replace(current, status=REVOKED, updated_at=now)
        self.due.pop(authorizer_appid, None)
        return True

    def mark_needs_reauthorization(self, authorizer_appid: str, refresh_token: str, now: int) -> bool:
        current = self.grants.get(authorizer_appid)
        if current is None or not current.active or current.refresh_token != refresh_token:
            return False
        self.grants[authorizer_appid] = replace(current, status=NEEDS_REAUTHORIZATION, updated_at=now)
        self.due.pop(authorizer_appid, None)
        return True

    def refresh_shards(self) -> list[str]:
        return refresh_shards()

    def due_authorizers(self, shard: str, now: int) -> tuple[list[str], int]:
        due = sorted((when, appid) for appid, when in self.due.items() if when <= now and refresh_shard(appid) == shard)
        return [appid for _, appid in due], len(due)

    def due_refreshes(self, shard: str, now: int) -> DueRefreshes:
        authorizers, _ = self.due_authorizers(shard, now)
        tickets = sorted(
            (when, key) for key, when in self.js_ticket_due.items() if when <= now and refresh_shard(key[0]) == shard
        )
        return DueRefreshes(authorizers, [key for _, key in tickets], len(authorizers) + len(tickets))

    def get_authorizer_token(self, authorizer_appid: str) -> AccessToken | None:
        return self.tokens.get(authorizer_appid)

    def save_authorizer_token(self, token: AccessToken) -> bool:
        if token.owner not in self.grants:
            return False
        return _save_newer(self.tokens, token)

    def delete_authorizer_token(self, authorizer_appid: str) -> None:
        self.tokens.pop(authorizer_appid, None)
        for key in [key for key in self._tickets.js_tickets if key[0] == authorizer_appid]:
            del self._tickets.js_tickets[key]
            self._tickets.js_ticket_due.pop(key, None)

    def read_for_refresh(self, authorizer_appid: str) -> RefreshState:
        return RefreshState(
            self.grants.get(authorizer_appid),
            self.tokens.get(authorizer_appid),
            self.failures.get(authorizer_appid),
            self.forced.get(authorizer_appid),
        )

    def acquire_refresh_lease(self, authorizer_appid: str, holder: str, now: float, ttl: float) -> RefreshState | None:
        grant = self.grants.get(authorizer_appid)
        lease = self.leases.get(authorizer_appid)
        if grant is None or not grant.active:
            return None
        if lease is not None and lease[0] != holder and lease[1] >= now:
            return None
        self.leases[authorizer_appid] = (holder, now + ttl)
        return self.read_for_refresh(authorizer_appid)

    def release_refresh_lease(self, authorizer_appid: str, holder: str) -> None:
        lease = self.leases.get(authorizer_appid)
        if lease is not None and lease[0] == holder:
            del self.leases[authorizer_appid]

    def store_refresh(
        self, authorizer_appid: str, used: str, rotated: str | None, token: AccessToken, due: int, holder: str
    ) -> bool:
        grant = self.grants.get(authorizer_appid)
        stored = self.tokens.get(authorizer_appid)
        lease = self.leases.get(authorizer_appid)
        if grant is None or not grant.active or grant.refresh_token != used:
            return False
        if (stored is not None and stored.issued_at > token.issued_at) or lease is None or lease[0] != holder:
            return False
        if rotated and rotated != used:
            self.grants[authorizer_appid] = replace(grant, refresh_token=rotated, updated_at=token.issued_at)
        self.due[authorizer_appid] = due
        self.tokens[authorizer_appid] = token
        del self.leases[authorizer_appid]
        return True

    def remember_failure(self, authorizer_appid: str, failure: RefreshFailure) -> None:
        if authorizer_appid in self.grants:
            self.failures[authorizer_appid] = failure

    def record_forced_refresh(
        self, authorizer_appid: str, seen: ForcedRefreshes | None, forced: ForcedRefreshes
    ) -> bool:
        current = self.forced.get(authorizer_appid)
        if authorizer_appid not in self.grants:
            return False
        if (None if current is None else current.version) != (None if seen is None else seen.version):
            return False
        self.forced[authorizer_appid] = replace(forced, version=f"write-{next(self._versions)}")
        return True


class MemoryProfiles:
    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}

    def save_profile(self, profile: Profile) -> None:
        self.profiles[profile.authorizer_appid] = profile

    def get_profile(self, authorizer_appid: str) -> Profile | None:
        return self.profiles.get(authorizer_appid)


@dataclass
class _Claim:
    holder: str
    expires_at: float
    claimed_at: float
    origin: CodeOrigin
    state: str = "pending"
    authorizer_appid: str = ""

    @property
    def ttl(self) -> float:
        return int(self.claimed_at) + CODE_CLAIM_LIFETIME


class MemoryCodeClaims:
    def __init__(self) -> None:
        self.claims: dict[str, _Claim] = {}

    def claim_code(self, code_hash: str, holder: str, now: float, ttl: float, origin: CodeOrigin = NO_ORIGIN) -> bool:
        current = self.claims.get(code_hash)
        if (
            current is not None
            and current.ttl >= now
            and not (current.state == "pending" and (current.expires_at < now or current.holder == holder))
        ):
            return False
        self.claims[code_hash] = _Claim(holder, now + ttl, now, origin)
        return True

    def finish_code(self, code_hash: str, holder: str, authorizer_appid: str) -> None:
        current = self.claims.get(code_hash)
        if current is None or current.holder != holder:
            raise ClaimLost("the authorization code's claim was taken over before it was finished")
        current.state, current.authorizer_appid = "done", authorizer_appid

    def abandon_code(self, code_hash: str, holder: str) -> None:
        current = self.claims.get(code_hash)
        if current is not None and current.holder == holder and current.state == "pending":
            del self.claims[code_hash]

    def code_exchanged_for(self, code_hash: str, now: float) -> CodeExchange | None:
        current = self.claims.get(code_hash)
        if current is None or current.state != "done" or current.ttl < now:
            return None
        return CodeExchange(current.authorizer_appid, current.claimed_at, current.origin)


@dataclass
class _State:
    pre_auth_hash: str
    expires_at: float
    used_for: str = ""


class MemoryAuthorizationStates:
    def __init__(self) -> None:
        self.states: dict[str, _State] = {}

    def save_state(self, state_hash: str, pre_auth_hash: str, expires_at: float) -> None:
        self.states[state_hash] = _State(pre_auth_hash, expires_at)

    def consume_state(self, state_hash: str, code_hash: str, now: float) -> StateUse | None:
        current = self.states.get(state_hash)
        if current is None or current.expires_at <= now or current.used_for not in ("", code_hash):
            return None
        first = not current.used_for
        current.used_for = code_hash
        return StateUse(current.pre_auth_hash, first)


class MemoryLeases:
    def __init__(self) -> None:
        self.leases: dict[str, tuple[str, float]] = {}

    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        current = self.leases.get(name)
        if current is not None and current[1] >= now and current[0] != holder:
            return False
        self.leases[name] = (holder, now + ttl)
        return True

    def release_lease(self, name: str, holder: str) -> None:
        current = self.leases.get(name)
        if current is not None and current[0] == holder:
            del self.leases[name]


class MemoryMessageReceipts:
    """`MessageReceipts` with the adapter's conditions: a claim wins when nothing is recorded, the
    record outlived `keep`, or a pending claim outlived its lease."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def claim(self, authorizer_appid: str, key: str, now: int, lease: int, keep: int) -> bool:
        item = self.items.get((authorizer_appid, key))
        if item is not None and item["ttl"] >= now and not (item["state"] == "pending" and item["lease_until"] < now):
            return False
        self.items[(authorizer_appid, key)] = {"state": "pending", "lease_until": now + lease, "ttl": now + keep}
        return True

    def record_answer(self, authorizer_appid: str, key: str, answer: str) -> None:
        item = self.items.get((authorizer_appid, key))
        if item is not None:
            item.update(state="answered", answer=answer)

    def answer_of(self, authorizer_appid: str, key: str, now: int) -> str | None:
        item = self.items.get((authorizer_appid, key))
        if item is None or item["state"] != "answered" or item["ttl"] < now:
            return None
        answer: str = item["answer"]
        return answer


class MemoryRefreshFailures:
    def __init__(self) -> None:
        self.failures: dict[str, RefreshFailure] = {}
        self.forced: dict[str, ForcedRefreshes] = {}  # the forced-refresh budgets, by lease name
        self._versions = itertools.count(1)

    def remember_failure(self, name: str, failure: RefreshFailure) -> None:
        self.failures[name] = failure

    def recent_failure(self, name: str, now: float) -> RefreshFailure | None:
        failure = self.failures.get(name)
        return failure if failure is not None and failure.until > now else None

    def forced_refreshes(self, name: str) -> ForcedRefreshes | None:
        return self.forced.get(name)

    def record_forced_refresh(self, name: str, seen: ForcedRefreshes | None, forced: ForcedRefreshes) -> bool:
        current = self.forced.get(name)
        if (None if current is None else current.version) != (None if seen is None else seen.version):
            return False
        self.forced[name] = replace(forced, version=f"write-{next(self._versions)}")
        return True


class MemoryJsTickets:
    """`JsTicketRecords` over the fakes' authorizers, tokens (which hold the tickets), leases and
    remembered refusals, with the adapter's all-or-nothing conditions."""

    def __init__(
        self, grants: MemoryAuthorizers, tokens: MemoryTokens, leases: MemoryLeases, failures: MemoryRefreshFailures
    ) -> None:
        self._grants = grants
        self._tokens = tokens
        self._leases = leases
        self._failures = failures

    def read_for_ticket(self, authorizer_appid: str, kind: str) -> JsTicketState:
        return JsTicketState(
            self._grants.grants.get(authorizer_appid),
            self._grants.tokens.get(authorizer_appid),
            self._tokens.js_tickets.get((authorizer_appid, kind)),
            self._failures.failures.get(js_ticket_lease(authorizer_appid, kind)),
            self._failures.forced.get(js_ticket_lease(authorizer_appid, kind)),
        )

    def acquire_ticket_lease(
        self, authorizer_appid: str, kind: str, seen: JsTicket | None, holder: str, now: float, ttl: float
    ) -> bool:
        current = self._tokens.js_tickets.get((authorizer_appid, kind))
        unchanged = (current is None and seen is None) or (
            current is not None
            and seen is not None
            and (current.ticket, current.issued_at) == (seen.ticket, seen.issued_at)
        )
        return unchanged and self._leases.acquire_lease(js_ticket_lease(authorizer_appid, kind), holder, now, ttl)

    def store_ticket(self, ticket: JsTicket, holder: str, due: int, *, vended: bool) -> bool:
        if vended and ticket.vended_at is None:
            raise ValueError("a vended ticket carries its vend mark")
        key, name = (ticket.owner, ticket.kind), js_ticket_lease(ticket.owner, ticket.kind)
        grant = self._grants.grants.get(ticket.owner)
        stored = self._tokens.js_tickets.get(key)
        lease = self._leases.leases.get(name)
        if grant is None or not grant.active or (stored is not None and stored.issued_at > ticket.issued_at):
            return False
        if lease is not None and lease[0] != holder:
            return False
        kept = stored.vended_at if stored is not None else None
        self._tokens.js_tickets[key] = replace(ticket, vended_at=ticket.vended_at if vended else kept)
        self._tokens.js_ticket_due[key] = due
        self._leases.leases.pop(name, None)
        return True

    def mark_vended(self, authorizer_appid: str, kind: str, now: int, due: int) -> bool:
        key = (authorizer_appid, kind)
        stored = self._tokens.js_tickets.get(key)
        if stored is None or (stored.vended_at is not None and stored.vended_at > now - VENDED_MARK_EVERY):
            return False
        self._tokens.js_tickets[key] = replace(stored, vended_at=now)
        self._tokens.js_ticket_due[key] = due
        return True

    def drop_from_renewal(self, authorizer_appid: str, kind: str, issued_at: int, now: int) -> bool:
        key = (authorizer_appid, kind)
        stored = self._tokens.js_tickets.get(key)
        if stored is None or stored.issued_at != issued_at:
            return False
        if stored.vended_at is not None and stored.vended_at > now - HOT_FOR:
            return False
        self._tokens.js_ticket_due.pop(key, None)
        return True


@dataclass
class MemoryStores:
    """Every store, in memory: what `Container(settings, stores=MemoryStores())` runs on."""

    verify_tickets: MemoryVerifyTickets = field(default_factory=MemoryVerifyTickets)
    tokens: MemoryTokens = field(default_factory=MemoryTokens)
    profiles: MemoryProfiles = field(default_factory=MemoryProfiles)
    code_claims: MemoryCodeClaims = field(default_factory=MemoryCodeClaims)
    authorization_states: MemoryAuthorizationStates = field(default_factory=MemoryAuthorizationStates)
    leases: MemoryLeases = field(default_factory=MemoryLeases)
    receipts: MemoryMessageReceipts = field(default_factory=MemoryMessageReceipts)
    failures: MemoryRefreshFailures = field(default_factory=MemoryRefreshFailures)
    authorizers: MemoryAuthorizers = field(init=False)
    js_tickets: MemoryJsTickets = field(init=False)

    def __post_init__(self) -> None:
        self.authorizers = MemoryAuthorizers(tickets=self.tokens)
        self.js_tickets = MemoryJsTickets(self.authorizers, self.tokens, self.leases, self.failures)


class MemoryPublisher:
    def __init__(self, *, fail: bool = False) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("the bus is down")
        self.events.append((detail_type, detail))


class MemoryTaskQueue:
    def __init__(self, *, fail: bool = False) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.fail = fail

    def defer(self, task: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("Lambda throttled the invocation")
        self.tasks.append(task)
