"""WXBizMsgCrypt against the published vectors (docs/protocol.md §1), round trips, and every bad input."""

from __future__ import annotations

import base64
import struct

import pytest
from Crypto.Cipher import AES
from hypothesis import given
from hypothesis import strategies as st

from wxcomponent.domain.crypto import MessageCrypto, aes_key_from_encoding, pkcs7_pad, sha1_signature
from wxcomponent.domain.errors import AppIdMismatch, ConfigurationError, DecryptError, InvalidSignature

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MP_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9"
    "FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt"
    "+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0E"
    "IBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
PAD21_ENCRYPT = (
    "rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7r"
    "Ziwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytp"
    "v7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvs"
    "QMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz"
    "1BsrASwvauNulCh+++yz+CQzBIuikA=="
)
ROTATED_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


def test_mp_sample_signature_and_decryption() -> None:
    crypto = MessageCrypto("spamtest", [KEY], "wx2c2769f8efd9abc2")
    assert sha1_signature("spamtest", "1409735669", "1320562132", MP_ENCRYPT) == (
        "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
    )
    crypto.verify_msg_signature("5d197aaffba7e9b25a30732f161a50dee96bd5fa", "1409735669", "1320562132", MP_ENCRYPT)
    message = crypto.decrypt(MP_ENCRYPT).message.decode()
    assert "<ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>" in message
    assert "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>" in message
    assert "<Content><![CDATA[abcdteT]]></Content>" in message
    assert "<MsgId>6054768590064713728</MsgId>" in message


def test_deterministic_encryption_vector() -> None:
    crypto = MessageCrypto("pamtest", [KEY], "wxb11529c136998cb6")
    encrypted = crypto.encrypt("我是中文abcd123".encode(), random_prefix=b"aaaabbbbccccdddd")
    assert encrypted == "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="


def test_pad_of_21_vector_which_a_16_byte_unpadder_rejects() -> None:
    crypto = MessageCrypto("pamtest", [KEY], "wxb11529c136998cb6")
    crypto.verify_msg_signature("4f3ad57b6989f09f4eb392acce4f9e93942ed890", "1458300676", "260774613", PAD21_ENCRYPT)
    key = aes_key_from_encoding(KEY)
    plain = AES.new(key, AES.MODE_CBC, iv=key[:16]).decrypt(base64.b64decode(PAD21_ENCRYPT))
    assert plain[-1] == 21  # the vector really carries a pad over 16
    message = crypto.decrypt(PAD21_ENCRYPT).message.decode()
    assert "<Content><![CDATA[hello]]></Content>" in message
    assert "<MsgId>12345</MsgId>" in message


@given(message=st.binary(min_size=0, max_size=200), prefix=st.binary(min_size=16, max_size=16))
def test_round_trip_of_every_length(message: bytes, prefix: bytes) -> None:
    crypto = MessageCrypto("token", [KEY], "wx0123456789abcdef")
    encrypted = crypto.encrypt(message, random_prefix=prefix)
    raw = base64.b64decode(encrypted)
    assert len(raw) % 32 == 0
    plain_length = 16 + 4 + len(message) + len("wx0123456789abcdef")
    assert len(raw) - plain_length == 32 - plain_length % 32  # pads 1..32, a full block when aligned
    assert crypto.decrypt(encrypted).message == message


@pytest.mark.parametrize("length", range(0, 65))
def test_every_pad_from_1_to_32_round_trips(length: int) -> None:
    crypto = MessageCrypto("token", [KEY], "wx0123456789abcdef")
    assert crypto.decrypt(crypto.encrypt(b"x" * length)).message == b"x" * length


def test_previous_key_is_accepted_and_reported() -> None:
    old = MessageCrypto("token", [KEY], "wx0123456789abcdef")
    rotated = MessageCrypto("token", [ROTATED_KEY, KEY], "wx0123456789abcdef")
    opened = rotated.decrypt(old.encrypt(b"<xml/>"))
    assert (opened.message, opened.key_index) == (b"<xml/>", 1)
    assert rotated.decrypt(rotated.encrypt(b"<xml/>")).key_index == 0


def test_signatures_are_checked_and_missing_ones_refused() -> None:
    crypto = MessageCrypto("token", [KEY], "wx0123456789abcdef")
    good = sha1_signature("token", "1", "2")
    crypto.verify_signature(good, "1", "2")
    crypto.verify_signature(good.upper(), "1", "2")
    for bad in (None, "", good[:-1] + "0", "x" * 40):
        with pytest.raises(InvalidSignature):
            crypto.verify_signature(bad, "1", "2")
    with pytest.raises(InvalidSignature):
        crypto.verify_msg_signature(good, "1", "2", "ciphertext")  # signature is not msg_signature
    with pytest.raises(InvalidSignature):
        crypto.verify_msg_signature(None, "1", "2", "ciphertext")


def _raw_encrypt(plain: bytes, key_text: str = KEY) -> str:
    key = aes_key_from_encoding(key_text)
    return base64.b64encode(AES.new(key, AES.MODE_CBC, iv=key[:16]).encrypt(plain)).decode()


@pytest.mark.parametrize(
    ("encrypt", "error"),
    [
        ("not base64!!", DecryptError),
        ("", DecryptError),
        (base64.b64encode(b"x" * 20).decode(), DecryptError),  # not whole AES blocks
        (_raw_encrypt(b"\x00" * 31 + b"\x21"), DecryptError),  # pad byte 33 > 32
        (_raw_encrypt(b"\x00" * 32), DecryptError),  # pad byte 0
        (_raw_encrypt(b"\x01" * 28 + b"\x02\x03\x04\x04"), DecryptError),  # inconsistent pad bytes
        (
            _raw_encrypt(pkcs7_pad(b"r" * 16 + struct.pack(">I", 1000) + b"<xml/>" + b"wx0123456789abcdef")),
            DecryptError,
        ),
        (_raw_encrypt(pkcs7_pad(b"r" * 10)), DecryptError),  # shorter than its header
        (MessageCrypto("t", [KEY], "wxffffffffffffffff").encrypt(b"<xml/>"), AppIdMismatch),
        (MessageCrypto("t", [ROTATED_KEY], "wx0123456789abcdef").encrypt(b"<xml/>"), DecryptError),
    ],
    ids=[
        "not-base64",
        "empty",
        "partial-block",
        "pad-too-large",
        "pad-zero",
        "pad-inconsistent",
        "length-overruns",
        "too-short",
        "other-appid",
        "unknown-key",
    ],
)
def test_bad_ciphertexts_are_refused(encrypt: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        MessageCrypto("token", [KEY], "wx0123456789abcdef").decrypt(encrypt)


@pytest.mark.parametrize("key", ["short", KEY + "A", KEY[:-1] + "+", ""])
def test_malformed_aes_keys_are_configuration_errors(key: str) -> None:
    with pytest.raises(ConfigurationError):
        MessageCrypto("token", [key] if key else [], "wx0123456789abcdef")
