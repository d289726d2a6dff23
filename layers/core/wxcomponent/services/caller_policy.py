"""Which IAM principals may fetch which tokens over `POST /tokens` (optional).

The policy maps a caller's IAM ARN to the authorizer appids it may fetch:

    {"arn:aws:iam::123456789012:role/orders": ["wx0123456789abcdef", "component"],
     "arn:aws:iam::123456789012:role/admin": "*"}

`"component"` in a list allows the component token; `"*"` (alone or in a list) allows everything.
It is read from the environment variable `CALLER_POLICY` (JSON) when set, else from the key
`caller_policy` of the component secret (a JSON object, or a string holding one), read through
`Settings.secret()` and so cached with the secret for 5 minutes. No policy anywhere:
every caller IAM lets through may fetch every token. A policy that is there but malformed, or a
secret that cannot be read, is a `ConfigurationError` (every request fails, closed).

A caller the policy does not allow gets `NotAuthorized`, the same answer as an unknown authorizer,
so it learns nothing about which accounts exist. The policy applies to the HTTP route only: a direct
Lambda Invoke is gated by IAM's `lambda:InvokeFunction` permission, and carries no caller identity.

Matching: the caller's `userArn` exactly, and for an STS assumed-role session
`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` also the role `arn:aws:iam::ACCT:role/ROLE` (an entry
for a role with a path, `role/some/path/ROLE`, matches too: session ARNs drop the path).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from wxcomponent.domain.errors import ConfigurationError, NotAuthorized
from wxcomponent.domain.grants import APPID_RE
from wxcomponent.observability import logger
from wxcomponent.services.vending import COMPONENT, VendRequest

ENV_NAME = "CALLER_POLICY"
SECRET_KEY = "caller_policy"  # noqa: S105 - the name of a key in the secret, not a secret
EVERYTHING = "*"
SecretReader = Callable[[], Mapping[str, object]]
_ROLE_ARN = re.compile(r"arn:(?P<partition>aws[\w-]*):iam::(?P<account>\d{12}):role/(?:[^/]+/)*(?P<role>[^/]+)")
_SESSION_ARN = re.compile(r"arn:(?P<partition>aws[\w-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/[^/]+")
_PRINCIPAL_ARN = re.compile(r"arn:aws[\w-]*:(?:iam|sts)::\d{12}:\S+")


@dataclass(frozen=True)
class CallerPolicy:
    """`rules` maps an ARN to what it may fetch: `None` for everything, else appids and/or
    `"component"`. `configured` is False for the allow-all policy used when none is set."""

    rules: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    configured: bool = True

    @classmethod
    def allow_all(cls) -> CallerPolicy:
        return cls({}, configured=False)

    @classmethod
    def parse(cls, raw: object) -> CallerPolicy:
        """A policy from its JSON value (or JSON text); malformed is `ConfigurationError`."""
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise ConfigurationError("the caller policy is not JSON") from exc
        if not isinstance(raw, Mapping):
            raise ConfigurationError("the caller policy must be a JSON object of ARN to appids")
        rules: dict[str, frozenset[str] | None] = {}
        for principal, allowed in raw.items():
            if not isinstance(principal, str) or not _PRINCIPAL_ARN.fullmatch(principal):
                raise ConfigurationError("every caller policy key must be an IAM or STS ARN")
            key = _role_key(principal) or principal
            rules[key] = _union(rules[key], _allowed(allowed)) if key in rules else _allowed(allowed)
        return cls(rules)

    def allows(self, caller: str | None, kind: str, appid: str = "") -> bool:
        if not self.configured:
            return True
        if not caller:
            return False
        for principal in _candidates(caller):
            if principal not in self.rules:
                continue
            allowed = self.rules[principal]
            if allowed is None or (COMPONENT if kind == COMPONENT else appid) in allowed:
                return True
        return False

    def check(self, caller: str | None, request: VendRequest) -> None:
        """Raises `NotAuthorized` unless `caller` may have what `request` asks for."""
        if not self.allows(caller, request.kind, request.appid):
            logger.warning(
                "caller not allowed by the caller policy",
                extra={"caller": caller, "kind": request.kind, "appid": request.appid or None},
            )
            raise NotAuthorized("the caller policy does not allow this caller this token")


def check(caller: str | None, request: VendRequest, configured: str, secret: SecretReader) -> None:
    """The configured policy's `check`, read afresh (the setting, or the cached secret)."""
    configured_policy(configured, secret).check(caller, request)


def configured_policy(configured: str, secret: SecretReader) -> CallerPolicy:
    """From the `CALLER_POLICY` setting, else the component secret's `caller_policy`, else
    allow-all. An unreadable secret is a ConfigurationError."""
    if configured.strip():
        return CallerPolicy.parse(configured)
    from_secret = secret().get(SECRET_KEY)
    return CallerPolicy.allow_all() if from_secret is None else CallerPolicy.parse(from_secret)


def _allowed(value: object) -> frozenset[str] | None:
    if value == EVERYTHING:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError('each caller policy entry must be "*" or a list of appids and "component"')
    if EVERYTHING in value:
        return None
    for item in value:
        if item != COMPONENT and not APPID_RE.fullmatch(item):
            raise ConfigurationError(f'caller policy entries hold appids (wx + 16 hex), "component" or "*": {item!r}')
    return frozenset(value)


def _candidates(caller: str) -> list[str]:
    """The keys a caller may be listed under: itself, and for an assumed-role session its role."""
    keys = [caller]
    session = _SESSION_ARN.fullmatch(caller)
    if session is not None:
        keys.append(f"arn:{session['partition']}:iam::{session['account']}:role/{session['role']}")
    return keys


def _role_key(principal: str) -> str | None:
    """A role ARN with a path, keyed as its sessions name it (`role/ROLE`); None for other ARNs."""
    role = _ROLE_ARN.fullmatch(principal)
    if role is None:
        return None
    return f"arn:{role['partition']}:iam::{role['account']}:role/{role['role']}"


def _union(first: frozenset[str] | None, second: frozenset[str] | None) -> frozenset[str] | None:
    return None if first is None or second is None else first | second
