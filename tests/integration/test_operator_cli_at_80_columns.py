"""The operator CLI where stdout is not a terminal and the width is 80 columns (a pipe, a CI log,
the newcomer's trial of issue 21): appids and a shown token are never cut across lines, and name /
value lists print no empty header row."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.conftest import World
from tests.integration.test_operator_cli import (  # noqa: F401 - fixtures
    ACCOUNT,
    COMPONENT_APPID,
    MINI_PROGRAM,
    authorize,
    running,
)
from tests.support.graph import graph
from wxcomponent_client.cli import cli

pytestmark = pytest.mark.usefixtures("cli_environment_restored")  # the CLI runs in process


def printed(args: list[str], *command: str) -> list[str]:
    result = CliRunner(mix_stderr=False).invoke(cli, [*args, *command], catch_exceptions=False, env={"COLUMNS": "80"})
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.output.splitlines()


def whole_on_one_line(lines: list[str], value: str) -> str:
    (line,) = [line for line in lines if value in line]
    assert not any(value[:8] in other and value not in other for other in lines), lines
    return line


@pytest.mark.usefixtures("running")
def test_status_authorizers_and_vend_at_80_columns(running: World, local_args: list[str]) -> None:  # noqa: F811
    authorize(running, MINI_PROGRAM)
    lines = printed(local_args, "status")
    assert COMPONENT_APPID in lines[0]
    assert lines[1].split()[0] == "ticket"  # right under the title: no header row, empty or not
    assert all(len(line) <= 80 for line in lines)

    lines = printed(local_args, "authorizers")
    assert "authorized" in whole_on_one_line(lines, ACCOUNT)
    assert "authorized" in whole_on_one_line(lines, MINI_PROGRAM)
    assert all(len(line) <= 80 for line in lines)

    stored = graph().authorizers.get_authorizer_token(ACCOUNT)
    assert stored is not None and len(stored.access_token) > 80
    lines = printed(local_args, "vend", ACCOUNT, "--show")
    assert lines[0].split() == ["authorizer", ACCOUNT]
    assert stored.access_token in lines  # on a line of its own, whole: copied with one triple-click
    lines = printed(local_args, "vend")
    assert lines[0].split() == ["component", COMPONENT_APPID]
