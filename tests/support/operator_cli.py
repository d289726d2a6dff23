"""The operator CLI (`wxcomponent --local …`) run in this process against a test's own stack."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from infra.local.bootstrap import create_component_secret
from infra.local.devconfig import DEFAULTS
from infra.local.emulator import Emulator
from tests.conftest import World


def local_args(world: World, emulator: Emulator, table: str, event_bus: str) -> list[str]:
    """`--local`, pointed at this test's stack (make dev's defaults are ports 3000, 3100, 8000), with
    a secret of its own holding the component make dev's sandbox knows."""
    secret = f"wxcomponent-test-{uuid.uuid4().hex[:8]}/component"
    create_component_secret(
        emulator.url,
        secret,
        {
            "component_appid": DEFAULTS["WECHAT_COMPONENT_APPID"],
            "component_appsecret": DEFAULTS["WECHAT_COMPONENT_APPSECRET"],
            "token": DEFAULTS["WECHAT_COMPONENT_TOKEN"],
            "encoding_aes_key": DEFAULTS["WECHAT_COMPONENT_AES_KEY"],
        },
    )
    return [
        "--local",
        *("--gateway-url", world.gateway.url, "--sandbox-url", world.sandbox.url, "--emulator-url", emulator.url),
        *("--table", table, "--bus", event_bus, "--secret-id", secret),
    ]


@contextmanager
def environment_restored() -> Iterator[None]:
    """The CLI sets Powertools' variables for an operator's terminal (log level WARNING among them)
    when it runs; run in process, that must not outlive the test (a later test's INFO lines vanished)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
