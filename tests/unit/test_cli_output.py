"""What the operator CLI prints, at the level of its helpers: masks that cannot be used as tokens,
durations a person reads, event lines that never carry what a user wrote."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console

from wxcomponent_client.cli.app import (
    _render_authorizers,
    _render_reconcile,
    _render_refresh,
    _render_status,
    _render_token,
)
from wxcomponent_client.cli.follow import describe
from wxcomponent_client.cli.inventory import Authorizer
from wxcomponent_client.cli.output import ago, duration, mask, safe, until
from wxcomponent_client.cli.reconcile import Finding, Reconciliation

TOKEN = "83_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def test_a_masked_token_shows_its_ends_and_length_only() -> None:
    masked = mask(TOKEN)
    assert masked == f"83_A…6789 ({len(TOKEN)} characters)"
    assert TOKEN[4:-4] not in masked
    assert mask("short") == "*****"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (192, "3m 12s"), (6720, "1h 52m"), (3600, "1h"), (183_600, "2d 3h"), (-90, "1m 30s")],
)
def test_durations_name_the_two_largest_units(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_expiries_and_ages_read_from_now() -> None:
    assert until(1000 + 6720, now=1000) == "in 1h 52m"
    assert until(1000 - 60, now=1000) == "[red]expired 1m ago[/red]"
    assert ago(1000 - 45, now=1000) == "45s ago"
    assert until(None) == ago(None) == "-"


def test_an_event_line_names_the_type_and_account_but_never_the_content() -> None:
    event = {
        "time": "2026-01-01T00:00:00Z",
        "detail-type": "message",
        "detail": {"authorizer_appid": "wx570bc396a51b8ff8", "MsgType": "text", "Content": "我的密码是 123"},
    }
    line = describe(event)
    assert "message" in line and "authorizer_appid=wx570bc396a51b8ff8" in line and "MsgType=text" in line
    assert "123" not in line and "密码" not in line
    assert "?" in describe({"detail": "not an object"})


@pytest.mark.parametrize(
    ("untrusted", "printed"),
    [
        ("[/]", "[/]"),  # unescaped, Rich raises MarkupError: the whole table crashes
        ("星河[link=https://evil.example]点我[/link]", "星河[link=https://evil.example]点我[/link]"),
        ("invalid credential hint: [eRk5a0880ge30] rid: 1", "invalid credential hint: [eRk5a0880ge30] rid: 1"),
        ("星河\x1b]8;;https://evil.example\x07咖啡", "星河]8;;https://evil.example咖啡"),
    ],
    ids=["closing-tag", "link", "wechat-hint", "terminal-escape"],
)
def test_text_from_outside_prints_as_it_is_never_as_markup(untrusted: str, printed: str) -> None:
    console = Console(file=io.StringIO(), width=200, highlight=False, color_system=None)
    console.print(f"[yellow]![/yellow] {safe(untrusted)}")
    assert console.file.getvalue().rstrip("\n") == f"! {printed}"  # type: ignore[attr-defined]
    assert "\x1b" not in console.file.getvalue()  # type: ignore[attr-defined]


def test_an_event_line_prints_a_hostile_detail_type_literally() -> None:
    line = describe({"time": "t", "detail-type": "[/]x[link=https://e.x]y", "detail": {}})
    console = Console(file=io.StringIO(), width=200, highlight=False, color_system=None)
    console.print(line)
    assert console.file.getvalue().strip() == "t  [/]x[link=https://e.x]y"  # type: ignore[attr-defined]


# -- at 80 columns, not a terminal: what a pipe or a CI log gets (issue 21) -------------------------------

NOW = time.time()
APPIDS = ("wx1e771f3224d6e752", "wxd101a85aa106f53e", "wx9000d076347f974c")
LONG_TOKEN = "83_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" * 3 + "x" * 25  # 136 characters, as WeChat's


def printed(render: Callable[[Console], None], width: int = 80, *, unbroken: str = "") -> list[str]:
    """What a command prints where stdout is not a terminal (Rich then assumes 80 columns): no line
    wider, but the `unbroken` value on its own."""
    console = Console(file=io.StringIO(), width=width, highlight=False, soft_wrap=False, color_system=None)
    render(console)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines if line != unbroken), text
    return lines


def header(lines: list[str]) -> list[str]:
    """A table's header: its lines above the rule, none of them empty."""
    rule = next(index for index, line in enumerate(lines) if set(line.strip()) == {"─"})
    assert rule > 0 and all(line.strip() for line in lines[:rule]), lines
    return lines[:rule]


