"""moto's server, one request at a time: `python moto_serial.py HOST PORT`.

moto evaluates a condition and then writes, with no lock between: two concurrent conditional
puts can both succeed, which DynamoDB never allows (a concurrency test saw two processes both take
one lease). Serialising requests gives the emulator DynamoDB's per-item atomicity; it costs little
on loopback."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

_app = DomainDispatcherApplication(create_backend_app)
_lock = threading.Lock()


def serial(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    with _lock:
        return list(_app(environ, start_response))


if __name__ == "__main__":
    run_simple(sys.argv[1], int(sys.argv[2]), serial, threaded=True, request_handler=MotoRequestHandler)
