"""Unit tests run the pure core: no sockets, no AWS, no WeChat."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


class _NoNetwork(socket.socket):
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("unit tests must not open sockets")


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket, "socket", _NoNetwork)
    yield
