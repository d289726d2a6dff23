"""An implementation of WeChat's message crypto written in the tests from docs/protocol.md §1 alone,
sharing no code with `wxcomponent.domain.crypto`, to open what our core seals (so a bug in our crypto
cannot hide behind the same bug in its check)."""

from __future__ import annotations

import base64
import hashlib
import struct
import xml.etree.ElementTree as ElementTree

from Crypto.Cipher import AES


def sha1_of_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def decrypt(encrypt: str, encoding_aes_key: str, appid: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    assert len(key) == 32
    plain = AES.new(key, AES.MODE_CBC, key[:16]).decrypt(base64.b64decode(encrypt))
    pad = plain[-1]
    assert 1 <= pad <= 32 and plain.endswith(bytes([pad]) * pad), "PKCS#7 over 32-byte blocks"
    plain = plain[:-pad]
    (length,) = struct.unpack("!I", plain[16:20])
    message, trailing = plain[20 : 20 + length], plain[20 + length :]
    assert trailing == appid.encode(), "the trailing appid is the component's"
    return message


def open_reply(body: bytes, token: str, encoding_aes_key: str, appid: str) -> dict[str, str]:
    """An encrypted passive reply, verified (MsgSignature over token, TimeStamp, Nonce, Encrypt) and
    decrypted; the inner document's fields."""
    outer = {child.tag: child.text or "" for child in ElementTree.fromstring(body)}
    assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}, outer.keys()
    expected = sha1_of_sorted(token, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
    assert outer["MsgSignature"] == expected, "MsgSignature"
    inner = ElementTree.fromstring(decrypt(outer["Encrypt"], encoding_aes_key, appid))
    return {child.tag: "".join(child.itertext()) for child in inner}
