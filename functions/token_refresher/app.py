"""The EventBridge schedule's target: one refresh sweep per run (see wxcomponent.services.refresher),
and its record for operators (`wxcomponent status`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from wxcomponent.bootstrap import container
from wxcomponent.domain.refresh_runs import RefreshRun
from wxcomponent.observability import logger, metrics
from wxcomponent.services.best_effort import record_run_best_effort


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wx = container()
    started_at = int(wx.clock())
    report = wx.refresher.sweep(context.get_remaining_time_in_millis)
    summary = {**asdict(report), "failed": dict(report.failed)}
    run = RefreshRun(started_at, int(wx.clock()), summary)
    record_run_best_effort(wx.refresh_runs, lambda: wx.component().component_appid, run)
    return summary
