"""Crypto throughput: our WXBizMsgCrypt (`wxcomponent.domain.crypto.MessageCrypto`) against wechatpy's
(`wechatpy.crypto.PrpCrypto`, a dev-only dependency), on the same messages and ciphertexts, 100 B to
64 KiB, both directions.

Given the same token, EncodingAESKey, appid and 16-byte random prefix, the two seal a message into
the same bytes (checked before timing; tests/unit/test_crypto_wechatpy.py checks more). Ours and
theirs are timed in alternation, batch against batch, and the ratio is the median of the per-round
ratios: noise that hits a round hits both sides of it.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from functools import partial

from wechatpy.crypto import PrpCrypto  # type: ignore[import-untyped]
from wechatpy.crypto import base as wechatpy_base

from wxcomponent.domain.crypto import MessageCrypto, aes_key_from_encoding

TITLE = "Crypto throughput: WXBizMsgCrypt against wechatpy"
COMMAND = "PYTHONPATH=layers/core:. .venv/bin/python -m bench crypto"
TOKEN = "benchtoken"
ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx0123456789abcdef"
PREFIX = "0123456789abcdef"  # wechatpy's prefix is text; 16 ASCII characters are 16 bytes
SIZES = [100, 1024, 4 * 1024, 16 * 1024, 64 * 1024]
ROUNDS = 301
BATCH_SECONDS = 0.002


class _FixedPrefixPrpCrypto(PrpCrypto):  # type: ignore[misc]
    """wechatpy's PrpCrypto with our fixed prefix instead of its random one, so both sides seal the
    same plaintext into the same ciphertext."""

    def get_random_string(self) -> str:
        return PREFIX


def message_of(size: int) -> bytes:
    """An ASCII XML push of exactly `size` bytes (wechatpy decodes the message as UTF-8)."""
    head, tail = b"<xml><Content><![CDATA[", b"]]></Content></xml>"
    body = (b"0123456789abcdefghijklmnopqrstuvwxyz" * (size // 36 + 1))[: max(0, size - len(head) - len(tail))]
    return (head + body + tail)[:size]


def _per_call(function: Callable[[], object], calls: int) -> float:
    """Seconds per call over a batch of `calls`, with the collector off as timeit does."""
    gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(calls):
            function()
        return (time.perf_counter() - started) / calls
    finally:
        gc.enable()


def _calls_per_batch(ours: Callable[[], object], theirs: Callable[[], object]) -> int:
    slower = max(_per_call(ours, 50), _per_call(theirs, 50))
    return max(5, int(BATCH_SECONDS / slower))


def paired(ours: Callable[[], object], theirs: Callable[[], object]) -> tuple[float, float, float]:
    """Median µs per call of ours and theirs, and the median of the per-round ratios theirs/ours."""
    calls = _calls_per_batch(ours, theirs)
    our_times: list[float] = []
    their_times: list[float] = []
    ratios: list[float] = []
    for round_ in range(ROUNDS):
        # Alternate who goes first, so neither always runs on a warmer (or colder) machine.
        if round_ % 2:
            mine, other = _per_call(ours, calls), _per_call(theirs, calls)
        else:
            other, mine = _per_call(theirs, calls), _per_call(ours, calls)
        our_times.append(mine)
        their_times.append(other)
        ratios.append(other / mine)
    return statistics.median(our_times) * 1e6, statistics.median(their_times) * 1e6, statistics.median(ratios)


def measure() -> list[tuple[int, str, float, float, float]]:
    """Rows of (size, direction, ours µs, theirs µs, theirs/ours), after checking both sides agree."""
    ours = MessageCrypto(TOKEN, [ENCODING_AES_KEY], APPID)
    key = aes_key_from_encoding(ENCODING_AES_KEY)
    theirs, theirs_fixed = PrpCrypto(key), _FixedPrefixPrpCrypto(key)
    prefix = PREFIX.encode("ascii")
    rows: list[tuple[int, str, float, float, float]] = []
    for size in SIZES:
        message = message_of(size)
        sealed = ours.encrypt(message, random_prefix=prefix)
        if theirs_fixed.encrypt(message, APPID).decode("ascii") != sealed:
            raise AssertionError(f"the two sides seal {size} bytes differently")
        if theirs.decrypt(sealed, APPID).encode("utf-8") != ours.decrypt(sealed).message:
            raise AssertionError(f"the two sides open {size} bytes differently")
        pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
            "encrypt": (partial(ours.encrypt, message), partial(theirs.encrypt, message, APPID)),
            "encrypt, same prefix": (
                partial(ours.encrypt, message, random_prefix=prefix),
                partial(theirs_fixed.encrypt, message, APPID),
            ),
            "decrypt": (partial(ours.decrypt, sealed), partial(theirs.decrypt, sealed, APPID)),
        }
        rows.extend((size, direction, *paired(mine, other)) for direction, (mine, other) in pairs.items())
    return rows


def _size(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def _their_backend() -> str:
    """Which library wechatpy's cipher runs on: `cryptography` (OpenSSL) when installed, else pycryptodome."""
    module: str = wechatpy_base.WeChatCipher.__module__
    return "`cryptography` (OpenSSL)" if module.endswith(".cryptography") else "pycryptodome"


