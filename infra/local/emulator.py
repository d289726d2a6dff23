"""moto's server mode as a child process: the local DynamoDB, Secrets Manager and EventBridge.

Readiness is read from the server's own "Running on" line (which also names the port it bound,
so port 0 gives a free one without a race), never guessed with sleeps.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_RUNNING = re.compile(r"Running on http://([\d.]+):(\d+)")


@dataclass
class Emulator:
    process: subprocess.Popen[str]
    url: str
    _lines: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_emulator(host: str = "127.0.0.1", port: int = 0, *, timeout: float = 60.0, echo: bool = False) -> Emulator:
    """Starts moto's server (one request at a time: see moto_serial.py); returns once it accepts requests."""
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [sys.executable, str(Path(__file__).with_name("moto_serial.py")), host, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert process.stderr is not None
    ready: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stderr, ready, echo), daemon=True).start()
    try:
        url = ready.get(timeout=timeout)
    except queue.Empty:
        process.kill()
        raise RuntimeError("moto server did not start") from None
    if not url:
        raise RuntimeError("moto server exited before it was ready")
    return Emulator(process, url)


def _drain(stream: IO[str], ready: queue.Queue[str], echo: bool) -> None:
    announced = False
    for line in stream:
        if not announced:
            match = _RUNNING.search(line)
            if match:
                ready.put(f"http://{match.group(1)}:{match.group(2)}")
                announced = True
                continue
        if echo:
            sys.stderr.write(line)
    if not announced:
        ready.put("")
