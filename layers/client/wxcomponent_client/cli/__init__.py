"""The operator CLI (`pip install './layers/client[cli]'`, console script `wxcomponent`).

The console script comes with the client package on every Python it supports (3.9 and newer); the
CLI needs the `cli` extra's Click and Rich, and `main` says so in one line, rather than with a
traceback, where they are missing. Nothing here is imported before that check. The commands that run
the token center's core (status, reconcile, start-push-ticket, migrate) need Python 3.12 as the core
does, and say so (`target.core_importable`); the others run on 3.9 too.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wxcomponent_client.cli.app import cli

EXTRA = "pip install './layers/client[cli]'"


def main() -> None:
    """The console script."""
    for module in ("click", "rich"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            sys.exit(f"wxcomponent: the operator CLI needs its extra: {EXTRA} ({module} is missing)")
    from wxcomponent_client.cli.app import main as run  # noqa: PLC0415 - only once the check passed

    run()


def __getattr__(name: str) -> Any:
    """`from wxcomponent_client.cli import cli`: the Click group, imported when asked for."""
    if name == "cli":
        from wxcomponent_client.cli.app import cli  # noqa: PLC0415

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["cli", "main"]
