"""WXBizMsgCrypt against the published vectors (docs/protocol.md §1), round trips, and every bad input."""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import struct
import threading
from collections.abc import Callable
from typing import Any

import pytest
from Crypto.Cipher import AES
from hypothesis import given
from hypothesis import strategies as st

from wxcomponent.domain import crypto as crypto_module
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


# -- the fast paths are the textbook algorithm (issue 13) -----------------------------------------
# MessageCrypto keeps one set of cipher objects per key instead of a fresh AES.new(key, CBC, iv) per
# message: its CBC objects are brought back to the IV before each message, and long ciphertexts are
# decrypted as ECB and an XOR. These compare it with the textbook way, message by message, and count
# the AES.new calls.

APPID = "wx0123456789abcdef"


def _textbook_open(raw: bytes, keys: list[str], appid: bytes) -> tuple[bytes, int]:
    """The straightforward decryption (a fresh CBC object per message and key), with our error order."""
    failure: Exception | None = None
    for index, key_text in enumerate(keys):
        key = aes_key_from_encoding(key_text)
        plain = AES.new(key, AES.MODE_CBC, iv=key[:16]).decrypt(raw)
        try:
            pad = plain[-1]
            if not 1 <= pad <= 32 or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
                raise DecryptError("bad padding")
            plain = plain[:-pad]
            if len(plain) < 20:
                raise DecryptError("plaintext shorter than its header")
            (length,) = struct.unpack(">I", plain[16:20])
            if length > len(plain) - 20:
                raise DecryptError("length field overruns the plaintext")
            if plain[20 + length :] != appid:
                raise AppIdMismatch("ciphertext is for another appid")
            return plain[20 : 20 + length], index
        except (DecryptError, AppIdMismatch) as exc:
            if failure is None or isinstance(exc, AppIdMismatch):
                failure = exc
    assert failure is not None
    raise failure


def _ours_open(raw: bytes, keys: list[str], appid: bytes) -> tuple[bytes, int]:
    opened = MessageCrypto("token", keys, appid.decode()).decrypt(base64.b64encode(raw).decode())
    return opened.message, opened.key_index


def _outcome(
    opener: Callable[[bytes, list[str], bytes], tuple[bytes, int]], raw: bytes, keys: list[str]
) -> tuple[object, ...]:
    """What opening `raw` ends in: the message and the key's index, or the refusal's type and text."""
    try:
        return ("opened", *opener(raw, keys, APPID.encode()))
    except (DecryptError, AppIdMismatch) as exc:
        return (type(exc), str(exc))


@given(
    encrypt=st.text(alphabet=st.sampled_from([*"AQgw+/=", " ", "\n", "!", "é", "\ud800"]), max_size=40)
    | st.text(max_size=40)
)
def test_base64_is_read_as_strictly_as_b64decode_with_validate(encrypt: str) -> None:
    try:
        base64.b64decode(encrypt, validate=True)
        valid = True
    except (binascii.Error, ValueError):
        valid = False
    try:
        MessageCrypto("token", [KEY], APPID).decrypt(encrypt)
        refused_as_base64 = False
    except (DecryptError, AppIdMismatch) as exc:
        refused_as_base64 = str(exc) == "ciphertext is not base64"
    assert refused_as_base64 is not valid


def _sealed_plain(key_text: str, plain: bytes) -> str:
    key = aes_key_from_encoding(key_text)
    return base64.b64encode(AES.new(key, AES.MODE_CBC, iv=key[:16]).encrypt(plain)).decode()


