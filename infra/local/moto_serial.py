"""moto's server, one DynamoDB request at a time: `python moto_serial.py HOST PORT [--supervised]`.

moto evaluates a condition and then writes, with no lock between: two concurrent conditional
puts can both succeed, which DynamoDB never allows (a concurrency test saw two processes both take
one lease). Serialising requests gives the emulator DynamoDB's per-item atomicity; it costs little
on loopback.

`--supervised` (start_emulator passes it): the parent owns the server's life. The terminal's Ctrl-C
is ignored, because `make dev` saves the table before it stops the server; and the server exits when
its standard input closes, which the kernel does when the parent dies, even by SIGKILL, so an
emulator never outlives its stack holding the port.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # run as a script
from infra.local.moto_transactions import install as _no_table_backup_in_transactions

_no_table_backup_in_transactions()
_app = DomainDispatcherApplication(create_backend_app)
_lock = threading.Lock()


def serial(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    # DynamoDB only: an SQS long poll (make dev's bus tail waits a second at a time) holding the lock
    # made every table request wait up to that second.
    if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        return _app(environ, start_response)  # type: ignore[no-any-return]
    with _lock:
        return list(_app(environ, start_response))


def _exit_when_stdin_closes() -> None:
    sys.stdin.buffer.read()
    os._exit(0)


if __name__ == "__main__":
    if "--supervised" in sys.argv[3:]:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_exit_when_stdin_closes, name="parent-watch", daemon=True).start()
    run_simple(sys.argv[1], int(sys.argv[2]), serial, threaded=True, request_handler=MotoRequestHandler)
