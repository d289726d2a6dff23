"""`make dev`'s console: Powertools' JSON lines (logs, and the EMF lines `single_metric` prints)
shown as one readable line each, e.g.

    12:01:02 ComponentEvents INFO verify ticket received info_type=component_verify_ticket stored=True

Only the console of `make dev` is rewritten: the handlers log JSON as they do in AWS, and the tests
that read JSON or EMF read it from the handlers directly. WXCOMPONENT_DEV_JSON_LOGS=1 keeps the JSON.
The rewrite happens on stdout as a whole, so it also covers loggers made before or besides ours
(the example reply function's, a re-imported core's).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from typing import Any, TextIO

JSON_LOGS = "WXCOMPONENT_DEV_JSON_LOGS"

# What every Powertools line carries and a reader of the console does not need.
_STANDARD = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "exception",
        "exception_name",
        "exception_notes",
        "stack_trace",
    }
)
_CLOCK = re.compile(r"\b(\d{2}:\d{2}:\d{2})")
_BARE = re.compile(r"[^\s\"'=]+")


def render(line: str) -> str:
    """One readable line for a Powertools log or EMF line; any other line as it is."""
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    if isinstance(record.get("_aws"), dict):
        return _metric(record)
    if "level" in record and "message" in record:
        return _log(record)
    return line


def _log(record: dict[str, Any]) -> str:
    clock = _CLOCK.search(str(record.get("timestamp", "")))
    source = str(record.get("function_name") or record.get("service") or "-").removesuffix("Function")
    parts = [
        clock.group(1) if clock else time.strftime("%H:%M:%S"),
        source,
        str(record["level"]),
        _one_line(str(record["message"])),
    ]
    parts.extend(f"{key}={_value(value)}" for key, value in record.items() if key not in _STANDARD)
    if record.get("exception_name"):
        # The last line of a traceback is the exception itself; the rest is one JSON switch away.
        last = str(record.get("exception") or "").strip().splitlines()[-1:] or [str(record["exception_name"])]
        parts.append(f"exception={_value(last[0])}")
        parts.append(f"at={record.get('location', '?')}")
    return " ".join(parts)


def _metric(record: dict[str, Any]) -> str:
    aws = record["_aws"]
    stamp = aws.get("Timestamp")
    clock = time.strftime("%H:%M:%S", time.localtime(stamp / 1000)) if isinstance(stamp, (int, float)) else "--:--:--"
    names = [m.get("Name") for d in aws.get("CloudWatchMetrics", []) for m in d.get("Metrics", [])]
    values = [f"{name}={_value(_single(record.get(name)))}" for name in names if name]
    dimensions = [f"{key}={_value(value)}" for key, value in record.items() if key != "_aws" and key not in names]
    return " ".join([clock, str(record.get("service") or "-"), "METRIC", *values, *dimensions])


def _single(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value if _BARE.fullmatch(value) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class ReadableConsole(io.TextIOBase):
    """Stands in for sys.stdout: complete lines go out rendered. Each thread's unfinished line is
    kept apart, so two threads printing at once never splice one line into another."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self._out = out
        self._lock = threading.Lock()
        self._pending = threading.local()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._out.encoding

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._out.isatty()

    def write(self, text: str) -> int:
        pending: str = getattr(self._pending, "text", "") + text
        *lines, rest = pending.split("\n")
        self._pending.text = rest
        if lines:
            with self._lock:
                self._out.write("".join(render(line) + "\n" for line in lines))
                self._out.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._out.flush()
