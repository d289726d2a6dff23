"""A vendor's reply function that sleeps past the deadline it was given."""

from __future__ import annotations

import time
from typing import Any


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    time.sleep(event["deadline_ms"] / 1000 + 1.0)
    return {"type": "text", "content": "too late"}