def row_of(lines: list[str], appid: str) -> str:
    """The one line that holds `appid` whole (it is never cut across lines)."""
    (line,) = [line for line in lines if appid in line]
    assert not any(appid[:6] in other and appid not in other for other in lines), lines
    return line


def grants() -> list[Authorizer]:
    fitness, channels = "晨光健身 Morning Fitness", "星河咖啡视频号 Galaxy Coffee Channels"
    mini = "全网发布测试小程序 Release Test Mini Program"
    return [
        Authorizer(APPIDS[0], "authorized", name=fitness, mini_program=False,
                   token_expires_at=int(NOW + 6000), token_issued_at=int(NOW - 30)),
        Authorizer(APPIDS[1], "no_api_permission", name=mini, mini_program=True),
        Authorizer(APPIDS[2], "needs_reauthorization", name=channels, account_kind="channels"),
    ]  # fmt: skip


@pytest.mark.parametrize("width", [80, 120])
def test_authorizers_never_wrap_an_appid_nor_a_state(width: int) -> None:
    lines = printed(lambda console: _render_authorizers(console, grants()), width)
    for grant in grants():
        assert grant.status in row_of(lines, grant.appid)  # the state whole, on its account's line
    assert any("appid" in line and "state" in line for line in header(lines))


def test_status_is_a_list_of_names_and_values_without_an_empty_header_row() -> None:
    data = {
        "target": "local",
        "component_appid": "wx5a0d8c0ffee5a4d1",
        "ticket": {"age_seconds": 30},
        "component_token": {"life_left_seconds": 7000},
        "grants": {"authorized": 4, "no_api_permission": 1},
        "last_refresher_run": {"age_seconds": 20, "report": {"due": 0, "refreshed": 0, "left_over": 0}, "failures": {}},
        "remembered_failures": [
            {"owner": f"AUTHORIZER#{APPIDS[0]}", "errcode": 45009, "until": "2026-12-07T01:00:00Z"}
        ],
        "problems": [],
    }
    lines = printed(lambda console: _render_status(console, data))
    assert lines[0].strip() == "wxcomponent · local · component wx5a0d8c0ffee5a4d1"
    names = ["ticket", "component token", "grants", "last refresher run", "remembered failure"]
    assert [line.split("  ")[0].strip() for line in lines[1:6]] == names  # no header row before them
    assert f"AUTHORIZER#{APPIDS[0]}" in row_of(lines, APPIDS[0])
    assert lines[-1] == "✓ nothing needs attention"


def test_vend_prints_names_and_values_and_a_shown_token_on_a_line_of_its_own() -> None:
    lines = printed(
        lambda console: _render_token(console, "authorizer", APPIDS[0], LONG_TOKEN, NOW + 7000, shown=True),
        unbroken=LONG_TOKEN,
    )
    assert lines[0].split() == ["authorizer", APPIDS[0]]  # no header row first
    assert LONG_TOKEN in lines  # the whole token, alone on its line: one triple-click copies it
    masked = mask(LONG_TOKEN)
    lines = printed(lambda console: _render_token(console, "authorizer", APPIDS[0], masked, NOW + 7000, shown=False))
    assert lines[0].split() == ["authorizer", APPIDS[0]]
    assert masked in row_of(lines, "access_token")


def test_refresh_and_reconcile_never_wrap_an_appid() -> None:
    results: list[dict[str, Any]] = [
        {"appid": None, "outcome": "refreshed", "expires_at_epoch": NOW + 7200},
        {"appid": APPIDS[0], "outcome": "kept", "expires_at_epoch": NOW + 7000},
        {"appid": APPIDS[1], "outcome": "failed", "error": "wechat_error", "message": "WeChat answered errcode 61023: "
         "refresh_token is invalid; the grant needs the merchant to authorize again hint: [eRk5a0880ge30]"},
    ]  # fmt: skip
    lines = printed(lambda console: _render_refresh(console, results))
    assert "token" in header(lines)[0]
    assert "kept" in row_of(lines, APPIDS[0]) and "wechat_error" in row_of(lines, APPIDS[1])
    findings = [Finding(appid, "stale_refresh_token", "would_repair") for appid in APPIDS]
    result = Reconciliation(listed=3, in_order=0, findings=findings, unknown_to_wechat=[APPIDS[0]])
    lines = printed(lambda console: _render_reconcile(console, result))
    for appid in APPIDS[1:]:
        assert "stale_refresh_token" in row_of(lines, appid) and "would_repair" in row_of(lines, appid)
