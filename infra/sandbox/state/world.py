"""The sandbox's world: its parts wired together, plus the few things that span them.

`World` owns no data of its own but the sandbox's address and its stop event; each part owns its
data and its lock. What spans parts lives here: `reset` (every part back to the seeded state),
`snapshot` (`GET /sandbox/state`), `clear_quota` (a component call that lifts 45009 faults), and
`export`/`restore` (`make dev` keeps the world across restarts).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from typing import Any

from infra.sandbox.config import SandboxConfig
from infra.sandbox.state import saved
from infra.sandbox.state.clock import Clock
from infra.sandbox.state.component import Component
from infra.sandbox.state.console import ConsoleUrls
from infra.sandbox.state.credentials import Code
from infra.sandbox.state.errors import JSON, WeChatError
from infra.sandbox.state.faults import Faults
from infra.sandbox.state.journal import Journal
from infra.sandbox.state.merchants import Merchants
from infra.sandbox.state.quotas import Quotas
from infra.sandbox.state.randomness import Randomness
from infra.sandbox.state.rids import Rids
from infra.sandbox.state.web import WebPages

QUOTA_ERRCODE = 45009  # "reach max api daily quota limit": what clear_quota lifts


class World:
    """The clock, the one random source, the component, the merchants, their accounts' web pages,
    the faults and the journal."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.base_url = ""  # set by the server once it is bound (authorizer_info links to it)
        self.stopping = threading.Event()
        self.clock = Clock(config.clock)
        self.random = Randomness(config.seed)
        self.component = Component(config, self.clock, self.random)
        self.merchants = Merchants(config, self.clock, self.random)
        self.web = WebPages(config, self.clock, self.random)
        self.faults = Faults()
        self.journal = Journal()
        self.quotas = Quotas(self.clock, config.daily_quotas)  # today's calls per account, the month's clears
        self.rids = Rids(self.clock)  # the calls answered with an error, by rid, for getRidInfo
        self.console = ConsoleUrls(config)  # where WeChat pushes: the platform's console URLs
        self._whitelist_lock = threading.Lock()
        self._whitelist = _checked_whitelist(config.ip_whitelist)

    @property
    def ip_whitelist(self) -> list[str] | None:
        with self._whitelist_lock:
            return None if self._whitelist is None else list(self._whitelist)

    def set_ip_whitelist(self, ips: list[str] | None) -> list[str] | None:
        """Replaces the whitelist (None: no check). ValueError for an address that is not one."""
        checked = _checked_whitelist(ips)
        with self._whitelist_lock:
            self._whitelist = checked
        return checked

    def whitelisted(self, client_ip: str) -> bool:
        with self._whitelist_lock:
            return self._whitelist is None or client_ip in self._whitelist

    def reset(self) -> None:
        """Back to the seeded state: everything but the configuration is forgotten."""
        self.random.reset()
        self.clock.reset()
        self.component.reset()
        self.merchants.reset()
        self.web.reset()
        self.faults.reset()
        self.journal.reset()
        self.quotas.reset()
        self.rids.reset()
        self.console.reset()
        self.set_ip_whitelist(self.config.ip_whitelist)

    def export(self) -> JSON:
        """The world as JSON, for `make dev` to keep across restarts: the clock's offset, the random
        source, the component, the merchants' grants, the web pages' tickets and ticket mode, the
        customer-service allowances users opened and the IP whitelist. Not the faults (a test's)
        nor the journal's logs (a record of what happened)."""
        return {
            "seed": self.config.seed,
            "component_appid": self.config.component_appid,
            "clock_offset": self.clock.export(),
            "random": self.random.export(),
            "component": self.component.export(),
            "merchants": self.merchants.export(),
            "web": self.web.export(),
            "customer_service": self.journal.export_allowances(),
            "ip_whitelist": self.ip_whitelist,
            "quotas": self.quotas.export(),
        }

    def restore(self, data: JSON) -> None:
        """`export`'s JSON back. ValueError when it is not one or belongs to another configuration
        (seed, component); the world is then as `reset` leaves it."""
        try:
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("seed") != self.config.seed:
                raise ValueError(f"saved with seed {data.get('seed')!r}, this sandbox has {self.config.seed}")
            if data.get("component_appid") != self.config.component_appid:
                raise ValueError(f"saved for component {data.get('component_appid')!r}")
            self.clock.restore(data.get("clock_offset"))
            self.random.restore(data.get("random"))
            self.component.restore(saved.checked(data.get("component"), dict[str, Any], "component"))
            self.merchants.restore(saved.checked(data.get("merchants"), dict[str, Any], "merchants"))
            if "web" in data:  # a world saved before the web pages were played has none
                self.web.restore(data["web"])
            else:
                self.web.reset()
            # Saved before these were kept: nobody has written, and the configured whitelist.
            self.journal.restore_allowances(data.get("customer_service", []))
            self.set_ip_whitelist(data.get("ip_whitelist", self.config.ip_whitelist))
            if "quotas" in data:  # saved before quotas were played: none spent
                self.quotas.restore(data["quotas"])
            else:
                self.quotas.reset()
        except ValueError:
            self.reset()
            raise

    def snapshot(self) -> JSON:
        """What `GET /sandbox/state` shows: the clock, the component, the accounts and the faults."""
        now = self.clock.now()
        return {
            "now": now,
            "clock_offset": self.clock.offset,
            "component_appid": self.config.component_appid,
            "component_access_token": self.component.live_token(now),
            "tickets": self.component.tickets(),
            "accounts": self.merchants.states(),
            "js_tickets": self.web.tickets(),
            "web_users": [
                {"user_id": user.user_id, "nickname": user.nickname, "snapshot": user.snapshot}
                for user in self.web.users()
            ],
            "faults": self.faults.describe(),
            "ip_whitelist": self.ip_whitelist,
            "urls": self.console.describe(),
            "released": self.merchants.released,
            "test_accounts": self.merchants.test_accounts(),
            "ticket_mode": self.web.ticket_mode,
        }

    def clear_quota(self, appid: Any, secret: Any, account: Any = None) -> None:
        """WeChat's clear_quota/v2, with the component's AppSecret: the component's daily counts,
        or with `account` an authorized account's (61003 for any other); spends one of that
        account's 10 clears this month (48006 beyond), and lifts the quota faults."""
        self.component.check_credentials(appid, secret)
        owner = self.config.component_appid
        if account is not None:
            if not isinstance(account, str) or not self.merchants.is_authorized(account):
                raise WeChatError(61003, "component is not authorized by this account")
            owner = account
        self.quotas.clear(owner)
        self.faults.clear_errcode(QUOTA_ERRCODE)

    # -- kept for tests/integration, which reach into the sandbox's world --------------------------

    def release_test_code(self, appid: str) -> Code:
        return self.merchants.release_test_code(appid)

    def wait_for_message(self, predicate: Callable[[JSON], bool], timeout: float) -> JSON | None:
        return self.journal.wait_for_message(predicate, timeout)


def _checked_whitelist(ips: object) -> list[str] | None:
    if ips is None:
        return None
    if not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips):
        raise ValueError("the whitelist is a list of IP addresses, or null for none")
    return [str(ipaddress.ip_address(ip)) for ip in ips]  # ValueError for anything else
