"""`make dev`: python -m infra.local — the whole system on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

from infra.local.stack import StackPorts, run_stack


def main() -> None:
    parser = argparse.ArgumentParser(description="Run wxcomponent-serverless locally.")
    parser.add_argument("--ticket-interval", type=float, default=10.0, help="seconds between sandbox tickets")
    parser.add_argument("--refresh-interval", type=float, default=30.0, help="seconds between refresher runs")
    parser.add_argument("--echo-emulator", action="store_true", help="show moto's request log")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ports = StackPorts.from_environment()
    with run_stack(
        ports,
        ticket_interval=args.ticket_interval,
        refresh_interval=args.refresh_interval,
        echo_emulator=args.echo_emulator,
    ) as stack:
        print(stack.describe(), flush=True)  # noqa: T201 - the local stack's own console
        print("Ctrl-C stops everything.", flush=True)  # noqa: T201
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
