"""WXBizMsgCrypt: WeChat's message signature and AES-256-CBC encryption (docs/protocol.md §1).

Plaintext = 16 random bytes ‖ 4-byte big-endian length ‖ message ‖ component appid, padded with
PKCS#7 over a 32-byte block (1..32 pad bytes, not AES's 16), encrypted with AES-256-CBC whose IV is
the key's first 16 bytes, then base64.

Speed (issue 13, docs/BENCHMARKS.md): making a pycryptodome cipher object (a key schedule and
several µs of setup) cost more than the AES work on a whole push, so none is made per message. Each
EncodingAESKey gets one `_KeyCipher` per process, cached across the `MessageCrypto`s that handlers
build per push: its CBC objects are brought back to the IV before each message, and long
ciphertexts are decrypted as ECB (pipelined in C) and an XOR, which is what CBC decryption is.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Cipher import AES
from Crypto.Util.strxor import strxor

from wxcomponent.domain.errors import AppIdMismatch, ConfigurationError, DecryptError, InvalidSignature

PAD_BLOCK = 32
_PREFIX = 16
_LENGTH = 4
_HEADER = _PREFIX + _LENGTH
_BLOCK = 16  # AES's block, and the IV's length
_AES_KEY_RE = re.compile(r"[A-Za-z0-9]{43}")
_PADS = tuple(bytes([pad]) * pad for pad in range(PAD_BLOCK + 1))
# Up to this many bytes of ciphertext, decryption is cheapest through a CBC object (one call into
# pycryptodome); above it, through ECB, whose C code pipelines the blocks, and strxor (two calls).
_CBC_DECRYPT_LIMIT = 3072
_CIPHERS_CACHED = 16  # EncodingAESKeys: a component's current and previous, with room for tests


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


def _unpadded_length(data: bytes, block: int = PAD_BLOCK) -> int:
    """The length of `data` without its PKCS#7 padding, which must be 1..`block` equal bytes."""
    if not data:
        raise DecryptError("empty plaintext")
    pad = data[-1]
    if not 1 <= pad <= block or pad > len(data) or data[-pad:] != bytes([pad]) * pad:
        raise DecryptError("bad padding")
    return len(data) - pad


def pkcs7_unpad(data: bytes, block: int = PAD_BLOCK) -> bytes:
    return data[: _unpadded_length(data, block)]


class _KeyCipher:
    """One AES key's cipher objects, made once and reused for every message (a key schedule each)."""

    def __init__(self, key: bytes) -> None:
        self._iv = key[:_BLOCK]
        # ECB keeps no state between calls, so one object serves every message and thread.
        self._ecb = AES.new(key, AES.MODE_ECB)
        # CBC objects chain each call on from the last ciphertext block they saw: each message first
        # brings its object back to the IV (see encrypt and decrypt), under the object's lock.
        self._encryptor = AES.new(key, AES.MODE_CBC, iv=self._iv)
        self._encrypting = threading.Lock()
        self._chain = int.from_bytes(self._iv, "big")  # the encryptor's last ciphertext block
        self._iv_preimage = int.from_bytes(self._ecb.decrypt(self._iv), "big")  # D(IV)
        self._decryptor = AES.new(key, AES.MODE_CBC, iv=self._iv)
        self._decrypting = threading.Lock()

    def encrypt(self, plain: bytes) -> bytes:
        """AES-256-CBC from the IV, as a fresh `AES.new(key, MODE_CBC, iv)` would encrypt `plain`.

        The block D(IV) XOR (the last ciphertext block), sent first, encrypts to the IV, so `plain`
        is chained on from the IV itself; that block's output is dropped.
        """
        with self._encrypting:
            reset = (self._iv_preimage ^ self._chain).to_bytes(_BLOCK, "big")
            sealed = self._encryptor.encrypt(reset + plain)
            self._chain = int.from_bytes(sealed[-_BLOCK:], "big")
        if not hmac.compare_digest(sealed[:_BLOCK], self._iv):  # cannot happen, unless the chaining is wrong
            raise AssertionError("the CBC encryptor was not brought back to the IV")
        return sealed[_BLOCK:]

    def decrypt(self, raw: bytes) -> bytes:
        """AES-256-CBC decryption from the IV, as a fresh `AES.new(key, MODE_CBC, iv)` would."""
        if len(raw) > _CBC_DECRYPT_LIMIT:
            # What CBC decryption is: each block's ECB decryption XOR the block before it (the IV
            # before the first).
            return strxor(self._ecb.decrypt(raw), self._iv + raw[:-_BLOCK])
        # The IV, sent first as a ciphertext block, becomes the block the next one is XORed with,
        # whatever came before; its own output is dropped.
        with self._decrypting:
            return self._decryptor.decrypt(self._iv + raw)[_BLOCK:]


@functools.lru_cache(maxsize=_CIPHERS_CACHED)
def _key_cipher(encoding_aes_key: str) -> _KeyCipher:
    return _KeyCipher(aes_key_from_encoding(encoding_aes_key))


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
        self._ciphers = [_key_cipher(k) for k in keys]
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
        cipher = self._ciphers[key_index]
        pad = PAD_BLOCK - (_HEADER + len(message) + len(self._appid)) % PAD_BLOCK
        plain = b"".join((prefix, struct.pack(">I", len(message)), message, self._appid, _PADS[pad]))
        return binascii.b2a_base64(cipher.encrypt(plain), newline=False).decode("ascii")

    def decrypt(self, encrypt: str) -> Decrypted:
        """Decrypts the text of an `<Encrypt>` element, with the current key, then the previous."""
        try:
            # As base64.b64decode(validate=True), without its wrapper: a str that is not ASCII is a ValueError.
            raw = binascii.a2b_base64(encrypt, strict_mode=True)
        except (binascii.Error, ValueError) as exc:
            raise DecryptError("ciphertext is not base64") from exc
        if not raw or len(raw) % AES.block_size:
            raise DecryptError("ciphertext is not a whole number of AES blocks")
        failure: DecryptError | AppIdMismatch | None = None
        for index, cipher in enumerate(self._ciphers):
            try:
                return Decrypted(self._open(cipher, raw), index)
            except (DecryptError, AppIdMismatch) as exc:
                # An appid mismatch under the right key outranks noise from a wrong key.
                if failure is None or isinstance(exc, AppIdMismatch):
                    failure = exc
        assert failure is not None
        raise failure

    def _open(self, cipher: _KeyCipher, raw: bytes) -> bytes:
        plain = cipher.decrypt(raw)
        end = _unpadded_length(plain)  # indices, not slices: no copy of the plaintext until the message
        if end < _HEADER:
            raise DecryptError("plaintext shorter than its header")
        length = int.from_bytes(plain[_PREFIX:_HEADER], "big")
        if length > end - _HEADER:
            raise DecryptError("length field overruns the plaintext")
        if not hmac.compare_digest(plain[_HEADER + length : end], self._appid):
            raise AppIdMismatch("ciphertext is for another appid")
        return plain[_HEADER : _HEADER + length]
