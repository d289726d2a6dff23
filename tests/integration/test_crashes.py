"""Refresher processes killed with SIGKILL at random points of a sweep, with WeChat rotating every
refresh token: afterwards one clean sweep completes, every grant is refreshed, and no refresh token
is lost or rolled back (issue 11). `make test` kills 10; `make soak` 50 (WXCOMPONENT_CRASHES)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from infra.local.template import ROOT
from tests.conftest import World
from tests.support.clean_sweep import assert_clean_sweep_holds_wechats_refresh_tokens
from tests.support.graph import graph
from wxcomponent.services.single_flight import SingleFlight

pytestmark = pytest.mark.slow
CRASHES = int(os.environ.get("WXCOMPONENT_CRASHES", "10"))
# A killed sweep leaves its lease behind (for `lease_ttl`, 100 s), and the next sweep waits for the
# dead holder as for a live one before it gives that grant up: `SingleFlight.wait`, 8 s, which was
# most of this test's time. The workers wait 0.5 s instead, taking the same path (the lease refused,
# a re-read in case the holder had finished, then RefreshContended for that grant): no holder is
# ever alive while a worker waits, since each worker has ended before the next starts.
SWEEP = """
import functools
from wxcomponent.services import authorizer_token, component_token, js_tickets
from wxcomponent.services.single_flight import SingleFlight
for module in (authorizer_token, component_token, js_tickets):
    module.SingleFlight = functools.partial(SingleFlight, wait=0.5)
from wxcomponent.bootstrap import container
container().refresher.sweep(lambda: 60_000)
"""


class Refreshes:
    """How many api_authorizer_token calls the sandbox has answered (read in process: no request),
    as a condition to wait on: the sandbox's journal notifies it as it records each call."""

    def __init__(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        self._journal = world.sandbox.world.journal
        self._changed = threading.Condition()
        record = self._journal.record_call

        def recorded(call: dict[str, Any]) -> None:
            record(call)
            with self._changed:
                self._changed.notify_all()

        monkeypatch.setattr(self._journal, "record_call", recorded)

    def seen(self) -> int:
        counters: dict[str, int] = self._journal.call_log("api_authorizer_token")["counters"]
        return counters.get("api_authorizer_token", 0)

    def wait_for(self, worker: subprocess.Popen[bytes], target: int) -> tuple[int, threading.Thread]:
        """Until the sandbox has seen `target` refreshes or the worker has ended (a thread joins it
        and wakes the wait); the timeout only bounds a failure (a worker stuck for two minutes is
        one). Returns the count and the joining thread, for the caller to join."""
        ended = threading.Event()

        def join() -> None:
            worker.wait()
            ended.set()
            with self._changed:
                self._changed.notify_all()

        joiner = threading.Thread(target=join, name="crash-worker-join", daemon=True)
        joiner.start()
        with self._changed:
            progressed = self._changed.wait_for(lambda: self.seen() >= target or ended.is_set(), timeout=120)
        assert progressed, "the sweep made no progress in 120 s"
        return self.seen(), joiner


def test_sweeps_killed_at_random_points_lose_no_refresh_token(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    refreshes = Refreshes(world, monkeypatch)
    world.push_ticket()
    # Every sandbox account WeChat gives tokens (one authorizes without API permission: none to lose).
    accounts = [a["appid"] for a in world.control("GET", "state")["accounts"] if a["api_permission"]]
    for appid in accounts:
        world.control("POST", "authorize", {"appid": appid})
        world.control("POST", f"accounts/{appid}/rotation", {"enabled": True})  # every refresh rotates
    rng = random.Random(20261122)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'core'}{os.pathsep}{ROOT}"}
    killed_mid_sweep = 0
    for _ in range(CRASHES):
        for appid in accounts:  # every grant due, its token gone: the sweep must call WeChat for each
            graph().authorizers.delete_authorizer_token(appid)
            graph().authorizers.set_refresh_due(appid, int(time.time()) - 1)
        before = refreshes.seen()
        worker = subprocess.Popen(
            [sys.executable, "-c", SWEEP], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # The kill lands after WeChat has answered the k-th refresh of this sweep, whatever the
        # machine's load: waited for as an event (the sandbox's own count), never guessed from time.
        target = before + rng.randint(1, len(accounts))
        seen, joiner = refreshes.wait_for(worker, target)
        if worker.returncode is None:
            worker.send_signal(signal.SIGKILL)
            killed_mid_sweep += seen >= target and refreshes.seen() < before + len(accounts)
        joiner.join(timeout=60)
        assert worker.returncode is not None, "a killed worker did not end"
    assert killed_mid_sweep > 0  # some kills did land between the sweep's WeChat calls

    # The clean sweep, once the dead holders' leases have expired (its clock is past their lease).
    later = SingleFlight.lease_ttl + 1
    assert_clean_sweep_holds_wechats_refresh_tokens(world, accounts, later)
