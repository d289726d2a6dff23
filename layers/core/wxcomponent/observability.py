"""One Logger and one Metrics for the whole core; service name and namespace come from the
standard Powertools variables (set in template.yaml's Globals).

No tracer: Lambda's own active tracing (`Tracing: Active` in the template) traces every invocation
without an SDK in the process, and the X-Ray SDK cost every cold start and every AWS call
(docs/decisions.md, "Tracing by Lambda alone"). What a trace's annotation used to tell (whose
refresh was slow) is in the log line of each refresh, with its duration."""

from __future__ import annotations

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

logger = Logger()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "single_metric"]
