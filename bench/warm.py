"""Warm cost per request: our own CPU for one request to a warm container, through the handler
(Powertools' logger and metrics, the event's parsing, the service, the answer), with every store,
WeChat, the bus, the task queue and the reply function behind the in-memory fakes of tests/support,
so nothing but our code and its libraries is measured.

The measurement runs in a fresh process of its own (this module, run as `python -m bench.warm
OUT`), with the template's logging and metrics settings (INFO, metrics on), so that nothing another
section imported or configured changes it. The handlers are the real modules of functions/*/app.py,
loaded as Lambda loads them, with the composition root's `container()` swapped for a `Container`
on fakes. Log lines go to /dev/null and the metrics' EMF lines too, both still written.

Each operation is timed in batches, alternating with batches of a baseline (`json.loads` of the
push's API Gateway event, which Lambda's runtime does for every request before our code runs):
µs per request are medians over the rounds, the ratio the median of the rounds' ratios.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

TITLE = "Warm cost per request: our own CPU, stores and WeChat in memory"
COMMAND = "PYTHONPATH=layers/core:. .venv/bin/python -m bench warm"
ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_WARM_ROUNDS", "31"))
BATCH = 200  # requests per batch; every request of an operation is a different one
TARGETS_US = {"ticket push": 1000.0, "vend from memory": 50.0}
ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "wxcomponent",
    "POWERTOOLS_METRICS_NAMESPACE": "WxComponent",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
}
MERCHANT = "wx0123456789abcdef"
MERCHANT_GH = "gh_0123456789ab"


def run() -> str:
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "warm.json"
        env = {**os.environ, **ENVIRONMENT, "PYTHONPATH": f"{ROOT / 'layers' / 'core'}{os.pathsep}{ROOT}"}
        done = subprocess.run(
            [sys.executable, "-m", "bench.warm", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError("the warm measurement failed:\n" + done.stderr[-3000:])
        results: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return _render(results)


# -- in the measuring process ------------------------------------------------------------------------


class _Context:
    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _handler(name: str, graph: object) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """functions/<name>/app.py, loaded as Lambda loads it, its composition root answering `graph`."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.container = lambda: graph  # type: ignore[attr-defined]
    context = _Context()

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = module.lambda_handler(event, context)
        return answer

    return invoke


Serve = tuple[Callable[[Any], Any], Callable[[Any], bool]]  # how a request is served, and a good answer


