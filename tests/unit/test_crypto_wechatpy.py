"""Our WXBizMsgCrypt against wechatpy's, an implementation we share no code with (a dev-only
dependency; it is also the baseline of `python -m bench crypto`): the same inputs seal into the same
bytes, each side opens what the other seals, and the signed envelopes of the two pass each other's
checks. This is also the proof that the benchmark compares the same mode on the same messages."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest
from wechatpy.crypto import PrpCrypto, WeChatCrypto  # type: ignore[import-untyped]
from wechatpy.exceptions import InvalidAppIdException  # type: ignore[import-untyped]

from wxcomponent.domain.crypto import MessageCrypto, aes_key_from_encoding
from wxcomponent.domain.errors import AppIdMismatch
from wxcomponent.domain.replies import seal

TOKEN = "interoptoken"
KEYS = ["abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"]
APPID = "wx0123456789abcdef"
PREFIX = "aaaabbbbccccdddd"
# Lengths around every pad (1..32 bytes: the header and appid take 38, so 26 pads a whole block),
# the benchmark's sizes, and text that is not ASCII.
MESSAGES = [
    "",
    "x",
    "x" * 25,
    "x" * 26,
    "x" * 27,
    "<xml><Content><![CDATA[我是中文abcd123]]></Content></xml>",
    *("<xml>" + "y" * (size - 11) + "</xml>" for size in (100, 1024, 2047, 2048, 2049, 4096, 16384, 65536)),
]


class FixedPrefixPrpCrypto(PrpCrypto):  # type: ignore[misc]
    def get_random_string(self) -> str:
        return PREFIX


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{len(m.encode())}B")
def test_the_same_inputs_seal_into_the_same_bytes_and_each_opens_the_others(message: str, key: str) -> None:
    ours = MessageCrypto(TOKEN, [key], APPID)
    theirs = PrpCrypto(aes_key_from_encoding(key))
    fixed = ours.encrypt(message.encode(), random_prefix=PREFIX.encode())
    assert FixedPrefixPrpCrypto(aes_key_from_encoding(key)).encrypt(message, APPID).decode() == fixed
    assert theirs.decrypt(ours.encrypt(message.encode()), APPID) == message
    assert ours.decrypt(theirs.encrypt(message, APPID).decode()).message == message.encode()


def test_each_refuses_what_the_other_sealed_for_another_appid() -> None:
    ours = MessageCrypto(TOKEN, [KEYS[0]], APPID)
    theirs = PrpCrypto(aes_key_from_encoding(KEYS[0]))
    with pytest.raises(InvalidAppIdException):
        theirs.decrypt(MessageCrypto(TOKEN, [KEYS[0]], "wxffffffffffffffff").encrypt(b"<xml/>"), APPID)
    with pytest.raises(AppIdMismatch):
        ours.decrypt(theirs.encrypt("<xml/>", "wxffffffffffffffff").decode())


def test_signed_envelopes_pass_each_others_checks() -> None:
    ours = MessageCrypto(TOKEN, KEYS, APPID)
    theirs = WeChatCrypto(TOKEN, KEYS[0], APPID)
    document = "<xml><Content><![CDATA[你好]]></Content></xml>"

    # wechatpy seals as WeChat pushes; we check the msg_signature and open it.
    envelope = ElementTree.fromstring(theirs.encrypt_message(document, "nonce123", "1409735669"))
    fields = {child.tag: child.text or "" for child in envelope}
    ours.verify_msg_signature(fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
    assert ours.decrypt(fields["Encrypt"]).message == document.encode()

    # We seal a passive reply; wechatpy checks its MsgSignature and opens it.
    reply = ElementTree.fromstring(seal(ours, document, key_index=0, timestamp=1409735669, nonce="nonce456"))
    signature = reply.findtext("MsgSignature")
    assert (
        theirs.decrypt_message({"Encrypt": reply.findtext("Encrypt")}, signature, "1409735669", "nonce456") == document
    )
