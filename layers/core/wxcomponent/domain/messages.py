"""What users send to an authorized account, as the message-and-event URL receives it
(docs/messages.md): the decrypted document's fields under WeChat's own names.

Values stay WeChat's text: `MsgId` is a 64-bit number that JSON readers in JavaScript would round,
and `Location_X` is a decimal that a float would change. Nested elements (`SendPicsInfo`,
`ScanCodeInfo`, …) become objects, and `<item>` lists become lists.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from wxcomponent.domain.errors import MalformedMessage
from wxcomponent.domain.xmlparse import XmlValue, parse_xml_tree

MESSAGE = "message"
EVENT = "event"
_CREATE_TIME_RE = re.compile(r"[0-9]{1,12}")
_NAME_RE = re.compile(r"[\x21-\x7e]{1,128}")  # user names (openids, gh_ ids) and types: printable ASCII


@dataclass(frozen=True)
class AccountMessage:
    """One decrypted user message or event. `fields` never reaches a log: it is the user's content."""

    fields: dict[str, XmlValue]

    def __repr__(self) -> str:
        return f"AccountMessage(msg_type={self.msg_type!r}, event={self.event!r})"

    @classmethod
    def parse(cls, document: bytes) -> AccountMessage:
        fields = parse_xml_tree(document)
        for name in ("ToUserName", "FromUserName", "MsgType"):
            value = fields.get(name)
            if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
                raise MalformedMessage(f"message has no valid {name}")
        create_time = fields.get("CreateTime")
        if not isinstance(create_time, str) or not _CREATE_TIME_RE.fullmatch(create_time):
            raise MalformedMessage("message has no valid CreateTime")
        return cls(fields)

    def text(self, name: str) -> str:
        value = self.fields.get(name, "")
        return value if isinstance(value, str) else ""

    @property
    def to_user_name(self) -> str:
        """The account's original id (gh_…)."""
        return self.text("ToUserName")

    @property
    def from_user_name(self) -> str:
        """The user's openid."""
        return self.text("FromUserName")

    @property
    def msg_type(self) -> str:
        return self.text("MsgType")

    @property
    def event(self) -> str:
        return self.text("Event")

    @property
    def kind(self) -> str:
        """`event` for MsgType event, else `message`: the EventBridge detail-type."""
        return EVENT if self.msg_type == EVENT else MESSAGE

    @property
    def dedupe_key(self) -> str:
        """What WeChat's retries of this message share: MsgId, else FromUserName + CreateTime +
        Event (WeChat's advice) + EventKey, so two menu clicks in one second are two events, not a
        retry. Hashed, so the table holds no openid."""
        msg_id = self.text("MsgId")
        event = f"{self.from_user_name}:{self.text('CreateTime')}:{self.event}:{self.text('EventKey')}"
        raw = f"id:{msg_id}" if msg_id else f"ev:{event}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]

    def detail(self, component_appid: str, authorizer_appid: str) -> dict[str, Any]:
        """The vendor's view: every field by WeChat's name, and who it is for (ours win a clash)."""
        return {**self.fields, "component_appid": component_appid, "authorizer_appid": authorizer_appid}