# Plaintexts that are anything: most fail the padding, the length or the appid check somewhere.
# Up to 4800 bytes, past the size where decryption switches from a CBC object to ECB and strxor.
_plaintexts = st.one_of(
    st.integers(min_value=1, max_value=300).flatmap(
        lambda blocks: st.binary(min_size=16 * blocks, max_size=16 * blocks)
    ),
    st.tuples(st.binary(min_size=16, max_size=16), st.binary(max_size=4000), st.sampled_from([APPID, "wxother"])).map(
        lambda parts: pkcs7_pad(parts[0] + struct.pack(">I", len(parts[1])) + parts[1] + parts[2].encode())
    ),
    st.binary(max_size=200).map(lambda tail: pkcs7_pad(b"r" * 16 + struct.pack(">I", len(tail) // 2) + tail)),
)


@given(plain=_plaintexts, under=st.sampled_from([KEY, ROTATED_KEY]))
def test_decryption_opens_and_refuses_exactly_as_the_textbook_does(plain: bytes, under: str) -> None:
    raw = base64.b64decode(_sealed_plain(under, plain))
    for keys in ([KEY], [ROTATED_KEY, KEY]):
        assert _outcome(_ours_open, raw, keys) == _outcome(_textbook_open, raw, keys)


@given(messages=st.lists(st.binary(max_size=3000), min_size=1, max_size=8), prefix=st.binary(min_size=16, max_size=16))
def test_each_message_in_a_row_is_sealed_as_a_fresh_cbc_object_would(messages: list[bytes], prefix: bytes) -> None:
    crypto = MessageCrypto("token", [KEY, ROTATED_KEY], APPID)
    for turn, message in enumerate(messages):
        key_index = turn % 2
        expected = _sealed_plain(
            [KEY, ROTATED_KEY][key_index],
            pkcs7_pad(prefix + struct.pack(">I", len(message)) + message + APPID.encode()),
        )
        assert crypto.encrypt(message, random_prefix=prefix, key_index=key_index) == expected


def test_threads_sharing_one_key_each_get_their_own_message_sealed_and_opened() -> None:
    crypto = MessageCrypto("token", [KEY], APPID)
    messages = [bytes([n]) * (n * 397 % 3000) for n in range(64)]  # up to the CBC decryptor's limit
    prefix = b"p" * 16
    expected = {
        m: _sealed_plain(KEY, pkcs7_pad(prefix + struct.pack(">I", len(m)) + m + APPID.encode())) for m in messages
    }
    wrong: list[str] = []  # what went wrong in any thread: a wrong ciphertext, or an exception

    def seal_all() -> None:
        for _ in range(20):
            for message in messages:
                try:
                    if crypto.encrypt(message, random_prefix=prefix) != expected[message]:
                        wrong.append(f"{len(message)} bytes sealed wrong")
                    if crypto.decrypt(expected[message]).message != message:
                        wrong.append(f"{len(message)} bytes opened wrong")
                except Exception as exc:  # reported by the assertion below
                    wrong.append(repr(exc))

    threads = [threading.Thread(target=seal_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert wrong == []


def test_a_key_costs_one_derivation_and_three_cipher_objects_however_many_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The regression guard of issue 13's fix, counted rather than timed: before it, every message
    made a cipher object (AES.new: a key schedule and several µs of setup, more than the AES work on
    a push) and every MessageCrypto derived its keys again; handlers build a MessageCrypto per push."""
    made: list[int] = []
    derived: list[str] = []
    real_new, real_derive = AES.new, crypto_module.aes_key_from_encoding

    def counting_new(*args: Any, **kwargs: Any) -> Any:
        made.append(args[1])
        return real_new(*args, **kwargs)

    def counting_derive(encoding_aes_key: str) -> bytes:
        derived.append(encoding_aes_key)
        return real_derive(encoding_aes_key)

    monkeypatch.setattr(AES, "new", counting_new)
    monkeypatch.setattr(crypto_module, "aes_key_from_encoding", counting_derive)
    fresh_key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))
    for _ in range(3):  # as handlers do: a MessageCrypto per push
        crypto = MessageCrypto("token", [fresh_key], APPID)
        for length in (0, 100, 1024, 5000):
            assert crypto.decrypt(crypto.encrypt(b"m" * length)).message == b"m" * length
    assert sorted(made) == [AES.MODE_ECB, AES.MODE_CBC, AES.MODE_CBC]  # decrypts with and without ECB
    assert derived == [fresh_key]
