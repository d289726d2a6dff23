"""`make dev`'s console renders what Powertools really writes as one readable line."""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from contextlib import redirect_stdout

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from infra.local.console import ReadableConsole, render


def powertools_line(**keys: object) -> tuple[Logger, io.StringIO]:
    out = io.StringIO()
    logger = Logger(service=f"console-test-{uuid.uuid4().hex}", stream=out)  # a logger of its own
    logger.append_keys(function_name="ComponentEventsFunction", cold_start=True, **keys)
    return logger, out


def test_a_log_line_becomes_time_function_level_message_and_its_own_keys() -> None:
    logger, out = powertools_line(correlation_id="c0ffee")
    logger.info("verify ticket received", extra={"info_type": "component_verify_ticket", "stored": True})
    raw = out.getvalue().strip()
    assert json.loads(raw)["message"] == "verify ticket received"  # what AWS gets stays JSON
    assert re.fullmatch(
        r"\d{2}:\d{2}:\d{2} ComponentEvents INFO verify ticket received info_type=component_verify_ticket stored=True",
        render(raw),
    ), render(raw)


def test_values_stay_on_one_line_and_quoted_when_they_need_it() -> None:
    logger, out = powertools_line()
    logger.warning("two\nlines", extra={"reason": 'a "b" c', "failed": {"upstream_error": 1}, "empty": ""})
    line = render(out.getvalue().strip())
    assert "\n" not in line
    assert line.endswith(' WARNING two\\nlines reason="a \\"b\\" c" failed={"upstream_error":1} empty=""'), line


def test_an_exception_is_its_last_line_and_where_it_was_raised() -> None:
    logger, out = powertools_line()
    try:
        raise KeyError("missing")
    except KeyError:
        logger.exception("refresh failed")
    line = render(out.getvalue().strip())
    assert "\n" not in line
    assert re.search(r" ERROR refresh failed exception=\"KeyError: 'missing'\" at=\S+:\d+$", line), line


def test_an_emf_line_becomes_a_metric_line() -> None:
    printed = io.StringIO()
    with redirect_stdout(printed), single_metric(name="RefreshFailed", unit=MetricUnit.Count, value=8) as metric:
        metric.add_dimension(name="errcode", value="storage")
    line = render(printed.getvalue().strip())
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2} \S+ METRIC RefreshFailed=8 errcode=storage( service=\S+)?", line), line


def test_other_lines_pass_as_they_are() -> None:
    for line in ("bus: authorized for wx0123456789abcdef", '{"not": "a log"}', "{broken", "[1, 2]", ""):
        assert render(line) == line


def test_the_console_never_splices_two_threads_lines() -> None:
    out = io.StringIO()
    console = ReadableConsole(out)
    start = threading.Barrier(2)

    def write(name: str) -> None:
        start.wait()
        for index in range(200):
            console.write(f"{name}-{index}")  # print() writes the text and the newline apart
            console.write("\n")

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = out.getvalue().splitlines()
    assert sorted(lines) == sorted([f"{n}-{i}" for n in ("a", "b") for i in range(200)])
