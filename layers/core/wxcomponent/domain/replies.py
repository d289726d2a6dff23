"""Passive replies (被动回复) to an account's user: built from a plain object, written as WeChat's
reply XML, then encrypted and signed (docs/messages.md).

The reply object is what a vendor's reply function returns, so it is validated like any input:
anything we cannot turn into a valid reply is refused with `InvalidReply`, and the caller answers
`success` instead.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wxcomponent.domain.crypto import MessageCrypto

TEXT = "text"
IMAGE = "image"
VOICE = "voice"
VIDEO = "video"
MUSIC = "music"
NEWS = "news"
TRANSFER_CUSTOMER_SERVICE = "transfer_customer_service"
REPLY_TYPES = (TEXT, IMAGE, VOICE, VIDEO, MUSIC, NEWS, TRANSFER_CUSTOMER_SERVICE)
MAX_ARTICLES = 8
# WeChat's passive-reply page: a news reply to a user's message (text, image, voice, video,
# location, link) carries one article; up to 8 only in answer to an event (docs/messages.md).
MAX_ARTICLES_TO_A_MESSAGE = 1
MAX_FIELD_CHARS = 20_000
# The whole reply's text, in UTF-8 bytes. The encrypted answer is stored for WeChat's retries in one
# table item (DynamoDB: 400 KB at most); 64 KiB of text stays far under it once encrypted and base64'd.
MAX_REPLY_BYTES = 64 * 1024
# Characters XML 1.0 cannot carry at all, even escaped: dropped rather than breaking the document.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# A node of the reply document: text (CDATA), a number (bare), or nested elements.
Node = str | int | Sequence[tuple[str, "Node"]]


class InvalidReply(ValueError):
    """The reply object is not one we can send; the message is answered `success`."""


@dataclass(frozen=True)
class PassiveReply:
    """A validated reply: its MsgType and the elements that follow it."""

    msg_type: str
    body: tuple[tuple[str, Node], ...] = ()

    def __repr__(self) -> str:  # the content is the vendor's words to a user: not for logs
        return f"PassiveReply(msg_type={self.msg_type!r})"

    def xml(self, to_user_name: str, from_user_name: str, create_time: int) -> str:
        """The reply document, addressed from the account (`from_user_name`, gh_…) to the user."""
        head: list[tuple[str, Node]] = [
            ("ToUserName", to_user_name),
            ("FromUserName", from_user_name),
            ("CreateTime", create_time),
            ("MsgType", self.msg_type),
        ]
        return "<xml>" + _elements([*head, *self.body]) + "</xml>"


def text_reply(content: str) -> PassiveReply:
    return PassiveReply(TEXT, (("Content", content),))


def reply_from(answer: object, *, max_articles: int = MAX_ARTICLES) -> PassiveReply | None:
    """The reply a vendor's function answered with: None for no reply (null, {}), else a validated
    `PassiveReply` (a news reply of at most `max_articles`, its text at most `MAX_REPLY_BYTES`).
    Raises `InvalidReply` for anything else."""
    reply = _reply_from(answer, max_articles)
    if reply is not None and _text_bytes(reply.body) > MAX_REPLY_BYTES:
        raise InvalidReply(f"a reply's text is at most {MAX_REPLY_BYTES} bytes of UTF-8")
    return reply


def _text_bytes(nodes: Sequence[tuple[str, Node]]) -> int:
    total = 0
    for _, value in nodes:
        if isinstance(value, str):
            total += len(value.encode("utf-8", "surrogatepass"))
        elif not isinstance(value, int):
            total += _text_bytes(value)
    return total


def _reply_from(answer: object, max_articles: int) -> PassiveReply | None:
    if answer is None or answer == {}:
        return None
    if not isinstance(answer, Mapping):
        raise InvalidReply("a reply is a JSON object or null")
    kind = answer.get("type")
    if kind == TEXT:
        return text_reply(_text(answer, "content"))
    if kind in (IMAGE, VOICE):
        return PassiveReply(kind, ((kind.capitalize(), (("MediaId", _text(answer, "media_id")),)),))
    if kind == VIDEO:
        video: list[tuple[str, Node]] = [("MediaId", _text(answer, "media_id"))]
        video += _optional(answer, ("Title", "title"), ("Description", "description"))
        return PassiveReply(VIDEO, (("Video", video),))
    if kind == MUSIC:
        music = _optional(
            answer,
            ("Title", "title"),
            ("Description", "description"),
            ("MusicUrl", "music_url"),
            ("HQMusicUrl", "hq_music_url"),
        )
        music.append(("ThumbMediaId", _text(answer, "thumb_media_id")))
        return PassiveReply(MUSIC, (("Music", music),))
    if kind == NEWS:
        return _news(answer.get("articles"), max_articles)
    if kind == TRANSFER_CUSTOMER_SERVICE:
        account = answer.get("kf_account")
        if account is None:
            return PassiveReply(TRANSFER_CUSTOMER_SERVICE)
        return PassiveReply(TRANSFER_CUSTOMER_SERVICE, (("TransInfo", (("KfAccount", _text(answer, "kf_account")),)),))
    raise InvalidReply(f"type must be one of {', '.join(REPLY_TYPES)}")


def seal(crypto: MessageCrypto, document: str, *, key_index: int, timestamp: int, nonce: str | None = None) -> str:
    """The encrypted reply envelope WeChat expects: Encrypt, MsgSignature, TimeStamp, Nonce.
    `key_index` is the key that opened the message (the previous one during a rotation)."""
    nonce = nonce if nonce is not None else str(secrets.randbelow(10**10))
    encrypt = crypto.encrypt(document.encode("utf-8"), key_index=key_index)
    signature = crypto.msg_signature(str(timestamp), nonce, encrypt)
    return (
        f"<xml><Encrypt>{cdata(encrypt)}</Encrypt><MsgSignature>{cdata(signature)}</MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>"
    )


def cdata(value: str) -> str:
    """Text as CDATA: characters XML cannot carry are dropped, and a `]]>` in the text is split
    across two sections, so any text yields a well-formed document."""
    clean = _NOT_XML.sub("", value)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


# -- helpers -------------------------------------------------------------------------------------


def _elements(nodes: Sequence[tuple[str, Node]]) -> str:
    parts = []
    for name, value in nodes:
        if isinstance(value, str):
            inner = cdata(value)
        elif isinstance(value, int):
            inner = str(value)
        else:
            inner = _elements(value)
        parts.append(f"<{name}>{inner}</{name}>")
    return "".join(parts)


def _text(answer: Mapping[str, Any], key: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidReply(f"{key} must be a non-empty string")
    if len(value) > MAX_FIELD_CHARS:
        raise InvalidReply(f"{key} is longer than {MAX_FIELD_CHARS} characters")
    return value


def _optional(answer: Mapping[str, Any], *fields: tuple[str, str]) -> list[tuple[str, Node]]:
    return [(element, _text(answer, key)) for element, key in fields if answer.get(key) is not None]


def _news(articles: object, max_articles: int) -> PassiveReply:
    if not isinstance(articles, list) or not 1 <= len(articles) <= max_articles:
        if max_articles == 1:
            raise InvalidReply("a news reply to a user's message carries exactly 1 article (WeChat's rule)")
        raise InvalidReply(f"articles must be a list of 1 to {max_articles} objects")
    items: list[tuple[str, Node]] = []
    for article in articles:
        if not isinstance(article, Mapping):
            raise InvalidReply("each article is an object")
        fields = _optional(
            article, ("Title", "title"), ("Description", "description"), ("PicUrl", "pic_url"), ("Url", "url")
        )
        if not fields:
            raise InvalidReply("an article needs at least a title, description, pic_url or url")
        items.append(("item", fields))
    return PassiveReply(NEWS, (("ArticleCount", len(items)), ("Articles", items)))
