"""The local stack's one set of made-up component credentials, shared by the gateway and the sandbox.

These are not secrets: they exist only on loopback. Every value can be overridden by the
environment variable of the same name (docs/architecture.md, Configuration).
"""

from __future__ import annotations

import os

DEFAULTS: dict[str, str] = {
    "WECHAT_COMPONENT_APPID": "wx5a0d8c0ffee5a4d1",
    "WECHAT_COMPONENT_APPSECRET": "sandbox-component-appsecret-0001",
    "WECHAT_COMPONENT_TOKEN": "sandboxtoken",
    "WECHAT_COMPONENT_AES_KEY": "SandboxEncodingAESKey0123456789abcdefghijkl",
}

GATEWAY_PORT = 3000
SANDBOX_PORT = 3100
EMULATOR_PORT = 8000


def component_settings() -> dict[str, str]:
    """The four component values, environment first."""
    return {name: os.environ.get(name) or value for name, value in DEFAULTS.items()}
