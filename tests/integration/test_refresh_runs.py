"""The refresher's run is recorded for operators (`COMPONENT#<appid>` / `REFRESH_RUN`): what it did
and what failed, replaced by each run, and never at the cost of the run itself."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from infra.local.devconfig import DEFAULTS
from infra.local.gateway import FakeLambdaContext
from tests.conftest import World
from tests.integration.conftest import load_function
from tests.support.graph import graph
from wxcomponent.domain.refresh_runs import RefreshRun
from wxcomponent.services.best_effort import record_run_best_effort

COMPONENT_APPID = DEFAULTS["WECHAT_COMPONENT_APPID"]
ACCOUNT = "wx570bc396a51b8ff8"


def sweep() -> dict[str, Any]:
    report: dict[str, Any] = load_function("token_refresher").lambda_handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, FakeLambdaContext("token_refresher", 60)
    )
    return report


def test_each_run_replaces_the_record_with_its_report(world: World) -> None:
    assert graph().refresh_runs.last_run(COMPONENT_APPID) is None
    world.push_ticket()
    before = int(time.time())
    first = sweep()
    run = graph().refresh_runs.last_run(COMPONENT_APPID)
    assert run is not None and run.summary == first and run.failures == {}
    assert before <= run.started_at <= run.finished_at <= time.time()
    # The next run: WeChat refuses the due grant's refresh, and the record says so.
    assert world.control("POST", "authorize", {"appid": ACCOUNT})["delivery"]["ok"]
    graph().authorizers.set_refresh_due(ACCOUNT, int(time.time()) - 1)
    graph().authorizers.delete_authorizer_token(ACCOUNT)
    world.fault("api_authorizer_token", "errcode", 61004, count=None)
    second = sweep()
    run = graph().refresh_runs.last_run(COMPONENT_APPID)
    assert run is not None and run.summary == second
    assert run.failures == {"61004": 1} and run.summary["due"] == 1


class BrokenRuns:
    def record_run(self, component_appid: str, run: RefreshRun) -> None:
        raise RuntimeError("the table is gone")

    def last_run(self, component_appid: str) -> RefreshRun | None:
        return None


def test_a_record_that_cannot_be_written_costs_nothing_but_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    def unreadable_secret() -> str:
        raise RuntimeError("no secret")

    with caplog.at_level(logging.INFO, logger="wxcomponent"):
        record_run_best_effort(BrokenRuns(), lambda: COMPONENT_APPID, RefreshRun(1, 2, {}))  # raises nothing
        record_run_best_effort(BrokenRuns(), unreadable_secret, RefreshRun(1, 2, {}))
    logged = [(r.getMessage(), r.levelno, str(r.exc_info[1]) if r.exc_info else "") for r in caplog.records]
    assert logged == [
        ("refresher run not recorded", logging.ERROR, "the table is gone"),
        ("refresher run not recorded", logging.ERROR, "no secret"),
    ]
