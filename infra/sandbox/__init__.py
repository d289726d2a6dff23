"""The WeChat sandbox: WeChat's side of the third-party-platform protocol, on loopback.

Start it in-process with ``Sandbox(SandboxConfig(...)).start()`` (or as a context manager), or from
the command line with ``python -m infra.sandbox``. See docs/sandbox.md.
"""

from __future__ import annotations

from infra.sandbox.config import RELEASE_TEST_ACCOUNT, MerchantAccount, SandboxConfig, seeded_accounts
from infra.sandbox.server import Sandbox

__all__ = ["RELEASE_TEST_ACCOUNT", "MerchantAccount", "Sandbox", "SandboxConfig", "seeded_accounts"]
