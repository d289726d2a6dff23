"""The local gateway checks `POST /tokens`'s SigV4 signature as API Gateway checks a deployed stack's
(`AWS_IAM` auth), against make dev's documented credentials: access key `local`, secret `local`,
region `us-east-1`, service `execute-api`. A request signed right reaches the function as the local
developer; an unsigned or wrongly signed one is refused with 403 and API Gateway's body shape
(`{"message": …}`, the kind in `x-amzn-ErrorType`), and never reaches it.

Signers: botocore's (the Python SDKs'), and curl's own `--aws-sigv4`; the Node.js SDK's signs in
tests/integration/test_callers.py. None of them is the gateway's verifier."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.auth
import pytest
import urllib3

from tests.support.pushes import APPID
from tests.support.sigv4 import signed_headers

if TYPE_CHECKING:
    from tests.conftest import World

COMPONENT = {"kind": "component"}
MISMATCH = "The request signature we calculated does not match the signature you provided."


def tokens_url(world: World) -> str:
    return f"{world.gateway.url}/tokens"


def send(world: World, body: bytes, headers: dict[str, str]) -> tuple[int, str | None, dict[str, Any]]:
    answer = world.http.request("POST", tokens_url(world), body=body, headers=headers)
    return answer.status, answer.headers.get("x-amzn-ErrorType"), json.loads(answer.data)


def signed(world: World, body: bytes = b'{"kind":"component"}', /, **options: str) -> dict[str, str]:
    return signed_headers("POST", tokens_url(world), body, {"Content-Type": "application/json"}, **options)


def test_an_unsigned_request_is_forbidden_before_the_function(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.push_ticket()
    body = json.dumps(COMPONENT).encode()
    caplog.clear()
    status, kind, answer = send(world, body, {"Content-Type": "application/json"})
    assert (status, kind, answer) == (403, "ForbiddenException", {"message": "Forbidden"})
    assert [r for r in caplog.records if r.getMessage() == "vend"] == []  # the function never ran: nothing audited
    # Signed with make dev's credentials, it is vended: the guard of the above.
    status, _, vended = send(world, body, signed(world, body))
    assert (status, vended["appid"]) == (200, APPID)
    assert [r.getMessage() for r in caplog.records].count("vend") == 1


WRONGLY_SIGNED = [
    ("another secret", {"secret_key": "not-local"}, "InvalidSignatureException", MISMATCH),
    (
        "an unknown access key",
        {"access_key": "AKIAIOSFODNN7EXAMPLE"},
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    ),
    (
        "another region",
        {"region": "eu-west-1"},
        "InvalidSignatureException",
        "Credential should be scoped to a valid region.",
    ),
    (
        "another service",
        {"service": "lambda"},
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'execute-api'.",
    ),
]
MALFORMED = ["Bearer abc", "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/execute-api/aws4_request"]


def test_a_request_signed_wrongly_is_refused_as_aws_refuses_it(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    body = b'{"kind":"component"}'
    for case, options, expected_kind, expected_message in WRONGLY_SIGNED:
        status, kind, answer = send(world, body, signed(world, body, **options))
        assert (status, kind) == (403, expected_kind), (case, answer)
        assert set(answer) == {"message"} and answer["message"].startswith(expected_message), (case, answer)
    # A body changed after signing; and what a developer needs to find such a mistake: the canonical
    # request the gateway computed.
    status, kind, answer = send(world, b'{"kind":"authorizer","appid":"wx570bc396a51b8ff8"}', signed(world, body))
    assert (status, kind) == (403, "InvalidSignatureException") and answer["message"].startswith(MISMATCH)
    assert "The Canonical String for this request should have been" in answer["message"]
    # A signature older than five minutes.
    with monkeypatch.context() as patch:
        patch.setattr(botocore.auth, "get_current_datetime", lambda: datetime(2026, 1, 1))  # botocore's clock
        old = signed(world, body)
    status, kind, answer = send(world, body, old)
    assert (status, kind) == (403, "InvalidSignatureException")
    assert answer["message"].startswith("Signature expired: 20260101T000000Z is now earlier than ")
    # An Authorization header that is not SigV4's, or lacks its parts.
    for authorization in MALFORMED:
        status, kind, answer = send(world, b"{}", {"Authorization": authorization})
        assert (status, kind) == (403, "IncompleteSignatureException"), answer
        assert "Authorization header requires" in answer["message"]


def test_routes_without_iam_auth_and_the_invoke_api_need_no_signature(world: World) -> None:
    world.push_ticket()
    page = world.http.request("GET", f"{world.gateway.url}/wechat/authorize", headers={"User-Agent": "Mozilla/5.0"})
    assert page.status == 200
    invoked = world.http.request(
        "POST", f"{world.gateway.url}/2015-03-31/functions/token_vending/invocations", body=b'{"kind":"component"}'
    )
    assert invoked.status == 200 and json.loads(invoked.data)["appid"] == APPID


CURL = shutil.which("curl")


def curl(world: World, secret: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """curl's own SigV4 (7.75 and later), as docs/callers.md shows it."""
    assert CURL is not None, "curl is not installed"
    command = [CURL, "-sS", "--fail-with-body", "--aws-sigv4", "aws:amz:us-east-1:execute-api", "--user"]
    command += [f"local:{secret}", "-H", "Content-Type: application/json", "-d", '{"kind":"component"}']
    return subprocess.run(
        [*command, tokens_url(world)], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )


def test_curls_own_signature_is_checked_too(world: World, tmp_path: Path) -> None:
    world.push_ticket()
    done = curl(world, "local", tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["appid"] == APPID, done.stderr
    refused = curl(world, "wrong", tmp_path)
    assert refused.returncode == 22  # --fail-with-body: an HTTP error is a failed command
    assert json.loads(refused.stdout)["message"].startswith(MISMATCH)


def test_a_signature_is_checked_on_what_arrives_over_the_wire(world: World) -> None:
    """A signed query string and headers of several values, canonicalised as SigV4 says."""
    world.push_ticket()
    url = f"{tokens_url(world)}?b=2&a=x%20y&a=1"
    headers = {"Content-Type": "application/json", "X-Custom": "  one   two  "}
    body = b'{"kind":"component"}'
    headers = signed_headers("POST", url, body, headers)
    answer = urllib3.PoolManager().request("POST", url, body=body, headers=headers)
    assert answer.status == 200, answer.data
