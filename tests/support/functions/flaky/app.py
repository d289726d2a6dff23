"""A function that notes each try in a file and raises until its `succeed_on`-th try."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, int]:
    log = Path(event["path"])
    with log.open("a", encoding="utf-8") as handle:
        handle.write("try\n")
    tries = len(log.read_text(encoding="utf-8").splitlines())
    if tries < event["succeed_on"]:
        raise RuntimeError(f"try {tries} fails")
    return {"tries": tries}
