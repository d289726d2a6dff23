"""A vendor's reply function that answers every text with its own text, wrapped in `]]>` to prove
the reply XML survives it, and names the deadline it was given."""

from __future__ import annotations

from typing import Any


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any] | None:
    detail = event["detail"]
    if detail.get("MsgType") != "text":
        return None
    return {"type": "text", "content": f"]]>echo<![CDATA[ {detail['Content']} (deadline {event['deadline_ms']} ms)"}
