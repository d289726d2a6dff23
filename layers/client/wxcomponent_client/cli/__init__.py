"""The operator CLI (`pip install './layers/client[cli]'`, console script `wxcomponent`).

The console script comes with the client package on every Python it supports (3.9 and newer), but
the CLI runs the token center's core, which needs Python 3.12, and the `cli` extra's packages: where
either is missing, `main` says so in one line rather than with a traceback. Nothing here is imported
before that check, so this module itself imports on Python 3.9.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wxcomponent_client.cli.app import cli

CORE_PYTHON = (3, 12)  # the core's (the Lambda runtime's): layers/core/wxcomponent
EXTRA_MODULES = ("click", "rich", "aws_lambda_powertools", "Crypto", "defusedxml")  # the `cli` extra's


def main() -> None:
    """The console script."""
    if sys.version_info < CORE_PYTHON:
        sys.exit(
            "wxcomponent: the operator CLI runs the token center's core, which needs Python 3.12 or newer"
            f" (this is {sys.version_info[0]}.{sys.version_info[1]}); TokenClient itself works here."
        )
    for module in EXTRA_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            extra = "pip install './layers/client[cli]'"
            sys.exit(f"wxcomponent: the operator CLI needs its extra: {extra} ({module} is missing)")
    from wxcomponent_client.cli.app import main as run  # noqa: PLC0415 - only once the checks passed

    run()


def __getattr__(name: str) -> Any:
    """`from wxcomponent_client.cli import cli`: the Click group, imported when asked for."""
    if name == "cli":
        from wxcomponent_client.cli.app import cli  # noqa: PLC0415

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["cli", "main"]
