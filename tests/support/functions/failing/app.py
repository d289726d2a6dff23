"""A vendor's reply function that raises."""

from __future__ import annotations

from typing import Any


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    raise RuntimeError("the vendor's bug")
