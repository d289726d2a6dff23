"""Builds pushes exactly as WeChat signs and encrypts them, for tests of our receiving side."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from infra.local.devconfig import DEFAULTS
from wxcomponent.domain.crypto import MessageCrypto, sha1_signature

APPID = DEFAULTS["WECHAT_COMPONENT_APPID"]
TOKEN = DEFAULTS["WECHAT_COMPONENT_TOKEN"]
AES_KEY = DEFAULTS["WECHAT_COMPONENT_AES_KEY"]
OTHER_AES_KEY = "OtherEncodingAESKey0123456789abcdefghijklmn"


@dataclass(frozen=True)
class Push:
    query: dict[str, str]
    body: bytes


def ticket_xml(ticket: str, create_time: int, appid: str = APPID) -> str:
    return (
        f"<xml><AppId><![CDATA[{appid}]]></AppId><CreateTime>{create_time}</CreateTime>"
        "<InfoType><![CDATA[component_verify_ticket]]></InfoType>"
        f"<ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket></xml>"
    )


def event_xml(info_type: str, create_time: int, authorizer_appid: str, appid: str = APPID) -> str:
    return (
        f"<xml><AppId><![CDATA[{appid}]]></AppId><CreateTime>{create_time}</CreateTime>"
        f"<InfoType><![CDATA[{info_type}]]></InfoType>"
        f"<AuthorizerAppid><![CDATA[{authorizer_appid}]]></AuthorizerAppid></xml>"
    )


def signed_push(
    inner: str | bytes,
    *,
    timestamp: int | None = None,
    nonce: str = "1320562132",
    token: str = TOKEN,
    aes_key: str = AES_KEY,
    appid: str = APPID,
    envelope: str | None = None,
) -> Push:
    """An encrypted, signed push; `envelope` may replace the `<xml>…</xml>` around `{encrypt}`."""
    message = inner.encode("utf-8") if isinstance(inner, str) else inner
    encrypt = MessageCrypto(token, [aes_key], appid).encrypt(message)
    template = envelope or "<xml><AppId><![CDATA[{appid}]]></AppId><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    body = template.format(appid=appid, encrypt=encrypt).encode("utf-8")
    return Push(signed_query(encrypt, timestamp=timestamp, nonce=nonce, token=token), body)


def signed_raw(encrypt: str, *, timestamp: int | None = None, nonce: str = "42", token: str = TOKEN) -> Push:
    """A push carrying an arbitrary `Encrypt` text, correctly signed (to reach the decryption)."""
    body = f"<xml><AppId><![CDATA[{APPID}]]></AppId><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    return Push(signed_query(encrypt, timestamp=timestamp, nonce=nonce, token=token), body)


def signed_query(encrypt: str, *, timestamp: int | None, nonce: str, token: str) -> dict[str, str]:
    """The query WeChat signs a push with: both signatures over the given timestamp and nonce."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "signature": sha1_signature(token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sha1_signature(token, ts, nonce, encrypt),
    }


def account_message_xml(
    to_user_name: str,
    from_user_name: str,
    fields: list[tuple[str, str | int]],
    *,
    create_time: int | None = None,
) -> str:
    """A user's message or event as an account receives it, fields in WeChat's order."""
    parts = [
        f"<ToUserName><![CDATA[{to_user_name}]]></ToUserName>",
        f"<FromUserName><![CDATA[{from_user_name}]]></FromUserName>",
        f"<CreateTime>{int(time.time()) if create_time is None else create_time}</CreateTime>",
    ]
    for name, value in fields:
        text = str(value) if isinstance(value, int) else "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
        parts.append(f"<{name}>{text}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def signed_message(inner: str | bytes, to_user_name: str, **kwargs: Any) -> Push:
    """An encrypted, signed message in the account envelope (ToUserName, not AppId)."""
    envelope = (
        f"<xml><ToUserName><![CDATA[{to_user_name}]]></ToUserName><Encrypt><![CDATA[{{encrypt}}]]></Encrypt></xml>"
    )
    return signed_push(inner, envelope=envelope, **kwargs)
