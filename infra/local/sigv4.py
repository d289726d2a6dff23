"""The SigV4 check API Gateway makes on an `AWS_IAM` route, done by the local gateway against make
dev's documented credentials: access key `local`, secret `local`, region `us-east-1`, service
`execute-api` (docs/callers.md). So a request signed wrongly is refused locally as AWS refuses it,
403 with API Gateway's `{"message": …}` body and the kind in `x-amzn-ErrorType`, before it reaches
the function; one signed right reaches it as the local developer (`gateway.LOCAL_IAM`).

What is checked, as AWS documents Signature Version 4: an `Authorization: AWS4-HMAC-SHA256` header
with its Credential, SignedHeaders (with `host`) and Signature; the access key; the credential's
scope (its date the request's, the region, the service, `aws4_request`); `X-Amz-Date` within 5
minutes; and the signature over the canonical request (method, path, query, the signed headers, the
body's SHA-256). Not here: a session token's validity (any `X-Amz-Security-Token` is accepted, as
there is no STS locally), IAM policies, and query-string (presigned) signatures, refused as unsigned.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

LOCAL_ACCESS_KEY = "local"
LOCAL_SECRET_KEY = "local"  # noqa: S105 - make dev's documented dummy, as the access key
LOCAL_REGION = "us-east-1"
SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)  # SigV4's: a signature is good 5 minutes either side of now
AMZ_DATE = "%Y%m%dT%H%M%SZ"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret"
    " Access Key and signing method. Consult the service documentation for details."
)
_PARAMETER = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")


@dataclass(frozen=True)
class Refusal:
    """Why API Gateway would refuse the request: `kind` is its `x-amzn-ErrorType`."""

    kind: str
    message: str


@dataclass(frozen=True)
class Request:
    """What arrived: the path and query as sent (still percent-encoded), every header as sent."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes


def check(request: Request, now: datetime | None = None) -> Refusal | None:
    """None when the request is signed with the local credentials; else the refusal."""
    authorization = _header(request, "authorization")
    if authorization is None:
        return Refusal("ForbiddenException", "Forbidden")  # what an HTTP API answers an unsigned call
    parameters = dict(_PARAMETER.findall(authorization))
    amz_date = _header(request, "x-amz-date")
    missing = [f"Authorization header requires '{name}' parameter." for name in _PARTS if not parameters.get(name)]
    if not authorization.startswith(ALGORITHM + " ") or missing or amz_date is None:
        if amz_date is None:
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if not authorization.startswith(ALGORITHM + " "):
            missing.insert(0, f"Authorization header requires the algorithm {ALGORITHM}.")
        return Refusal("IncompleteSignatureException", " ".join([*missing, f"Authorization={authorization}"]))
    scope = parameters["Credential"].split("/")
    if len(scope) != 5:
        return Refusal("IncompleteSignatureException", f"Credential is malformed: {parameters['Credential']}")
    access_key, day, region, service, terminator = scope
    if access_key != LOCAL_ACCESS_KEY:
        return Refusal("UnrecognizedClientException", "The security token included in the request is invalid.")
    refused = _scope_refusal(amz_date, day, region, service, terminator, now or datetime.now(UTC))
    if refused is not None:
        return refused
    canonical = canonical_request(request, parameters["SignedHeaders"].split(";"))
    to_sign = "\n".join([ALGORITHM, amz_date, "/".join(scope[1:]), hashlib.sha256(canonical.encode()).hexdigest()])
    expected = hmac.new(_key(day), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parameters["Signature"]):
        return Refusal(
            "InvalidSignatureException",
            f"{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{to_sign}'\n",
        )
    return None


_PARTS = ("Credential", "SignedHeaders", "Signature")


def _scope_refusal(
    amz_date: str, day: str, region: str, service: str, terminator: str, now: datetime
) -> Refusal | None:
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        return Refusal("IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.")
    stamp = now.strftime(AMZ_DATE)
    if signed_at < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(AMZ_DATE)
        return Refusal(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 5 min.)",
        )
    if signed_at > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(AMZ_DATE)
        return Refusal(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {latest} ({stamp} + 5 min.)",
        )
    if day != amz_date[:8]:
        return Refusal(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{day}' != "
            f"'{amz_date[:8]}', from '{amz_date}'.",
        )
    if region != LOCAL_REGION:
        return Refusal(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region. make dev's is '{LOCAL_REGION}'.",
        )
    if service != SERVICE:
        return Refusal("InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if terminator != "aws4_request":
        return Refusal(
            "InvalidSignatureException",
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'.",
        )
    return None


def canonical_request(request: Request, signed_headers: list[str]) -> str:
    """SigV4's canonical request: for every service but S3 the path is encoded once more than it
    was sent (each segment encoded twice in all), the query's pairs encoded and sorted."""
    path = quote(request.path or "/", safe="/-_.~")
    pairs = []
    for item in filter(None, request.query.split("&")):
        name, _, value = item.partition("=")
        pairs.append((_encode(unquote(name)), _encode(unquote(value))))
    query = "&".join(f"{name}={value}" for name, value in sorted(pairs))
    lines = []
    for name in signed_headers:
        values = [_trim(value) for header, value in request.headers if header.lower() == name]
        lines.append(f"{name}:{','.join(values)}\n")
    payload = hashlib.sha256(request.body).hexdigest()
    return "\n".join([request.method, path, query, "".join(lines), ";".join(signed_headers), payload])


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _trim(value: str) -> str:
    return " ".join(value.split())


def _header(request: Request, name: str) -> str | None:
    return next((value for header, value in request.headers if header.lower() == name), None)


def _key(day: str) -> bytes:
    key = ("AWS4" + LOCAL_SECRET_KEY).encode()
    for part in (day, LOCAL_REGION, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
