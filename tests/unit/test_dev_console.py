"""`make dev`'s console renders what Powertools really writes as one readable line."""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from infra.local.console import ReadableConsole, render
from infra.local.gateway import FakeLambdaContext, run_handler


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


# -- which function logged: make dev runs every function in one process -------------------------------

WAIT = 10.0  # the most an Event is waited for; each is set as soon as the other thread gets there


def logging_handler(logger: Logger) -> Callable[[dict[str, Any], Any], str]:
    """A handler as ours are written (the core's one Logger, `clear_state=True`): the event says
    which Events to set and to wait for around its log line, and whether a pool thread logs it."""

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> str:
        event["started"].set()
        if "wait" in event:
            assert event["wait"].wait(WAIT)
        if event.get("pool"):
            with ThreadPoolExecutor(1) as pool:  # as the refresher refreshes: in worker threads
                pool.submit(logger.info, event["say"]).result()
        else:
            logger.info(event["say"])
        if "done" in event:
            event["done"].set()
        return str(context.function_name)

    return handler


@pytest.mark.parametrize("pool", [False, True], ids=["handler-thread", "pool-thread"])
def test_each_line_names_the_function_that_logged_it_when_two_run_at_once(pool: bool) -> None:
    """The newcomer's trial (issue 21) saw `Authorization INFO push recorded` for a push that went
    to ComponentEventsFunction: the second invocation's context replaced the first's in the one
    Logger the core shares, while the first still ran."""
    out = io.StringIO()
    handler = logging_handler(Logger(service=f"console-test-{uuid.uuid4().hex}", stream=out))
    second_logged = threading.Event()
    first: dict[str, Any] = {"started": threading.Event(), "wait": second_logged, "say": "first", "pool": pool}
    runner = threading.Thread(target=run_handler, args=(handler, first, FakeLambdaContext("ComponentEventsFunction")))
    runner.start()
    assert first["started"].wait(WAIT)  # its context is set: now the second starts and logs
    second: dict[str, Any] = {"started": threading.Event(), "done": second_logged, "say": "second"}
    assert run_handler(handler, second, FakeLambdaContext("AuthorizationFunction")) == "AuthorizationFunction"
    runner.join(WAIT)
    assert not runner.is_alive()
    records = {json.loads(line)["message"]: json.loads(line) for line in out.getvalue().splitlines()}
    assert records["first"]["function_name"] == "ComponentEventsFunction"  # the JSON (CloudWatch's) too
    assert records["second"]["function_name"] == "AuthorizationFunction"
    assert records["first"]["function_request_id"] != records["second"]["function_request_id"]
    lines = sorted(render(line) for line in out.getvalue().splitlines())
    assert [line.split(" ", 1)[1] for line in lines] == ["Authorization INFO second", "ComponentEvents INFO first"]


def test_a_line_outside_any_invocation_keeps_what_powertools_wrote() -> None:
    logger, out = powertools_line()
    logger.info("between invocations")
    assert json.loads(out.getvalue())["function_name"] == "ComponentEventsFunction"
