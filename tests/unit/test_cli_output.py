"""What the operator CLI prints, at the level of its helpers: masks that cannot be used as tokens,
durations a person reads, event lines that never carry what a user wrote."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from wxcomponent_client.cli.follow import describe
from wxcomponent_client.cli.output import ago, duration, mask, safe, until

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
