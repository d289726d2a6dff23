"""The sandbox tests' fixtures live in helpers.py (one module, imported once)."""

from tests.sandbox.helpers import client, receiver, sandbox, wx

__all__ = ["client", "receiver", "sandbox", "wx"]
