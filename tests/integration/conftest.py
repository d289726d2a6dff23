"""Integration tests: real handlers, real payload-v2 events, boto3 over HTTP to the emulator."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from infra.local.emulator import Emulator
from infra.local.gateway import FakeLambdaContext
from infra.local.template import ROOT
from tests.conftest import World
from tests.support import operator_cli

__all__ = ["Handler", "World", "load_function"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def load_function(name: str) -> ModuleType:
    """Imports functions/<name>/app.py afresh, as a new Lambda container would."""
    module_name = f"fn_{name}_{time.monotonic_ns()}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def component_events(table: str, component_env: None) -> Handler:
    module = load_function("component_events")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = module.lambda_handler(event, FakeLambdaContext("component_events"))
        return result

    return invoke


@pytest.fixture
def cli_environment_restored() -> Iterator[None]:
    """For modules that run the operator CLI in process (`pytestmark = usefixtures(...)`)."""
    with operator_cli.environment_restored():
        yield


@pytest.fixture
def local_args(world: World, emulator: Emulator, table: str, event_bus: str) -> list[str]:
    """The operator CLI's `--local` arguments for this test's stack."""
    return operator_cli.local_args(world, emulator, table, event_bus)
