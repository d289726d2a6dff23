"""Outgoing pushes: encrypted like WeChat's, delivered with WeChat's retries, every attempt recorded.

A delivery never raises: a target that is down, slow or rude becomes a failed record.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from infra.sandbox.envelope import SignedPush, encrypt_push, open_passive_reply, resign_push, xml_document
from infra.sandbox.state import JSON, Ticket, World
from infra.sandbox.state.faults import PUSH
from infra.sandbox.state.journal import WINDOW_EVENTS
from wxcomponent.domain.crypto import MessageCrypto

BODY_LIMIT = 1024


class Pusher:
    """Builds and delivers the sandbox's pushes to the component-event and account-message URLs."""

    def __init__(self, world: World) -> None:
        self.world = world
        config = world.config
        self.config = config
        self.crypto = MessageCrypto(config.component_token, [config.component_aes_key], config.component_appid)

    # -- building --------------------------------------------------------------------------------

    def envelope(
        self,
        plaintext: str,
        head: tuple[str, str],
        *,
        openid: str | None = None,
        random_prefix: bytes | None = None,
    ) -> SignedPush:
        """Encrypts and signs a plaintext XML document (random prefix injectable for vectors)."""
        return encrypt_push(
            self.crypto,
            self.config.component_token,
            plaintext.encode("utf-8"),
            timestamp=str(int(self.config.clock())),  # WeChat's real time, not the sandbox's moved clock
            nonce=self.world.random.nonce(),
            head=head,
            random_prefix=self.world.random.prefix() if random_prefix is None else random_prefix,
            openid=openid,
        )

    def component_event(self, info_type: str, fields: list[tuple[str, str | int]]) -> str:
        head: list[tuple[str, str | int]] = [
            ("AppId", self.config.component_appid),
            ("CreateTime", int(self.world.clock.now())),
            ("InfoType", info_type),
        ]
        return xml_document(head + fields)

    # -- component pushes ------------------------------------------------------------------------

    def push_component(self, info_type: str, fields: list[tuple[str, str | int]]) -> JSON:
        plaintext = self.component_event(info_type, fields)
        push = self.envelope(plaintext, ("AppId", self.config.component_appid))
        url = self.world.console.component_events_url  # the console's, changed when a platform moves
        return self.deliver(url, push, info_type, kind="component", plaintext=plaintext)

    def push_ticket(self) -> tuple[Ticket, JSON]:
        ticket = self.world.component.new_ticket()
        delivery = self.push_component("component_verify_ticket", [("ComponentVerifyTicket", ticket.value)])
        return ticket, delivery

    def push_ticket_in_background(self) -> None:
        threading.Thread(target=self.push_ticket, name="sandbox-ticket-now", daemon=True).start()

    def push_authorized(
        self, appid: str, code: str, expires_at: float, pre_auth_code: str, info_type: str = "authorized"
    ) -> JSON:
        """`authorized` or `updateauthorized`, with the code and its expiry as a unix time."""
        return self.push_component(
            info_type,
            [
                ("AuthorizerAppid", appid),
                ("AuthorizationCode", code),
                ("AuthorizationCodeExpiredTime", int(expires_at)),
                ("PreAuthCode", pre_auth_code),
            ],
        )

    def push_unauthorized(self, appid: str) -> JSON:
        return self.push_component("unauthorized", [("AuthorizerAppid", appid)])

    # -- account messages ------------------------------------------------------------------------

    def send_user_message(
        self,
        appid: str,
        user_name: str,
        openid: str,
        fields: list[tuple[str, str | int]],
        info_type: str,
        opens: str | None = "message",
    ) -> JSON:
        """Sends a user message (or event) to the account's message URL and opens any passive reply.
        `opens`: the customer-service allowance it opens (`message`, `event`, or None)."""
        plaintext = xml_document(
            [
                ("ToUserName", user_name),
                ("FromUserName", openid),
                ("CreateTime", int(self.world.clock.now())),
                *fields,
            ]
        )
        push = self.envelope(plaintext, ("ToUserName", user_name), openid=openid)
        if opens is not None:
            self.world.journal.record_interaction(appid, openid, opens, self.world.clock.now())
        url = self.world.console.account_messages_url.format(appid=appid)
        delivery = self.deliver(url, push, info_type, kind="message", plaintext=plaintext, record=False)
        delivery["appid"] = appid
        delivery["openid"] = openid
        delivery["reply"] = self._reply(delivery)
        if delivery["reply"] is not None and not delivery["reply"].get("encrypted"):
            delivery["ok"] = False  # WeChat shows the user an error for a reply it cannot read
        return self.world.journal.record_push(delivery)

    def text_message(self, appid: str, user_name: str, openid: str, content: str) -> JSON:
        msg_id = self.world.random.msg_id()
        return self.send_user_message(
            appid,
            user_name,
            openid,
            [("MsgType", "text"), ("Content", content), ("MsgId", msg_id)],
            "text",
        )

    def event_message(self, appid: str, user_name: str, openid: str, event: str, event_key: str = "") -> JSON:
        """An event; a menu click, a follow or a scan opens the 1-minute customer-service allowance."""
        fields: list[tuple[str, str | int]] = [("MsgType", "event"), ("Event", event)]
        if event_key:
            fields.append(("EventKey", event_key))
        opens = "event" if event in WINDOW_EVENTS else None
        return self.send_user_message(appid, user_name, openid, fields, f"event:{event}", opens=opens)

    def _reply(self, delivery: JSON) -> JSON | None:
        """The passive reply of the last successful attempt: None for `success`/empty, else its fields."""
        body: bytes = delivery.pop("_last_body", b"")
        if not delivery["ok"]:
            return None
        text = body.strip()
        if text in (b"", b"success"):
            return None
        try:
            return {"encrypted": True, "fields": open_passive_reply(self.crypto, text)}
        except Exception as exc:  # noqa: BLE001 - any failure is the pushee's, recorded not raised
            return {
                "encrypted": False,
                "error": f"{type(exc).__name__}: {exc}",
                "body": text[:BODY_LIMIT].decode("utf-8", "replace"),
            }

    # -- delivery --------------------------------------------------------------------------------

    def deliver(
        self, url: str, push: SignedPush, info_type: str, *, kind: str, plaintext: str, record: bool = True
    ) -> JSON:
        """Up to push_tries attempts of push_timeout each, until `success` (component) or a 200
        (message); each retry push_retry_interval after the previous attempt started, signed anew."""
        attempts: list[JSON] = []
        last_body = b""
        ok = False
        started = 0.0
        for attempt in range(1, max(1, self.config.push_tries) + 1):
            if attempt > 1:
                # Waiting is WeChat's behaviour, not synchronisation: it ends at once on stop.
                self.world.stopping.wait(max(0.0, started + self.config.push_retry_interval - time.monotonic()))
                push = self._resigned(push)
            if self.world.stopping.is_set():
                break
            full_url = url + ("&" if "?" in url else "?") + urllib.parse.urlencode(push.query)
            started = time.monotonic()
            result = self._attempt(full_url, push.body)
            status, body = result["status"], result.pop("_body")
            ok = status == 200 and (kind == "message" or body.strip() == b"success")
            if ok and self.world.faults.take(PUSH) is not None:
                ok = False  # answered, but the answer never reached WeChat: it retries
                result["lost"] = True
            # `started`: the monotonic clock when this attempt began, so the retry interval can be
            # read from the sandbox's own record rather than from when a busy receiver noticed it.
            result.update(
                {"attempt": attempt, "url": full_url, "info_type": info_type, "ok": ok, "started": round(started, 4)}
            )
            attempts.append(result)
            if ok:
                last_body = body
                break
        delivery: JSON = {
            "kind": kind,
            "info_type": info_type,
            "url": url,
            "time": self.world.clock.now(),
            "ok": ok,
            "attempts": attempts,
            "plaintext": plaintext,
            "_last_body": last_body,
        }
        if record:
            delivery.pop("_last_body")
            return self.world.journal.record_push(delivery)
        return delivery

    def _resigned(self, push: SignedPush) -> SignedPush:
        return resign_push(
            self.crypto,
            self.config.component_token,
            push,
            timestamp=str(int(self.config.clock())),
            nonce=self.world.random.nonce(),
        )

    def _attempt(self, url: str, body: bytes) -> dict[str, Any]:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "text/xml; charset=utf-8", "User-Agent": "Mozilla/4.0 (WeChat sandbox)"},
        )
        started = time.monotonic()
        status: int | None = None
        answer = b""
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=self.config.push_timeout) as response:
                status = response.status
                answer = response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                answer = exc.read()
            except Exception:  # noqa: BLE001
                answer = b""
        except Exception as exc:  # noqa: BLE001 - down, refused, timed out: all just a failed attempt
            error = f"{type(exc).__name__}: {exc}"
        return {
            "status": status,
            "body": answer[:BODY_LIMIT].decode("utf-8", "replace"),
            "elapsed": round(time.monotonic() - started, 4),
            "error": error,
            "_body": answer,
        }