def run() -> str:
    rows = measure()
    lines = [
        f"Measured with `{COMMAND}` (`python -m bench crypto` from the repository's root).",
        "",
        "Ours: `MessageCrypto.encrypt` / `.decrypt` (pycryptodome). Theirs: wechatpy 1.8.18's",
        f"`PrpCrypto.encrypt` / `.decrypt` on {_their_backend()}, one object reused for every call,",
        "its fastest use (its `WeChatCrypto` makes one per message). Same token, EncodingAESKey and",
        "appid on both sides. A message is ASCII XML of the size shown; encrypt takes it to the base64",
        "text of `<Encrypt>`, decrypt takes that text back to the message. `encrypt`: each side draws",
        "its own 16-byte random prefix (ours `os.urandom`, wechatpy's `random.choice`), as each really",
        "encrypts; `encrypt, same prefix`: both are given the same prefix, so both seal each message",
        "into the same ciphertext, checked before timing (the AES and framing work alone); `decrypt`:",
        "both open that ciphertext, and get the same message (checked).",
        "",
        f"Each row: {ROUNDS} rounds, each timing a batch of ours and a batch of theirs (about",
        f"{BATCH_SECONDS * 1000:.0f} ms each, alternating who goes first); µs are the medians per call, the",
        "ratio is the median of the rounds' ratios, theirs/ours: above 1.0 we are faster.",
        "",
        "| message | direction | ours µs | wechatpy µs | wechatpy/ours |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for size, direction, mine, other, ratio in rows:
        lines.append(f"| {_size(size)} | {direction} | {mine:.1f} | {other:.1f} | {ratio:.2f} |")
    below = [f"{_size(size)} {direction} ({ratio:.2f})" for size, direction, _, _, ratio in rows if ratio < 1.0]
    lines += [
        "",
        f"Below 1.0 in this run: {', '.join(below) or 'none'}. Why, as far as it goes:",
        "",
        "- Every call into pycryptodome costs a few µs of Python-side setup (output buffers, cffi",
        "  pointers, checks), where `cryptography`'s Rust bindings cost about 1 µs. Ours makes one call",
        "  per message (two, ECB and strxor, to decrypt more than 3 KiB), and the runtime stays on",
        "  pycryptodome: on messages of 100 B to 4 KiB, a few µs to a few tens of µs whole, that is the gap.",
        "- CBC encryption is sequential: pycryptodome runs it block by block through its one-block",
        "  AES-NI function, OpenSSL through its own CBC loop, so long messages encrypt about 0.8 as fast",
        "  whatever the Python around them does. CBC decryption is not: long ciphertexts go through ECB",
        "  (pipelined) and strxor, and at 64 KiB, where base64 (the same C code on both sides) dominates,",
        "  the two are level.",
        "- We check more: the padding's every byte, base64 strictly, the appid in constant time;",
        "  wechatpy strips what the last byte says and reads base64 leniently.",
        "- With its own prefix, wechatpy draws 16 characters with `random.choice`, which costs more than",
        "  our `os.urandom(16)`: hence `encrypt` above 1.0 on small messages, and `encrypt, same prefix`",
        "  to compare the rest.",
        "",
        "Before the fix (the same benchmark at commit 37b8fc3, one run): encrypt 0.66 to 0.82, encrypt",
        "with the same prefix 0.40 to 0.70, decrypt 0.36 to 0.67: every message made a new cipher",
        "object (`AES.new`, a key schedule and about 10 µs of setup), and every `MessageCrypto` derived",
        "its keys again. Now each EncodingAESKey gets its cipher objects once per process",
        "(`wxcomponent/domain/crypto.py`'s docstring says how), which a test counts.",
    ]
    return "\n".join(lines) + "\n"
