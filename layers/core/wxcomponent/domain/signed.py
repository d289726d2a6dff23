"""Opening what WeChat pushes to either of our URLs (WeChat's message encryption, WXBizMsgCrypt): size, time and both
signatures checked, then the `<Encrypt>` text decrypted. Shared by the authorization-event URL and
the accounts' message URL, so both refuse exactly the same bad input before anything is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from wxcomponent.domain.crypto import Decrypted, MessageCrypto
from wxcomponent.domain.errors import BadRequest, MalformedMessage, PayloadTooLarge, StaleTimestamp
from wxcomponent.domain.xmlparse import parse_flat_xml

MAX_BODY_BYTES = 64 * 1024
MAX_CLOCK_SKEW = 300  # seconds between the push's timestamp and now, either way
# Exact patterns: str's isdigit accepts '²', which int() then refuses with a 500.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_NONCE_RE = re.compile(r"[\x21-\x7e]{1,128}")


@dataclass(frozen=True)
class SignedPush:
    """A push as it arrives: the raw body and the query parameters WeChat signs with."""

    body: bytes
    signature: str | None
    timestamp: str | None
    nonce: str | None
    msg_signature: str | None
    encrypt_type: str | None = "aes"

    @classmethod
    def from_query(cls, body: bytes, query: Mapping[str, str]) -> SignedPush:
        """The push from its body and the query string's parameters (as API Gateway hands them)."""
        return cls(
            body=body,
            signature=query.get("signature"),
            timestamp=query.get("timestamp"),
            nonce=query.get("nonce"),
            msg_signature=query.get("msg_signature"),
            encrypt_type=query.get("encrypt_type"),
        )


class CryptoSettings(Protocol):
    """What the crypto needs of the component's settings (the domain reads no settings itself)."""

    @property
    def token(self) -> str: ...

    @property
    def encoding_aes_key(self) -> str: ...

    @property
    def previous_encoding_aes_key(self) -> str: ...

    @property
    def component_appid(self) -> str: ...


def component_crypto(component: CryptoSettings) -> MessageCrypto:
    """The component's crypto: its token, the current and the previous EncodingAESKey, its appid."""
    return MessageCrypto(
        component.token,
        [component.encoding_aes_key, component.previous_encoding_aes_key],
        component.component_appid,
    )


def open_signed(push: SignedPush, crypto: MessageCrypto, now: float) -> Decrypted:
    """Checks size, timestamp and both signatures, and decrypts. Every refusal is a `BadRequest`."""
    if len(push.body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes")
    if not push.body:
        raise MalformedMessage("empty body")
    if push.encrypt_type not in (None, "aes"):
        raise BadRequest("only encrypt_type=aes is accepted")
    timestamp, nonce = push.timestamp or "", push.nonce or ""
    if not _TIMESTAMP_RE.fullmatch(timestamp) or not _NONCE_RE.fullmatch(nonce):
        raise BadRequest("timestamp and nonce are required")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW:
        raise StaleTimestamp("timestamp too far from now")
    crypto.verify_signature(push.signature, timestamp, nonce)
    encrypt = parse_flat_xml(push.body).get("Encrypt", "")
    if not encrypt:
        raise MalformedMessage("no Encrypt element")
    crypto.verify_msg_signature(push.msg_signature, timestamp, nonce, encrypt)
    return crypto.decrypt(encrypt)


def open_signed_push(push: SignedPush, crypto: MessageCrypto, now: float) -> dict[str, str]:
    """`open_signed`, then the inner document's flat fields (component pushes are flat)."""
    return parse_flat_xml(open_signed(push, crypto, now).message)
