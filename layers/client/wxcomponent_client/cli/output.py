"""What the commands print: Rich tables and colour on a terminal, one JSON document with `--json`
(JSON Lines for `events --follow`). Progress and notices go to stderr, so stdout stays parseable."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

NONE = "-"  # an empty cell


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False, soft_wrap=False)
        self.notices = Console(stderr=True, highlight=False)

    def emit(self, data: Any, render: Callable[[Console], None]) -> None:
        """`data` as JSON with `--json`; else `render` draws it."""
        if self.as_json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            render(self.console)

    def line(self, data: dict[str, Any], text: str) -> None:
        """One record of a stream: a JSON line, or a line of text."""
        if self.as_json:
            click.echo(json.dumps(data, ensure_ascii=False))
        else:
            self.console.print(text)

    def notice(self, text: str) -> None:
        self.notices.print(text)


# Identifiers (appids, states) are never wrapped: a cut appid cannot be copied, and at 80 columns (what
# Rich assumes when stdout is not a terminal) a boxed six-column table cut them in half. So tables have
# a rule under the header and no vertical lines (eight columns more for the text, nothing but the text
# when copied), and the other columns wrap at spaces to make room.
WHOLE = frozenset({"appid", "token", "state"})


def table(*columns: str, title: str | None = None) -> Table:
    """A table with a header row; a column named in WHOLE never wraps its cells."""
    grid = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    for column in columns:
        if column in WHOLE:
            grid.add_column(column, no_wrap=True)
        else:
            grid.add_column(column, overflow="fold")
    return grid


def fields(title: str | None = None) -> Table:
    """Names and their values, one pair a line: no header row (it would be empty)."""
    grid = Table.grid(padding=(0, 2))
    grid.title, grid.title_justify = title, "left"
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def long_value(console: Console, value: str) -> None:
    """A value too long for a table's cell (a token) on a line of its own, never broken: copying
    that line copies the value, however narrow the terminal shows it."""
    console.print(value, soft_wrap=True, markup=False)


def mask(token: str) -> str:
    """Enough to tell two tokens apart, not enough to use one."""
    if len(token) < 16:
        return "*" * len(token)
    return f"{token[:4]}…{token[-4:]} ({len(token)} characters)"


def duration(seconds: float) -> str:
    """`1h 52m`, `3m 12s`, `45s`, `2d 3h`: the two largest units."""
    left = int(abs(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts[:2])


def until(moment: int | float | None, now: float | None = None) -> str:
    """`in 1h 52m`, or `expired 3m ago`, for an expiry."""
    if moment is None:
        return NONE
    left = moment - (time.time() if now is None else now)
    return f"in {duration(left)}" if left > 0 else f"[red]expired {duration(left)} ago[/red]"


def ago(moment: int | float | None, now: float | None = None) -> str:
    if moment is None:
        return NONE
    return f"{duration((time.time() if now is None else now) - moment)} ago"


def stamp(moment: int | float | None) -> str | None:
    """An ISO-8601 UTC time for JSON."""
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


STATE_STYLE = {
    "authorized": "green",
    "no_api_permission": "yellow",
    "needs_reauthorization": "yellow",
    "revoked": "red",
}


def state(text: str) -> str:
    style = STATE_STYLE.get(text)
    return f"[{style}]{text}[/{style}]" if style and text else safe(text) or NONE


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe(value: object) -> str:
    """Text from outside (a merchant's nickname, WeChat's errmsg, a bus event) as Rich prints it
    literally: markup escaped (`[/]` would crash the table, `[link=…]` would make a link, and
    WeChat's `hint: [xxxx]` would vanish) and control characters dropped (no terminal escapes)."""
    return escape(_CONTROL.sub("", str(value)))