def _operations() -> tuple[dict[str, dict[str, Callable[[int], _Serve]]], Callable[[int], _Serve]]:
    """Each operation as factories, through the handler and straight to the core: given n, n
    different requests, ready; calling the result serves the next one. And the baseline's."""
    from infra.local.events import http_api_event  # noqa: PLC0415 - only in the measuring process
    from tests.support.fake_wechat import FakeWeChat  # noqa: PLC0415
    from tests.support.fakes import MemoryPublisher, MemoryStores, MemoryTaskQueue  # noqa: PLC0415
    from tests.support.pushes import (  # noqa: PLC0415
        AES_KEY,
        APPID,
        TOKEN,
        account_message_xml,
        signed_message,
        signed_push,
        ticket_xml,
    )
    from wxcomponent.bootstrap import Container  # noqa: PLC0415
    from wxcomponent.domain.grants import AUTHORIZED, Grant  # noqa: PLC0415
    from wxcomponent.domain.signed import SignedPush  # noqa: PLC0415
    from wxcomponent.domain.tokens import AccessToken  # noqa: PLC0415
    from wxcomponent.domain.verify_tickets import VerifyTicket  # noqa: PLC0415
    from wxcomponent.settings import ComponentSettings, Settings  # noqa: PLC0415
    from wxcomponent.web.http import raw_body  # noqa: PLC0415

    class Reply:
        """The vendor's reply function, answering at once with a text reply (sealed by us)."""

        def ask(self, request: dict[str, Any], timeout: float) -> object:
            return {"type": "text", "content": "收到, 谢谢"}

    now = int(time.time())
    stores = MemoryStores()
    component = ComponentSettings(APPID, "secret", TOKEN, AES_KEY)
    graph = Container(
        Settings(table_name="bench", event_bus_name="bench"),
        stores=stores,
        wechat=FakeWeChat(),
        publisher=MemoryPublisher(),
        tasks=MemoryTaskQueue(),  # type: ignore[arg-type]  # the queue's port; the adapter's extra field is set by handlers
        reply_function=Reply(),
        component=lambda: component,
    )
    stores.verify_tickets.save_ticket(VerifyTicket.received(APPID, "ticket@@@bench", now, now))
    stores.authorizers.save_grant(
        Grant(MERCHANT, APPID, "refresh@@@bench", (1,), AUTHORIZED, now, now), refresh_due=now + 6000
    )
    stores.authorizers.save_authorizer_token(AccessToken.issued(MERCHANT, "authorizer-token", 7200, now))
    events, messages, vending = (
        _handler(name, graph) for name in ("component_events", "account_messages", "token_vending")
    )
    serial = iter(range(10**9))

    def push_event() -> dict[str, Any]:
        i = next(serial)
        push = signed_push(ticket_xml(f"ticket@@@{i}", now + i), nonce=str(i))
        return http_api_event("POST", "/wechat/component/events", query=urlencode(push.query), body=push.body)

    def message_event() -> dict[str, Any]:
        i = next(serial)
        fields: list[tuple[str, str | int]] = [("MsgType", "text"), ("Content", "你好"), ("MsgId", 10**12 + i)]
        message = signed_message(account_message_xml(MERCHANT_GH, "oBenchUser0123456789abcdefgh", fields), MERCHANT_GH)
        return http_api_event(
            "POST",
            f"/wechat/accounts/{MERCHANT}/messages",
            route_key="POST /wechat/accounts/{appid}/messages",
            path_parameters={"appid": MERCHANT},
            query=urlencode(message.query),
            body=message.body,
        )

    def signed(event: dict[str, Any]) -> SignedPush:
        return SignedPush.from_query(raw_body(event["body"], event["isBase64Encoded"]), event["queryStringParameters"])

    def sealed(body: str) -> bool:
        return body.startswith("<xml><Encrypt>")

    def vended(body: dict[str, Any]) -> bool:
        return "access_token" in body

    def operation(make: Callable[[], Any], handler: Serve, core: Serve) -> dict[str, Callable[[int], _Serve]]:
        """The same requests, through the handler or straight to the core (with and without its
        log lines)."""
        return {
            "handler": lambda n: _Serve([make() for _ in range(n)], *handler),
            "core": lambda n: _Serve([make() for _ in range(n)], *core),
            "core, no log lines": lambda n: _Serve([make() for _ in range(n)], *core),
        }

    def component_vend() -> dict[str, Any]:
        return {"kind": "component"}

    def authorizer_vend() -> dict[str, Any]:
        return {"kind": "authorizer", "appid": MERCHANT}

    vending(component_vend())  # the component token fetched once: later vends come from memory
    sample = json.dumps(push_event())
    vend_handler: Serve = (vending, vended)
    vend_core: Serve = (lambda payload: graph.vendor.answer(payload).body, vended)
    operations = {
        "ticket push": operation(
            push_event,
            (events, lambda answer: answer["body"] == "success"),
            (lambda event: graph.component_events.handle(signed(event)), lambda answer: answer == "success"),
        ),
        "account message, encrypted reply": operation(
            message_event,
            (messages, lambda answer: sealed(answer["body"])),
            (lambda event: graph.account_messages.handle(MERCHANT, signed(event)), lambda answer: sealed(answer.body)),
        ),
        "vend from memory": operation(component_vend, vend_handler, vend_core),
        "vend from the table": operation(authorizer_vend, vend_handler, vend_core),
    }
    return operations, lambda n: _Serve([sample] * n, json.loads, lambda answer: isinstance(answer, dict))


class _Serve:
    """Serves prepared requests one by one and checks every answer (after the timing)."""

    def __init__(self, ready: list[Any], serve: Callable[[Any], Any], good: Callable[[Any], bool]) -> None:
        self._ready = iter(ready)
        self._serve = serve
        self._good = good
        self.answers: list[Any] = []

    def __call__(self) -> object:
        answer = self._serve(next(self._ready))
        self.answers.append(answer)
        return answer

    def check(self) -> None:
        bad = [a for a in self.answers if not self._good(a)]
        if bad:
            raise AssertionError(f"{len(bad)} requests were not served as expected, e.g. {str(bad[0])[:300]}")


