"""Integration tests: real handlers, real payload-v2 events, boto3 over HTTP to the emulator."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters

from infra.local.devconfig import DEFAULTS
from infra.local.gateway import FakeLambdaContext
from infra.local.template import ROOT

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def load_function(name: str) -> ModuleType:
    """Imports functions/<name>/app.py afresh, as a new Lambda container would."""
    module_name = f"fn_{name}_{len(sys.modules)}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def component_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in DEFAULTS.items():
        monkeypatch.setenv(name, value)
    parameters.clear_caches()
    yield
    parameters.clear_caches()


@pytest.fixture
def component_events(table: str, component_env: None) -> Handler:
    module = load_function("component_events")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = module.lambda_handler(event, FakeLambdaContext("component_events"))
        return result

    return invoke
