"""Which IAM principals may fetch what over `POST /tokens` (optional; docs/token-vending.md, "The
caller policy").

The policy maps a caller's IAM ARN to what it may fetch:

    {"arn:aws:iam::123456789012:role/orders": ["wx0123456789abcdef", "component"],
     "arn:aws:iam::123456789012:role/h5-pages": ["wx0123456789abcdef:jsapi_ticket", "wx0123456789abcdef:web_login"],
     "arn:aws:iam::123456789012:role/admin": "*"}

An entry is `"*"` or a list of:
- an appid: every kind for that authorizer (`authorizer`, `jsapi_ticket`, `card_ticket`, `web_login`);
- `appid:kind`, or `*:kind` for every authorizer: that kind only (a page server that signs
  `wx.config` gets the jsapi ticket, not the account's access token);
- `"*"`: every kind for every authorizer;
- `"component"`: the component token. Only this names it: the component token lists every
  merchant's refresh token and mints any authorizer's token, so it equals every merchant, and
  `"*"` does not include it (H1).

It is read from the environment variable `CALLER_POLICY` (JSON) when set, else from the key
`caller_policy` of the component secret (a JSON object, or a string holding one), read through
`Settings.secret()` and so cached with the secret for 5 minutes. No policy anywhere:
every caller IAM lets through may fetch everything. A policy that is there but malformed, or a
secret that cannot be read, is a `CallerPolicyError`: every request fails, closed, with the
contract's `internal` (HTTP 500).

A caller the policy does not allow gets `NotAuthorized`, the same answer as an unknown authorizer,
so it learns nothing about which accounts exist. The policy applies to the HTTP route only: a direct
Lambda Invoke is gated by IAM's `lambda:InvokeFunction` permission, carries no caller identity, and
gets everything, the component token included.

Matching: the caller's `userArn` exactly, and for an STS assumed-role session
`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` also the role `arn:aws:iam::ACCT:role/ROLE` (an entry
for a role with a path, `role/some/path/ROLE`, matches too: session ARNs drop the path).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from wxcomponent.domain.errors import ConfigurationError, NotAuthorized, WxComponentError
from wxcomponent.domain.grants import APPID_RE
from wxcomponent.observability import logger
from wxcomponent.services.vending import COMPONENT, VendRequest, authorizer_kinds

ENV_NAME = "CALLER_POLICY"
SECRET_KEY = "caller_policy"  # noqa: S105 - the name of a key in the secret, not a secret
EVERYTHING = "*"
SecretReader = Callable[[], Mapping[str, object]]
_ROLE_ARN = re.compile(r"arn:(?P<partition>aws[\w-]*):iam::(?P<account>\d{12}):role/(?:[^/]+/)*(?P<role>[^/]+)")
_SESSION_ARN = re.compile(r"arn:(?P<partition>aws[\w-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/[^/]+")
_PRINCIPAL_ARN = re.compile(r"arn:aws[\w-]*:(?:iam|sts)::\d{12}:\S+")
_ENTRY_HELP = '"*" or a list of "component", appids, "appid:kind" and "*:kind"'


class CallerPolicyError(WxComponentError):
    """The caller policy is malformed or cannot be read: every HTTP vend fails, closed. The
    contract's `internal` (HTTP 500), never 503, which the contract keeps for `ticket_missing`."""


@dataclass(frozen=True)
class Allowance:
    """What one principal may fetch: the component token or not, and (appid, kind) pairs, either of
    which may be `"*"`."""

    component: bool = False
    grants: frozenset[tuple[str, str]] = frozenset()

    def allows(self, kind: str, appid: str) -> bool:
        if kind == COMPONENT:
            return self.component
        return bool({(appid, kind), (appid, EVERYTHING), (EVERYTHING, kind), (EVERYTHING, EVERYTHING)} & self.grants)

    def __or__(self, other: Allowance) -> Allowance:
        return Allowance(self.component or other.component, self.grants | other.grants)


