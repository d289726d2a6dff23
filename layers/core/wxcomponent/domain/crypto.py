"""WXBizMsgCrypt: WeChat's message signature and AES-256-CBC encryption (docs/protocol.md §1).

Plaintext = 16 random bytes ‖ 4-byte big-endian length ‖ message ‖ component appid, padded with
PKCS#7 over a 32-byte block (1..32 pad bytes, not AES's 16), encrypted with AES-256-CBC whose IV is
the key's first 16 bytes, then base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Cipher import AES

from wxcomponent.domain.errors import AppIdMismatch, ConfigurationError, DecryptError, InvalidSignature

PAD_BLOCK = 32
_PREFIX = 16
_LENGTH = 4
_AES_KEY_RE = re.compile(r"[A-Za-z0-9]{43}")


def sha1_signature(token: str, timestamp: str, nonce: str, encrypt: str = "") -> str:
    """Lowercase hex SHA-1 of the sorted parts joined with no separator; `encrypt` "" gives `signature`."""
    parts = [token, timestamp, nonce] + ([encrypt] if encrypt else [])
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()  # noqa: S324 - the protocol's hash


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison of hex digests. Bytes, because `hmac.compare_digest` raises
    TypeError on a str that is not ASCII, and a query parameter can be anything."""
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("utf-8", "surrogatepass"))


def aes_key_from_encoding(encoding_aes_key: str) -> bytes:
    """AESKey = base64decode(EncodingAESKey + "="), which must be 43 characters of [A-Za-z0-9]."""
    if not _AES_KEY_RE.fullmatch(encoding_aes_key):
        raise ConfigurationError("EncodingAESKey must be 43 characters of [A-Za-z0-9]")
    return base64.b64decode(encoding_aes_key + "=")


def pkcs7_pad(data: bytes, block: int = PAD_BLOCK) -> bytes:
    pad = block - len(data) % block
    return data + bytes([pad]) * pad


def pkcs7_unpad(data: bytes, block: int = PAD_BLOCK) -> bytes:
    if not data:
        raise DecryptError("empty plaintext")
    pad = data[-1]
    if not 1 <= pad <= block or pad > len(data) or data[-pad:] != bytes([pad]) * pad:
        raise DecryptError("bad padding")
    return data[:-pad]


@dataclass(frozen=True)
class Decrypted:
    """A decrypted message and the index of the key that opened it (0 current, 1 previous)."""

    message: bytes
    key_index: int


class MessageCrypto:
    """Signs, verifies, encrypts and decrypts for one component (token, AES keys, appid).

    Keys are tried in order: the current EncodingAESKey first, then the previous one during a
    rotation (docs/protocol.md §1, key rotation).
    """

    def __init__(self, token: str, encoding_aes_keys: Sequence[str], appid: str) -> None:
        keys = [k for k in encoding_aes_keys if k]
        if not token or not keys or not appid:
            raise ConfigurationError("token, an EncodingAESKey and the component appid are required")
        self._token = token
        self._keys = [aes_key_from_encoding(k) for k in keys]
        self._appid = appid.encode("utf-8")

    # -- signatures ------------------------------------------------------------------------------

    def verify_signature(self, signature: str | None, timestamp: str, nonce: str) -> None:
        """Checks the URL `signature` (over token, timestamp, nonce) in constant time."""
        expected = sha1_signature(self._token, timestamp, nonce)
        if not signature or not _same(expected, signature):
            raise InvalidSignature("signature does not match")

    def verify_msg_signature(self, msg_signature: str | None, timestamp: str, nonce: str, encrypt: str) -> None:
        """Checks `msg_signature` (which also covers the ciphertext) in constant time."""
        expected = sha1_signature(self._token, timestamp, nonce, encrypt)
        if not msg_signature or not _same(expected, msg_signature):
            raise InvalidSignature("msg_signature does not match")

    def msg_signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return sha1_signature(self._token, timestamp, nonce, encrypt)

    # -- encryption ------------------------------------------------------------------------------

    def encrypt(self, message: bytes, *, random_prefix: bytes | None = None, key_index: int = 0) -> str:
        """Encrypts `message` as WeChat does; `random_prefix` is fixed only by tests and vectors."""
        prefix = os.urandom(_PREFIX) if random_prefix is None else random_prefix
        if len(prefix) != _PREFIX:
            raise ValueError("random prefix must be 16 bytes")
        plain = prefix + struct.pack(">I", len(message)) + message + self._appid
        key = self._keys[key_index]
        cipher = AES.new(key, AES.MODE_CBC, iv=key[:16])
        return base64.b64encode(cipher.encrypt(pkcs7_pad(plain))).decode("ascii")

    def decrypt(self, encrypt: str) -> Decrypted:
        """Decrypts the text of an `<Encrypt>` element, with the current key, then the previous."""
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DecryptError("ciphertext is not base64") from exc
        if not raw or len(raw) % AES.block_size:
            raise DecryptError("ciphertext is not a whole number of AES blocks")
        failure: DecryptError | AppIdMismatch | None = None
        for index, key in enumerate(self._keys):
            try:
                return Decrypted(self._open(key, raw), index)
            except (DecryptError, AppIdMismatch) as exc:
                # An appid mismatch under the right key outranks noise from a wrong key.
                if failure is None or isinstance(exc, AppIdMismatch):
                    failure = exc
        assert failure is not None
        raise failure

    def _open(self, key: bytes, raw: bytes) -> bytes:
        plain = pkcs7_unpad(AES.new(key, AES.MODE_CBC, iv=key[:16]).decrypt(raw))
        if len(plain) < _PREFIX + _LENGTH:
            raise DecryptError("plaintext shorter than its header")
        (length,) = struct.unpack(">I", plain[_PREFIX : _PREFIX + _LENGTH])
        start = _PREFIX + _LENGTH
        if length > len(plain) - start:
            raise DecryptError("length field overruns the plaintext")
        appid = plain[start + length :]
        if not hmac.compare_digest(appid, self._appid):
            raise AppIdMismatch("ciphertext is for another appid")
        return plain[start : start + length]
