"""Shared fixtures: the emulator (moto's server mode, a child process) and a fresh table per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import boto3
import pytest

from infra.local.bootstrap import create_table
from infra.local.emulator import Emulator, start_emulator

# Never reach real AWS from tests, whatever the developer's shell holds.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "wxcomponent",
        "POWERTOOLS_METRICS_NAMESPACE": "WxComponent",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with start_emulator() as running:
        yield running


@pytest.fixture
def table(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A table with the template's schema, named uniquely, wired into the environment."""
    name = f"wxcomponent-test-{uuid.uuid4().hex[:12]}"
    create_table(emulator.url, name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.url)
    monkeypatch.setenv("TABLE_NAME", name)
    yield name
    boto3.client("dynamodb", endpoint_url=emulator.url).delete_table(TableName=name)
