"""A reply function for wxcomponent-serverless: copy it, change it, deploy it as your own Lambda
function, and pass its ARN as the stack's `MessageReplyFunctionArn` parameter.

It gets each message that users send to your authorized accounts, decrypted, in the shape of the
bus's events (see docs/messages.md), and returns a reply object, or None for no reply. The
token center builds the XML, encrypts and signs it, and answers WeChat; past `deadline_ms` it
stops waiting and answers `success`. No WeChat crypto here, and no dependency beyond Python.
"""

from __future__ import annotations

from typing import Any


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any] | None:
    detail = event["detail"]  # WeChat's fields by WeChat's names, plus component_appid and authorizer_appid
    if event["detail-type"] == "event":
        if detail.get("Event") == "subscribe":
            return {"type": "text", "content": "欢迎关注！Thanks for following."}  # noqa: RUF001 - Chinese punctuation
        return None  # no reply: WeChat gets `success`
    if detail.get("MsgType") == "text":
        return {"type": "text", "content": f"收到：{detail['Content']}"}  # noqa: RUF001 - Chinese punctuation
    if detail.get("MsgType") == "image":
        return {"type": "image", "media_id": detail["MediaId"]}  # send the picture back
    return None
