"""The full-network release (全网发布) checks of docs/protocol.md §6, run against the system."""

from __future__ import annotations

from infra.sandbox.config import RELEASE_TEST_ACCOUNT
from infra.sandbox.pusher import Pusher
from infra.sandbox.state import JSON, WeChatError, World

TEXT_CHECK = "TESTCOMPONENT_MSG_TYPE_TEXT"
EVENT_CHECK = "LOCATION"


def _check(name: str, required: bool, passed: bool, detail: str, delivery: JSON | None = None) -> JSON:
    return {"name": name, "required": required, "passed": passed, "detail": detail, "delivery": delivery}


def _reply_fields(delivery: JSON) -> dict[str, str] | None:
    reply = delivery.get("reply")
    if isinstance(reply, dict) and reply.get("encrypted"):
        fields = reply.get("fields")
        return fields if isinstance(fields, dict) else None
    return None


def run_release_checks(world: World, pusher: Pusher, *, appid: str | None = None, wait: float = 10.0) -> JSON:
    """Runs the ticket check, the text check, the QUERY_AUTH_CODE check and the (older) event check."""
    account = world.merchants.account(appid or RELEASE_TEST_ACCOUNT.appid)
    if account is None:
        raise WeChatError(40013, "invalid appid: not a sandbox account")
    openid = world.random.openid()
    checks: list[JSON] = []

    _, delivery = pusher.push_ticket()
    checks.append(
        _check(
            "ticket",
            True,
            bool(delivery["ok"]),
            "answered success" if delivery["ok"] else "did not answer success",
            delivery,
        )
    )

    delivery = pusher.text_message(account.appid, account.user_name, openid, TEXT_CHECK)
    fields = _reply_fields(delivery)
    expected = f"{TEXT_CHECK}_callback"
    passed = (
        fields is not None
        and fields.get("MsgType") == "text"
        and fields.get("Content") == expected
        and fields.get("ToUserName") == openid
        and fields.get("FromUserName") == account.user_name
    )
    checks.append(
        _check(
            "text",
            True,
            passed,
            f"expected an encrypted text reply {expected!r} to {openid}, got {fields!r}",
            delivery,
        )
    )

    code = world.merchants.release_test_code(account.appid)
    delivery = pusher.text_message(account.appid, account.user_name, openid, f"QUERY_AUTH_CODE:{code.value}")
    answered_empty = bool(delivery["ok"]) and delivery.get("reply") is None
    want = f"{code.value}_from_api"
    message = world.journal.wait_for_message(
        lambda m: m["appid"] == account.appid and m["touser"] == openid and m["content"] == want, wait
    )
    if not answered_empty:
        detail = "the message URL must answer 200 with an empty body (or success)"
    elif message is None:
        detail = f"no message/custom/send with {want!r} to {openid} within {wait} s"
    else:
        detail = "custom message received"
    checks.append(_check("query_auth_code", True, answered_empty and message is not None, detail, delivery))

    delivery = pusher.event_message(account.appid, account.user_name, openid, EVENT_CHECK)
    fields = _reply_fields(delivery)
    expected = f"{EVENT_CHECK}from_callback"
    passed = fields is not None and fields.get("Content") == expected
    detail = f"expected a text reply {expected!r}, got {fields!r}"
    checks.append(_check("event", False, passed, detail, delivery))

    return {
        "appid": account.appid,
        "openid": openid,
        "passed": all(c["passed"] for c in checks if c["required"]),
        "checks": checks,
    }
