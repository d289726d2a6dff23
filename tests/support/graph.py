"""The composition root as the tests reach it: the same graph the handlers build, from the
environment the fixtures set (table, sandbox, bus)."""

from __future__ import annotations

from wxcomponent.bootstrap import Container, container


def graph() -> Container:
    return container()
