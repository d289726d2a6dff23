"""Work that must never undo or fail what was stored: a bus event, the refresher's record for
operators. Kept out of `ports.py`, which holds interfaces and the types they speak."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wxcomponent.domain.refresh_runs import RefreshRun
from wxcomponent.observability import MetricUnit, logger, metrics
from wxcomponent.ports import EventPublisher, RefreshRuns


def publish_best_effort(
    publisher: EventPublisher, component_appid: str, detail_type: str, detail: dict[str, Any]
) -> None:
    """The table is the truth and the bus a notification: a failed publish is logged and counted,
    never allowed to undo or fail what was stored."""
    try:
        publisher.publish(detail_type, {"component_appid": component_appid, **detail})
    except Exception:  # noqa: BLE001 - see above
        logger.exception("event not published", extra={"detail_type": detail_type})
        metrics.add_metric(name="EventPublishFailed", unit=MetricUnit.Count, value=1)


def record_run_best_effort(runs: RefreshRuns, component_appid: Callable[[], str], run: RefreshRun) -> None:
    """The run's record is for operators: a failed write (or an unreadable component secret) is
    logged and counted, never allowed to fail the run that did the work."""
    try:
        runs.record_run(component_appid(), run)
    except Exception:  # noqa: BLE001 - see above
        logger.exception("refresher run not recorded")
        metrics.add_metric(name="RefreshRunNotRecorded", unit=MetricUnit.Count, value=1)
