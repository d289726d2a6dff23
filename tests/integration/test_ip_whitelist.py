"""WeChat refuses API calls from an address not on the platform's IP whitelist (61004), which is
what a Lambda without fixed egress IPs meets on its first call (docs/deploy.md). Played by the
sandbox's whitelist: the vend is a typed upstream error naming 61004, the refusal is remembered
(no second call for 10 minutes, whoever asks), and it is counted for its alarm."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.local.gateway import FakeLambdaContext
from tests.conftest import World
from tests.integration.conftest import load_function
from wxcomponent.observability import metrics


@pytest.fixture(autouse=True)
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics.clear_metrics()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def emitted(out: str) -> list[tuple[str, dict[str, str]]]:
    """Each metric printed as EMF, with its dimensions' values."""
    found = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob: dict[str, Any] = json.loads(line)
            [directive] = blob["_aws"]["CloudWatchMetrics"]
            [dimensions] = directive["Dimensions"]
            for metric in directive["Metrics"]:
                found.append((metric["Name"], {name: blob[name] for name in dimensions}))
    return found


def test_a_caller_outside_the_whitelist_gets_61004_once_and_it_is_counted(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.push_ticket()
    world.control("POST", "whitelist", {"ips": ["203.0.113.7"]})  # not us
    vend = load_function("token_vending").lambda_handler
    capsys.readouterr()

    first = vend({"kind": "component"}, FakeLambdaContext("token_vending"))
    assert first["error"]["code"] == "upstream_error" and first["error"]["errcode"] == 61004, first
    assert world.calls("api_component_token") == 1
    metrics_seen = emitted(capsys.readouterr().out)
    assert ("RefreshRefusedByWeChat", {"errcode": "61004", "service": "wxcomponent"}) in metrics_seen
    assert ("VendFailed", {"service": "wxcomponent"}) in metrics_seen

    world.control("POST", "whitelist", {"ips": ["127.0.0.1"]})  # fixed in the console meanwhile
    again = vend({"kind": "component"}, FakeLambdaContext("token_vending"))
    assert again["error"]["errcode"] == 61004 and "remembered" in again["error"]["message"]
    assert world.calls("api_component_token") == 1  # no second call within the retry-after
