"""The operator CLI (`pip install './layers/client[cli]'`, console script `wxcomponent`)."""

from wxcomponent_client.cli.app import cli, main

__all__ = ["cli", "main"]
