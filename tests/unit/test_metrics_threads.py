"""The refresher's threads share Powertools' Metrics (issue 20, part 5): every value counted once,
and a metric that cannot be recorded never turns a stored refresh into a reported failure."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
from collections.abc import Iterator

import pytest

from wxcomponent.observability import MetricUnit, metrics

THREADS, EACH = 8, 2000


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Threads switch as often as the interpreter allows: the race happens in every run, not 1 in 1,000."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_threads_count_every_value_exactly_once() -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def count() -> None:
        start.wait(timeout=30)
        for _ in range(EACH):
            try:
                metrics.add_metric(name="Counted", unit=MetricUnit.Count, value=1)
            except Exception as exc:  # what the test is about
                errors.append(exc)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        threads = [threading.Thread(target=count) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        metrics.flush_metrics()
    total = 0.0
    for line in out.getvalue().splitlines():
        value = json.loads(line).get("Counted", 0)
        total += sum(value) if isinstance(value, list) else value
    assert errors == []
    assert total == THREADS * EACH  # unguarded, two threads' auto-flushes emitted the same values twice


def test_a_metric_that_cannot_be_recorded_is_a_log_line_not_an_exception(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("metric set serialized empty")

    monkeypatch.setattr(metrics.provider, "add_metric", broken)
    with caplog.at_level("WARNING", logger="wxcomponent"):
        metrics.add_metric(name="AuthorizerTokenRefreshed", unit=MetricUnit.Count, value=1)  # raises nothing
    assert [r.getMessage() for r in caplog.records] == ["metric not recorded"]
