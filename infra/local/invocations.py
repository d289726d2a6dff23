"""Which invocation a log record belongs to, when `make dev` runs every function in one process.

In AWS each function runs in a process of its own, and Powertools keeps the Lambda context's keys
(function_name, function_arn, function_request_id) in its formatter for the whole process. Locally
every function shares one process and, through the core's one `Logger`, one formatter: a second
handler starting while the first still runs replaces the first's keys, and the first's next lines
name the second function. So the gateway records each invocation per thread (`running`), threads
started inside it inherit it (the refresher refreshes in a pool), and a log record made in such a
thread carries the invocation's keys as its own attributes, which Powertools puts over its
formatter's. Outside an invocation, records are left as they are.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

# The audit events a thread start raises, in the starting thread (3.12's name, then 3.13's).
_THREAD_STARTS = frozenset({"_thread.start_new_thread", "_thread.start_joinable_thread"})


class LambdaContextLike(Protocol):
    function_name: str
    invoked_function_arn: str
    aws_request_id: str


@dataclass(frozen=True)
class Invocation:
    function_name: str
    function_arn: str
    function_request_id: str

    def keys(self) -> dict[str, str]:
        return {
            "function_name": self.function_name,
            "function_arn": self.function_arn,
            "function_request_id": self.function_request_id,
        }


_lock = threading.Lock()
_by_thread: weakref.WeakKeyDictionary[threading.Thread, Invocation] = weakref.WeakKeyDictionary()
_installed = False


def current() -> Invocation | None:
    """The invocation the calling thread runs for, if any."""
    with _lock:
        return _by_thread.get(threading.current_thread())


@contextmanager
def running(context: LambdaContextLike) -> Iterator[Invocation]:
    """The calling thread runs `context`'s invocation until the block ends (then what it ran before)."""
    install()
    invocation = Invocation(context.function_name, context.invoked_function_arn, context.aws_request_id)
    thread = threading.current_thread()
    with _lock:
        outer = _by_thread.get(thread)
        _by_thread[thread] = invocation
    try:
        yield invocation
    finally:
        with _lock:
            if outer is None:
                _by_thread.pop(thread, None)
            else:
                _by_thread[thread] = outer


def install() -> None:
    """Once per process: the record factory that stamps records, and the audit hook through which a
    thread started during an invocation inherits it (an audit hook cannot be removed, so it stays,
    and does nothing for any other event)."""
    global _installed  # noqa: PLW0603 - one installation per process
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def stamped(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        invocation = current()
        if invocation is not None:
            # A handler that passed one of these keys in `extra` would now get logging's KeyError;
            # none does: they are the Lambda context's, which Powertools adds by itself.
            record.__dict__.update(invocation.keys())
        return record

    logging.setLogRecordFactory(stamped)
    sys.addaudithook(_inherit)


def _inherit(event: str, args: tuple[Any, ...]) -> None:
    if event not in _THREAD_STARTS or not args:
        return
    started = getattr(args[0], "__self__", None)  # the bound `Thread._bootstrap` the new thread runs
    if not isinstance(started, threading.Thread):
        return
    invocation = current()
    if invocation is not None:
        with _lock:
            _by_thread[started] = invocation
