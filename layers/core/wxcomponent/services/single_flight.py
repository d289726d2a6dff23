"""One refresh per expiry, across any number of concurrent Lambda containers.

A lease is a conditional write in the table with an expiry, so a holder that crashes blocks nobody
for longer than the lease. The holder re-reads after acquiring (someone may have just finished),
refreshes, writes, releases. Others wait briefly, reading, until the winner's value is there.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from wxcomponent.domain.errors import WxComponentError
from wxcomponent.observability import logger
from wxcomponent.ports import LeaseStore

T = TypeVar("T")
S = TypeVar("S")


@dataclass
class Lease:
    """The lease a guarded refresh holds; its final write may give it back (`released`)."""

    name: str
    holder: str
    released: bool = False


class RefreshContended(WxComponentError):
    """Another container held the refresh lease for longer than we could wait."""

    code = "upstream_error"


@dataclass
class SingleFlight:
    leases: LeaseStore | None = None  # what `run` and `run_guarded` take; `run_taking` is handed its store
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # Longer than a refresh can take: its longest path is four WeChat calls (a nested component-token
    # refresh, api_authorizer_token, a page of the authorizer list after 61023, api_authorizer_token
    # again), each up to 3 attempts of 2 s connect + 5 s read plus backoff: 4 x 21.6 s. A holder that
    # dies blocks nobody for longer than this; waiters give up after `wait` and their callers retry.
    lease_ttl: float = 100.0
    wait: float = 8.0  # how long a waiter waits for the winner
    poll: float = 0.05

    def _leases(self) -> LeaseStore:
        if self.leases is None:
            raise TypeError("this SingleFlight was made without a LeaseStore")
        return self.leases

    def _release(self, name: str, holder: str) -> None:
        """A lease that cannot be given back (the table throttles, the connection drops) is left
        to expire: it blocks nobody for longer than `lease_ttl`, and the outcome stands."""
        try:
            self._leases().release_lease(name, holder)
        except Exception:  # noqa: BLE001 - see above
            logger.warning("lease not released; it will expire", extra={"lease": name})

    def run(self, name: str, current: Callable[[], T | None], refresh: Callable[[], T]) -> T:
        """Returns `current()` if it gives a value; otherwise refreshes under the lease named `name`.

        `current` returns a value only when it is good enough for this caller; waiters call it
        until the winner's write makes it so.
        """
        found = current()
        if found is not None:
            return found
        holder = secrets.token_hex(8)
        deadline = self.clock() + self.wait
        delay = self.poll
        while True:
            if self._leases().acquire_lease(name, holder, self.clock(), self.lease_ttl):
                try:
                    found = current()  # someone may have finished just before we took the lease
                    return found if found is not None else refresh()
                finally:
                    self._release(name, holder)
            if self.clock() >= deadline:
                raise RefreshContended(f"refresh of {name} is taking too long elsewhere")
            self.sleep(delay)
            delay = min(delay * 2, 0.5)
            found = current()
            if found is not None:
                return found

    def run_taking(
        self,
        name: str,
        take: Callable[[str], S | None],
        answer: Callable[[S], T | None],
        reread: Callable[[], S],
        refresh: Callable[[S, Lease], T],
        release: Callable[[str], None],
    ) -> T:
        """`run` for a value whose store takes the lease and returns what it guards in the same
        request (`take`: None when another holds it), so no re-read follows: `answer` says whether
        what came back is good enough now (someone finished just before), else `refresh` runs
        under the lease, and its final write may give it back (`Lease.released`). While another
        holds it, `reread` is asked until `answer` is satisfied or `wait` runs out."""
        lease = Lease(name, secrets.token_hex(8))
        deadline = self.clock() + self.wait
        delay = self.poll
        while True:
            taken = take(lease.holder)
            if taken is not None:
                try:
                    found = answer(taken)
                    return found if found is not None else refresh(taken, lease)
                finally:
                    if not lease.released:
                        self._release_with(release, name, lease.holder)
            if self.clock() >= deadline:
                raise RefreshContended(f"refresh of {name} is taking too long elsewhere")
            found = answer(reread())  # the lease is held: perhaps its holder has just finished
            if found is not None:
                return found
            self.sleep(delay)
            delay = min(delay * 2, 0.5)

    @staticmethod
    def _release_with(release: Callable[[str], None], name: str, holder: str) -> None:
        """As `_release`, through the store that holds the lease."""
        try:
            release(holder)
        except Exception:  # noqa: BLE001 - see _release
            logger.warning("lease not released; it will expire", extra={"lease": name})

    def run_guarded(
        self,
        name: str,
        state: S,
        acquire: Callable[[S, str], bool],
        reread: Callable[[], tuple[T | None, S]],
        refresh: Callable[[S, Lease], T],
    ) -> T:
        """`run` for a value whose store can take the lease only while nothing changed since
        `state` was read (one conditional request, no re-read after it), and whose final write can
        give the lease back (`Lease.released`). `state` was just read and is not good enough;
        `reread` gives the value when it is good enough now, and the state to try again from."""
        lease = Lease(name, secrets.token_hex(8))
        deadline = self.clock() + self.wait
        delay = self.poll
        while True:
            if acquire(state, lease.holder):
                try:
                    return refresh(state, lease)
                finally:
                    if not lease.released:
                        self._release(name, lease.holder)
            if self.clock() >= deadline:
                raise RefreshContended(f"refresh of {name} is taking too long elsewhere")
            found, state = reread()  # the token changed (someone just refreshed), or the lease is held
            if found is not None:
                return found
            self.sleep(delay)
            delay = min(delay * 2, 0.5)
