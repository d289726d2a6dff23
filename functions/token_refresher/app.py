"""The EventBridge schedule's target: one refresh sweep per run (see wxcomponent.services.refresher)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from wxcomponent.bootstrap import container
from wxcomponent.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = container().refresher.sweep(context.get_remaining_time_in_millis)
    return {**asdict(report), "failed": dict(report.failed)}
