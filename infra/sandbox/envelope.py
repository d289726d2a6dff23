"""WeChat's XML and encrypted envelopes, as pure functions (docs/protocol.md §1).

Everything random (timestamp, nonce, the 16-byte prefix) is passed in, so the published test
vectors can be reproduced exactly.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass

from wxcomponent.domain.crypto import MessageCrypto, sha1_signature


def cdata(value: str) -> str:
    """A CDATA section; a `]]>` inside the value is split across two sections."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def xml_document(fields: Sequence[tuple[str, str | int]]) -> str:
    """`<xml>` with one element per field: strings as CDATA, integers bare (as WeChat writes them)."""
    parts = []
    for name, value in fields:
        text = str(value) if isinstance(value, int) else cdata(value)
        parts.append(f"<{name}>{text}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def parse_xml_fields(body: bytes) -> dict[str, str]:
    """The direct children of a WeChat `<xml>` document as a flat dict; refuses DOCTYPE."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise ValueError("DOCTYPE/ENTITY is not allowed")
    root = ElementTree.fromstring(body)  # noqa: S314 - our own system's replies; DOCTYPE refused above
    return {child.tag: (child.text or "") for child in root}


@dataclass(frozen=True)
class SignedPush:
    """One encrypted push: its query parameters, its body and the ciphertext inside."""

    query: dict[str, str]
    body: bytes
    encrypt: str


def encrypt_push(
    crypto: MessageCrypto,
    token: str,
    plaintext: bytes,
    *,
    timestamp: str,
    nonce: str,
    head: tuple[str, str],
    random_prefix: bytes | None = None,
    openid: str | None = None,
) -> SignedPush:
    """Encrypts `plaintext` and wraps it as WeChat does.

    `head` is the envelope's first element: ("AppId", component appid) on the authorization-event
    URL, ("ToUserName", gh_ id) on an account's message URL (which also carries `openid`).
    """
    encrypt = crypto.encrypt(plaintext, random_prefix=random_prefix)
    query = {
        "signature": sha1_signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    if openid is not None:
        query["openid"] = openid
    query["encrypt_type"] = "aes"
    query["msg_signature"] = crypto.msg_signature(timestamp, nonce, encrypt)
    body = xml_document([head, ("Encrypt", encrypt)]).encode("utf-8")
    return SignedPush(query=query, body=body, encrypt=encrypt)


def resign_push(crypto: MessageCrypto, token: str, push: SignedPush, *, timestamp: str, nonce: str) -> SignedPush:
    """The same push (same ciphertext, same body) under a new timestamp and nonce: a retry."""
    query = dict(push.query)
    query.update(
        signature=sha1_signature(token, timestamp, nonce),
        timestamp=timestamp,
        nonce=nonce,
        msg_signature=crypto.msg_signature(timestamp, nonce, push.encrypt),
    )
    return SignedPush(query=query, body=push.body, encrypt=push.encrypt)


def open_passive_reply(crypto: MessageCrypto, body: bytes) -> dict[str, str]:
    """Verifies an encrypted passive reply's MsgSignature and returns its decrypted fields.

    Raises ValueError (bad XML, missing element) or one of the core's crypto errors.
    """
    outer = parse_xml_fields(body)
    for name in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce"):
        if name not in outer:
            raise ValueError(f"encrypted reply lacks <{name}>")
    crypto.verify_msg_signature(outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
    return parse_xml_fields(crypto.decrypt(outer["Encrypt"]).message)