@dataclass(frozen=True)
class CallerPolicy:
    """`rules` maps an ARN to its `Allowance`. `configured` is False for the allow-all policy used
    when none is set (which allows the component token too)."""

    rules: Mapping[str, Allowance] = field(default_factory=dict)
    configured: bool = True

    @classmethod
    def allow_all(cls) -> CallerPolicy:
        return cls({}, configured=False)

    @classmethod
    def parse(cls, raw: object) -> CallerPolicy:
        """A policy from its JSON value (or JSON text); malformed is `CallerPolicyError`."""
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                raise CallerPolicyError("the caller policy is not JSON") from exc
        if not isinstance(raw, Mapping):
            raise CallerPolicyError("the caller policy must be a JSON object of ARN to what it may fetch")
        rules: dict[str, Allowance] = {}
        for principal, entry in raw.items():
            if not isinstance(principal, str) or not _PRINCIPAL_ARN.fullmatch(principal):
                raise CallerPolicyError("every caller policy key must be an IAM or STS ARN")
            key = _role_key(principal) or principal
            rules[key] = rules.get(key, Allowance()) | _allowance(entry)
        return cls(rules)

    def allows(self, caller: str | None, kind: str, appid: str = "") -> bool:
        if not self.configured:
            return True
        if not caller:
            return False
        return any(self.rules[key].allows(kind, appid) for key in _candidates(caller) if key in self.rules)

    def check(self, caller: str | None, request: VendRequest) -> None:
        """Raises `NotAuthorized` unless `caller` may have what `request` asks for."""
        if not self.allows(caller, request.kind, request.appid):
            logger.warning(
                "caller not allowed by the caller policy",
                extra={"caller": caller, "kind": request.kind, "appid": request.appid or None},
            )
            raise NotAuthorized("the caller policy does not allow this caller this kind for this appid")


def check(caller: str | None, request: VendRequest, configured: str, secret: SecretReader) -> None:
    """The configured policy's `check`, read afresh (the setting, or the cached secret)."""
    configured_policy(configured, secret).check(caller, request)


def configured_policy(configured: str, secret: SecretReader) -> CallerPolicy:
    """From the `CALLER_POLICY` setting, else the component secret's `caller_policy`, else
    allow-all. An unreadable secret is a `CallerPolicyError` (closed, 500), as a malformed policy is."""
    if configured.strip():
        return CallerPolicy.parse(configured)
    try:
        from_secret = secret().get(SECRET_KEY)
    except ConfigurationError as exc:
        raise CallerPolicyError(f"the caller policy could not be read: {exc.message}") from exc
    return CallerPolicy.allow_all() if from_secret is None else CallerPolicy.parse(from_secret)


def _allowance(entry: object) -> Allowance:
    if entry == EVERYTHING:
        return Allowance(grants=frozenset({(EVERYTHING, EVERYTHING)}))
    if not isinstance(entry, list) or not all(isinstance(item, str) for item in entry):
        raise CallerPolicyError(f"each caller policy entry must be {_ENTRY_HELP}")
    return Allowance(COMPONENT in entry, frozenset(_grant(item) for item in entry if item != COMPONENT))


def _grant(item: str) -> tuple[str, str]:
    """("appid" or "*", "kind" or "*") from `appid`, `*`, `appid:kind` or `*:kind`."""
    if ":" in item:
        appid, kind = item.split(":", 1)
        known_kind = kind in authorizer_kinds()
    else:
        appid, kind, known_kind = item, EVERYTHING, True
    if known_kind and (appid == EVERYTHING or APPID_RE.fullmatch(appid)):
        return appid, kind
    kinds = ", ".join(authorizer_kinds())
    raise CallerPolicyError(f"caller policy entries hold {_ENTRY_HELP}, where kind is one of {kinds}: {item!r}")


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
