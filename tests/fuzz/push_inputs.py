"""What the push-path fuzzer (tests/fuzz/push_path.py) builds around its inputs, and its seeds. Kept
apart from the harness so that tests can import it without atheris instrumenting anything."""

from __future__ import annotations

import base64
import struct

from Crypto.Cipher import AES

from tests.support.pushes import AES_KEY, APPID, TOKEN
from wxcomponent.domain.crypto import MessageCrypto, aes_key_from_encoding

CRYPTO = MessageCrypto(TOKEN, [AES_KEY], APPID)
KEY = aes_key_from_encoding(AES_KEY)
NOW = 1_767_225_600
TIMESTAMP, NONCE = str(NOW), "1320562132"
ENVELOPE, RAW_ENCRYPT, PLAINTEXT, DECRYPTED_LAYOUT = range(4)


def envelope(encrypt: str) -> bytes:
    return f"<xml><AppId><![CDATA[{APPID}]]></AppId><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()


def sealed(decrypted: bytes) -> str:
    """AES-CBC under the component's key, IV its first 16 bytes, as WXBizMsgCrypt: no padding of our
    own beyond whole blocks, so the fuzzer's last byte is the padding the decrypter checks."""
    decrypted += b"\x00" * (-len(decrypted) % 32)
    return base64.b64encode(AES.new(KEY, AES.MODE_CBC, KEY[:16]).encrypt(decrypted)).decode()


def padded(plaintext: bytes, appid: bytes, prefix: bytes) -> bytes:
    body = prefix + struct.pack(">I", len(plaintext)) + plaintext + appid
    pad = 32 - len(body) % 32
    return body + bytes([pad]) * pad


def seeds() -> dict[str, bytes]:
    """A start for each mode: a ticket push and a text message, as WeChat sends them."""
    ticket = (
        f"<xml><AppId><![CDATA[{APPID}]]></AppId><CreateTime>{NOW}</CreateTime>"
        "<InfoType><![CDATA[component_verify_ticket]]></InfoType>"
        "<ComponentVerifyTicket><![CDATA[ticket@@@abc]]></ComponentVerifyTicket></xml>"
    ).encode()
    text = (
        "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        "<FromUserName><![CDATA[o6_bmjrPTlm6_2sgVt7hMZOPfL2M]]></FromUserName>"
        f"<CreateTime>{NOW}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[hello]]></Content><MsgId>1234567890123456</MsgId></xml>"
    ).encode()
    encrypt = CRYPTO.encrypt(ticket, random_prefix=b"0123456789abcdef")
    return {
        "envelope": bytes([ENVELOPE]) + envelope(encrypt),
        "raw-encrypt": bytes([RAW_ENCRYPT]) + encrypt.encode(),
        "ticket": bytes([PLAINTEXT, 0]) + ticket,
        "text": bytes([PLAINTEXT, 0]) + text,
        "foreign-appid": bytes([PLAINTEXT, 19]) + b"wx00000000000000000" + text,
        "layout": bytes([DECRYPTED_LAYOUT]) + padded(text, APPID.encode(), b"0123456789abcdef"),
    }
