"""Coverage-guided fuzzing (atheris, i.e. libFuzzer) of the path every push takes: the envelope's
XML, the `<Encrypt>` text's base64, AES and padding, the inner length and appid, the inner XML,
and the component-push and account-message parsers.

The fuzzer cannot forge SHA-1 or AES, so the harness signs whatever it makes and, in two of its
four modes, encrypts what it makes with the component's key: the fuzzer then steers the bytes the
decrypter and the parsers actually see. Any exception but a `BadRequest` is a finding (libFuzzer
stops and writes the input to its artifact prefix).

    python -m tests.fuzz.push_path -runs=50000 -seed=1 [corpus dirs]   (see tests/unit/test_coverage_guided_fuzz.py)
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports(include=["wxcomponent", "defusedxml"]):
    from wxcomponent.domain.crypto import sha1_signature
    from wxcomponent.domain.errors import BadRequest
    from wxcomponent.domain.messages import AccountMessage
    from wxcomponent.domain.push import parse_component_push
    from wxcomponent.domain.signed import SignedPush, open_signed
    from wxcomponent.domain.xmlparse import parse_flat_xml

# After the instrumented imports: these only build inputs, and need no instrumentation.
from tests.fuzz.push_inputs import (
    CRYPTO,
    ENVELOPE,
    NONCE,
    NOW,
    PLAINTEXT,
    RAW_ENCRYPT,
    TIMESTAMP,
    envelope,
    padded,
    sealed,
)
from tests.support.pushes import APPID, TOKEN


def one_input(data: bytes) -> None:
    mode, rest = (data[0] % 4, data[1:]) if data else (ENVELOPE, b"")
    if mode == ENVELOPE:  # the whole body, signed over whatever Encrypt it holds
        body = rest
        try:
            encrypt = parse_flat_xml(body).get("Encrypt", "")
        except BadRequest:
            encrypt = ""
    elif mode == RAW_ENCRYPT:  # the Encrypt text itself
        encrypt = rest.decode("latin-1")
        body = envelope(encrypt)
    elif mode == PLAINTEXT:  # the inner document, properly encrypted, for ours or another appid
        flag = rest[0] if rest else 0
        appid_length = 0 if flag % 2 == 0 else flag % 25
        appid = APPID.encode() if flag % 2 == 0 else rest[1 : 1 + appid_length]
        encrypt = sealed(padded(rest[1 + appid_length :], appid, b"0123456789abcdef"))
        body = envelope(encrypt)
    else:  # the decrypted layout itself: prefix, length field, message, appid, padding
        encrypt = sealed(rest)
        body = envelope(encrypt)
    push = SignedPush(
        body=body,
        signature=sha1_signature(TOKEN, TIMESTAMP, NONCE),
        timestamp=TIMESTAMP,
        nonce=NONCE,
        msg_signature=sha1_signature(TOKEN, TIMESTAMP, NONCE, encrypt),
    )
    try:
        message = open_signed(push, CRYPTO, NOW).message
    except BadRequest:
        return
    for parse in (lambda: parse_component_push(parse_flat_xml(message)), lambda: AccountMessage.parse(message)):
        with contextlib.suppress(BadRequest):
            parse()


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
