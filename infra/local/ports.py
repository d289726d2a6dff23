"""`make dev`'s three ports: read from the environment, checked before anything starts, and named
in one line when one is taken."""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass

from infra.local import devconfig

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Part:
    """A part of the stack that listens: what it is and the variable that moves it."""

    role: str
    variable: str
    default: int


GATEWAY = Part("the local gateway", "GATEWAY_PORT", devconfig.GATEWAY_PORT)
SANDBOX = Part("the WeChat sandbox", "SANDBOX_PORT", devconfig.SANDBOX_PORT)
EMULATOR = Part("the DynamoDB emulator", "EMULATOR_PORT", devconfig.EMULATOR_PORT)
PARTS = (GATEWAY, SANDBOX, EMULATOR)


class PortProblem(Exception):
    """A port that cannot be used, said in one line for the console."""


class PortInUse(PortProblem):
    def __init__(self, part: Part, port: int, taken: set[int] | None = None, *, why: str = "is in use") -> None:
        suggestion = free_port_near(port, taken or set())
        fix = f"set {part.variable}={suggestion}" if suggestion else f"set {part.variable} to a free port"
        holder = "stop what holds it or " if why == "is in use" else ""
        super().__init__(f"port {port} ({part.role}) {why}: {holder}{fix}")
        self.part = part
        self.port = port


def read_port(part: Part, environ: dict[str, str] | None = None) -> int:
    """The part's port from its variable (0: any free port); PortProblem when it is not a port."""
    raw = (os.environ if environ is None else environ).get(part.variable, "").strip()
    if not raw:
        return part.default
    if not raw.isdigit() or int(raw) > 65535:
        raise PortProblem(f"{part.variable}={raw!r} is not a port number (0 to 65535) for {part.role}")
    return int(raw)


def check_ports(ports: dict[Part, int]) -> list[PortProblem]:
    """Every problem with these ports, before anything binds: a port given twice, or one taken."""
    problems: list[PortProblem] = []
    seen: dict[int, Part] = {}
    for part, port in ports.items():
        if port and port in seen:
            problems.append(
                PortProblem(f"{part.variable} and {seen[port].variable} are both {port}: give {part.role} another")
            )
        seen.setdefault(port, part)
    taken = {port for port in ports.values() if port}
    for part, port in ports.items():
        why = bind_problem(port) if port else None
        if why:
            problems.append(PortInUse(part, port, taken, why=why))
    return problems


def bind_problem(port: int) -> str | None:
    """None if a server could listen on the port now, with the same options as ours (SO_REUSEADDR,
    so a port in TIME_WAIT after our last run counts as free); else why not."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "is in use"
            if exc.errno == errno.EACCES:
                return "needs privileges"
            return f"cannot be used ({exc.strerror})"
        return None


def free_port_near(port: int, taken: set[int]) -> int | None:
    """The first free port after `port` that none of the others uses, within 100."""
    for candidate in range(port + 1, min(port + 101, 65536)):
        if candidate not in taken and bind_problem(candidate) is None:
            return candidate
    return None
