"""What the operator CLI prints, at the level of its helpers: masks that cannot be used as tokens,
durations a person reads, event lines that never carry what a user wrote."""

from __future__ import annotations

import pytest

from wxcomponent_client.cli.follow import describe
from wxcomponent_client.cli.output import ago, duration, mask, until

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
