"""One Logger and one Metrics for the whole core; service name and namespace come from the
standard Powertools variables (set in template.yaml's Globals).

No tracer: Lambda's own active tracing (`Tracing: Active` in the template) traces every invocation
without an SDK in the process, and the X-Ray SDK cost every cold start and every AWS call
(docs/decisions.md, "Tracing by Lambda alone"). What a trace's annotation used to tell (whose
refresh was slow) is in the log line of each refresh, with its duration."""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

logger = Logger()


class ThreadSafeMetrics(Metrics):
    """Powertools' Metrics, safe for the refresher's threads: `add_metric` flushes by itself when a
    metric holds 100 values, and two threads doing so at once emitted the same values twice, lost
    others, or raised. One lock around adding and flushing; and a metric that cannot be recorded is
    a log line, never an exception in the work that was being counted (a refresh already stored
    must not be reported failed because of its metric)."""

    _lock = threading.RLock()  # class-wide: Powertools' metric set is shared by every instance

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            try:
                super().add_metric(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - see above
                logger.warning("metric not recorded", extra={"metric": kwargs.get("name"), "error": repr(exc)[:200]})

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        with self._lock:
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


metrics = ThreadSafeMetrics()

__all__ = ["MetricUnit", "logger", "metrics", "single_metric"]
