"""moto's server mode as a child process: the local DynamoDB, Secrets Manager and EventBridge.

Readiness is read from the server's own "Running on" line (which also names the port it bound,
so port 0 gives a free one without a race), never guessed with sleeps. The child dies with its
parent (see moto_serial.py).
"""

from __future__ import annotations

import collections
import queue
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_RUNNING = re.compile(r"Running on http://([\d.]+):(\d+)")
_IN_USE = "Address already in use"


class EmulatorFailed(RuntimeError):
    """moto's server did not come up; `output` holds the last lines it wrote."""

    def __init__(self, message: str, output: list[str]) -> None:
        super().__init__(message)
        self.output = output

    @property
    def address_in_use(self) -> bool:
        return any(_IN_USE in line for line in self.output)


@dataclass
class Emulator:
    process: subprocess.Popen[str]
    url: str
    _lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self) -> int:
        """Blocks until the server exits; its exit code (negative: killed by that signal)."""
        return self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdin is not None:
            self.process.stdin.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_emulator(host: str = "127.0.0.1", port: int = 0, *, timeout: float = 60.0, echo: bool = False) -> Emulator:
    """Starts moto's server (one request at a time: see moto_serial.py); returns once it accepts
    requests. EmulatorFailed when it exits first (`address_in_use` tells a busy port) or hangs."""
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [sys.executable, str(Path(__file__).with_name("moto_serial.py")), host, str(port), "--supervised"],
        stdin=subprocess.PIPE,  # held open for the child's life: it exits when this closes
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert process.stderr is not None
    ready: queue.Queue[str] = queue.Queue()
    early: collections.deque[str] = collections.deque(maxlen=20)
    threading.Thread(target=_drain, args=(process.stderr, ready, echo, early), daemon=True).start()
    try:
        url = ready.get(timeout=timeout)
    except queue.Empty:
        process.kill()
        process.wait()
        raise EmulatorFailed(f"moto server did not start within {timeout:g} s", list(early)) from None
    if not url:
        process.wait()
        raise EmulatorFailed(f"moto server exited before it was ready (code {process.returncode})", list(early))
    return Emulator(process, url)


def _drain(stream: IO[str], ready: queue.Queue[str], echo: bool, early: collections.deque[str]) -> None:
    announced = False
    for line in stream:
        if not announced:
            match = _RUNNING.search(line)
            if match:
                ready.put(f"http://{match.group(1)}:{match.group(2)}")
                announced = True
                continue
            early.append(line.rstrip("\n"))
        if echo:
            sys.stderr.write(line)
    if not announced:
        ready.put("")
