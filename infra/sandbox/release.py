"""The full-network release (全网发布) checks of docs/protocol.md §6, run against the system."""

from __future__ import annotations

import threading

from infra.sandbox.config import RELEASE_TEST_ACCOUNT, RELEASE_TEST_MINI_PROGRAM, MerchantAccount
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


def _query_auth_code_check(
    name: str, world: World, pusher: Pusher, account: MerchantAccount, openid: str, wait: float
) -> JSON:
    """WeChat authorizes the test account and pushes `authorized` with a code to the
    authorization-event URL while it sends `QUERY_AUTH_CODE:<code>` to the message URL: the two race.
    The message must be answered empty, then `<code>_from_api` sent once by customer service."""
    code = world.merchants.release_test_code(account.appid)
    pushed: list[JSON] = []
    racing = threading.Thread(
        target=lambda: pushed.append(pusher.push_authorized(account.appid, code.value, code.expires_at, "")),
        name="sandbox-release-authorized",
        daemon=True,
    )
    racing.start()
    delivery = pusher.text_message(account.appid, account.user_name, openid, f"QUERY_AUTH_CODE:{code.value}")
    answered_empty = bool(delivery["ok"]) and delivery.get("reply") is None
    want = f"{code.value}_from_api"

    def wanted(m: JSON) -> bool:
        return bool(m["appid"] == account.appid and m["touser"] == openid and m["content"] == want)

    message = world.journal.wait_for_message(wanted, wait)
    racing.join(wait)  # the racing push is answered (or given up) before the messages are counted
    sent = sum(1 for m in world.journal.messages() if wanted(m))
    exchanges = [
        c
        for c in world.journal.call_log("api_query_auth")["calls"]
        if isinstance(c.get("body"), dict) and c["body"].get("authorization_code") == code.value
    ]
    accepted = sum(1 for c in exchanges if c.get("errcode") == 0)
    if not answered_empty:
        detail = "the message URL must answer 200 with an empty body (or success)"
    elif message is None:
        detail = f"no message/custom/send with {want!r} to {openid} within {wait} s"
    elif sent != 1:
        detail = f"{sent} customer-service messages with {want!r}: one was expected"
    else:
        detail = "custom message received"
    calls = f"{len(exchanges)} call{'' if len(exchanges) == 1 else 's'}"
    detail += f" (api_query_auth on the code: {calls}, {accepted} accepted)"
    result = _check(name, True, answered_empty and message is not None and sent == 1, detail, delivery)
    result["authorized_push"] = pushed[0] if pushed else None
    return result


def run_release_checks(world: World, pusher: Pusher, *, appid: str | None = None, wait: float = 10.0) -> JSON:
    """Runs the ticket check, the text check, the QUERY_AUTH_CODE check (racing the `authorized`
    push), the Mini Program's customer-service check and the (older) event check."""
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
    detail = (
        f"the encrypted text reply {expected!r}"
        if passed
        else f"expected an encrypted text reply {expected!r} to {openid}, got {fields!r}"
    )
    checks.append(_check("text", True, passed, detail, delivery))

    checks.append(_query_auth_code_check("query_auth_code", world, pusher, account, openid, wait))
    if account.appid != RELEASE_TEST_MINI_PROGRAM.appid:
        mini = world.merchants.account(RELEASE_TEST_MINI_PROGRAM.appid)
        if mini is not None:
            checks.append(_query_auth_code_check("mini_program", world, pusher, mini, world.random.openid(), wait))

    delivery = pusher.event_message(account.appid, account.user_name, openid, EVENT_CHECK)
    fields = _reply_fields(delivery)
    expected = f"{EVENT_CHECK}from_callback"
    passed = fields is not None and fields.get("Content") == expected
    detail = f"the text reply {expected!r}" if passed else f"expected a text reply {expected!r}, got {fields!r}"
    checks.append(_check("event", False, passed, detail, delivery))

    # The verdict and each check's in a few words first, the deliveries after: a person reading the
    # answer (or grepping it) sees which check passed without reading the pushes.
    return {
        "passed": all(c["passed"] for c in checks if c["required"]),
        "summary": {c["name"]: _verdict(c) for c in checks},
        "appid": account.appid,
        "openid": openid,
        "checks": checks,
    }


def _verdict(check: JSON) -> str:
    outcome = "passed" if check["passed"] else "failed"
    return f"{outcome}{'' if check['required'] else ' (not required)'}: {check['detail']}"


def summary_lines(result: JSON) -> list[str]:
    """The release checks as a person reads them: the verdict, then one line per check (its name,
    passed or FAILED, what it saw)."""
    checks = result["checks"]
    width = max(len(c["name"]) for c in checks)
    lines = [f"release checks for {result['appid']}: {'passed' if result['passed'] else 'failed'}"]
    for c in checks:
        optional = "" if c["required"] else " (not required)"
        lines.append(f"  {c['name']:<{width}}  {'passed' if c['passed'] else 'FAILED'}  {c['detail']}{optional}")
    return lines
