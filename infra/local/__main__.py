"""`make dev`: python -m infra.local — the whole system on loopback until Ctrl-C, or until one of
its parts dies. `--reset` (`make dev-reset`) forgets the saved state instead.

Exit codes: 0 after Ctrl-C or SIGTERM; 1 when a part died, a port is taken or the state file is in
use; 2 when a port variable is not a port. Every failure is one line, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from infra.local.console import JSON_LOGS, ReadableConsole
from infra.local.emulator import EmulatorFailed
from infra.local.ports import PortProblem
from infra.local.saved_state import StateInUse, forget, held, shown, state_path
from infra.local.stack import StackPorts, run_stack


class Stop:
    """Ctrl-C, SIGTERM or a part's death: the first reason wins; a second signal stops at once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.failure: str | None = None

    def signal(self, signum: int, _: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_DFL)
        self._event.set()

    def fail(self, reason: str) -> None:
        if not self._event.is_set():
            self.failure = reason
            self._event.set()

    def wait(self) -> None:
        self._event.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run wxcomponent-serverless locally.")
    parser.add_argument("--ticket-interval", type=float, default=10.0, help="seconds between sandbox tickets")
    parser.add_argument("--refresh-interval", type=float, default=30.0, help="seconds between refresher runs")
    parser.add_argument("--save-interval", type=float, default=2.0, help="seconds between saves of the state")
    parser.add_argument("--echo-emulator", action="store_true", help="show moto's request log")
    parser.add_argument("--reset", action="store_true", help="forget the saved state and exit (make dev-reset)")
    args = parser.parse_args(argv)
    path = state_path()
    if args.reset:
        return reset(path)
    if os.environ.get(JSON_LOGS, "") != "1":
        sys.stdout = ReadableConsole(sys.stdout)
    try:
        ports = StackPorts.from_environment()
    except PortProblem as exc:
        return failed(str(exc), code=2)
    problems = ports.problems()
    for problem in problems:
        failed(str(problem))
    if problems:
        return 1
    stop = Stop()
    signal.signal(signal.SIGTERM, stop.signal)
    signal.signal(signal.SIGINT, stop.signal)
    try:
        with (
            held(path),
            run_stack(
                ports,
                ticket_interval=args.ticket_interval,
                refresh_interval=args.refresh_interval,
                echo_emulator=args.echo_emulator,
                state=path,
                save_interval=args.save_interval,
                on_failure=stop.fail,
            ) as stack,
        ):
            say(stack.describe())
            for note in stack.notes:
                say(note)
            say("Ctrl-C stops everything.")
            stop.wait()
            if stop.failure:
                failed(f"{stop.failure}; stopping everything")
    except (PortProblem, StateInUse) as exc:
        return failed(str(exc))
    except EmulatorFailed as exc:
        last = exc.output[-1:] or ["(nothing)"]
        return failed(f"the DynamoDB emulator did not start: {exc}; it said: {last[0]}")
    return 1 if stop.failure else 0


def reset(path: Path) -> int:
    """`make dev-reset`: deletes the saved state, unless a make dev is using it."""
    if not path.parent.is_dir():
        say(f"make dev-reset: nothing saved ({shown(path)}); the next make dev starts fresh")
        return 0
    try:
        with held(path):
            deleted = forget(path)
    except StateInUse as exc:
        return failed(str(exc), command="make dev-reset")
    if deleted:
        say(f"make dev-reset: deleted {', '.join(shown(p) for p in deleted)}; the next make dev starts fresh")
    else:
        say(f"make dev-reset: nothing saved ({shown(path)}); the next make dev starts fresh")
    return 0


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - the local stack's own console


def failed(message: str, *, code: int = 1, command: str = "make dev") -> int:
    print(f"{command}: {message}", file=sys.stderr, flush=True)  # noqa: T201
    return code


if __name__ == "__main__":
    sys.exit(main())