def _batch(make: Callable[[int], _Serve], *, quiet: bool = False) -> float:
    """CPU seconds per request over one batch of BATCH different requests, prepared untimed;
    `quiet`: with the logger at WARNING, so that INFO lines are not even formatted."""
    from wxcomponent.observability import logger  # noqa: PLC0415 - only in the measuring process

    call = make(BATCH)
    level = logger.log_level
    gc.collect()
    if quiet:
        logger.setLevel("WARNING")
    try:
        started = time.process_time()
        for _ in range(BATCH):
            call()
        took = (time.process_time() - started) / BATCH
    finally:
        logger.setLevel(level)
    call.check()
    return took


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Log lines and EMF metric lines still written, to /dev/null."""
    from wxcomponent.observability import logger  # noqa: PLC0415

    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        handler = logger.registered_handler
        previous = handler.setStream(sink)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            handler.setStream(previous)  # type: ignore[attr-defined]


def measure() -> dict[str, Any]:
    with _quiet():
        operations, baseline = _operations()
        for make in [*(m for ways in operations.values() for m in ways.values()), baseline]:
            _batch(make)  # every path once, untimed
        rows: dict[str, Any] = {}
        for name, ways in operations.items():
            rows[name] = {}
            for way, make in ways.items():
                ours: list[float] = []
                base: list[float] = []
                quiet = way.endswith("no log lines")
                for round_ in range(ROUNDS):
                    if round_ % 2:
                        ours.append(_batch(make, quiet=quiet))
                        base.append(_batch(baseline))
                    else:
                        base.append(_batch(baseline))
                        ours.append(_batch(make, quiet=quiet))
                rows[name][way] = {
                    "us": statistics.median(ours) * 1e6,
                    "baseline_us": statistics.median(base) * 1e6,
                    "ratio": statistics.median(o / b for o, b in zip(ours, base, strict=True)),
                }
    return rows


# -- the document ------------------------------------------------------------------------------------------


def _render(results: dict[str, Any]) -> str:
    lines = [
        f"Measured with `{COMMAND}`: in a fresh process, {ROUNDS} rounds per operation and way, each a",
        f"batch of {BATCH} different requests, alternating with a batch of the baseline. Through the",
        "handler: `lambda_handler(event, context)` of functions/*/app.py (Powertools' logger and metrics",
        "decorators, the event's parsing, our service, the answer, a log line and an EMF metrics line",
        "written to /dev/null). The core alone: the same requests handed to the service",
        "(`component_events.handle`, `account_messages.handle`, `vendor.answer`), with its INFO log",
        "lines (Powertools' JSON logger; a vend's is its audit line) and without them (the logger at",
        "WARNING, so they are not even formatted). Stores, WeChat, the",
        "bus, the task queue and the reply function are the in-memory fakes of tests/support. CPU time",
        "of the process (`time.process_time`), medians; the ratio is the median of the rounds' ratios to",
        "the baseline, one `json.loads` of the push's API Gateway event (what Lambda's runtime does",
        "before our code runs), which makes runs on different machines comparable.",
        "",
        "- ticket push: a signed, encrypted `component_verify_ticket`: both signatures, AES, the XML,",
        "  the newer ticket stored.",
        "- account message, encrypted reply: a user's text to an authorized account: opened, the grant",
        "  read, the receipt claimed, published on the bus, the reply function's text reply sealed",
        "  (AES, signed) and recorded.",
        "- vend from memory: a component token answered from the container's memory (direct Invoke).",
        "- vend from the table: an authorizer token, grant and token read from the store (direct Invoke).",
        "",
        "| request | handler µs | ratio | core µs | ratio | core without log lines µs | ratio | baseline µs | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, ways in results.items():
        handler, core, bare = ways["handler"], ways["core"], ways["core, no log lines"]
        target = TARGETS_US.get(name)
        verdict = ""
        if target is not None:
            verdict = (
                f"< {target:.0f} µs: handler {_met(handler['us'], target)}, core {_met(core['us'], target)}, "
                f"without log lines {_met(bare['us'], target)}"
            )
        lines.append(
            f"| {name} | {handler['us']:.0f} | {handler['ratio']:.1f} | {core['us']:.0f} | {core['ratio']:.1f} | "
            f"{bare['us']:.0f} | {bare['ratio']:.1f} | {handler['baseline_us']:.1f} | {verdict} |"
        )
    memory = results["vend from memory"]
    logic, core, handler = (memory[way]["us"] for way in ("core, no log lines", "core", "handler"))
    lines += [
        "",
        f"Where a vend from memory goes: {logic:.0f} µs are our own logic (parse, memory, answer); its",
        f"audit line adds {core - logic:.0f} µs (one line of Powertools' JSON logger, which",
        "docs/token-vending.md requires for every answer: the caller's frame looked up, the Lambda",
        f"context's keys, the JSON); the handler's decorators {handler - core:+.0f} µs (the context",
        "injected into the logger, the EMF metrics line written). The 50 µs target holds for our logic,",
        "not for the line every vend must write as Powertools writes it.",
    ]
    return "\n".join(lines)


def _met(us: float, target: float) -> str:
    return "met" if us < target else "missed"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(measure()), encoding="utf-8")
