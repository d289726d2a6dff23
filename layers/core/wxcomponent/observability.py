"""One Logger, Tracer and Metrics for the whole core; service name and namespace come from the
standard Powertools variables (set in template.yaml's Globals)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "single_metric", "tracer"]
