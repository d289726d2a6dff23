"""Typed pushes to the authorization-event URL (docs/protocol.md §2)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wxcomponent.domain.errors import MalformedMessage

_INTEGER_RE = re.compile(r"[0-9]{1,12}")  # exact: isdigit is true for '²', which int() refuses

COMPONENT_VERIFY_TICKET = "component_verify_ticket"
AUTHORIZED = "authorized"
UPDATE_AUTHORIZED = "updateauthorized"
UNAUTHORIZED = "unauthorized"


@dataclass(frozen=True)
class ComponentPush:
    """Fields every push carries."""

    appid: str
    create_time: int
    info_type: str


@dataclass(frozen=True)
class VerifyTicketPush(ComponentPush):
    ticket: str


@dataclass(frozen=True)
class AuthorizationPush(ComponentPush):
    """`authorized`, `updateauthorized` (with a code) and `unauthorized` (without)."""

    authorizer_appid: str
    authorization_code: str = ""
    authorization_code_expired_time: int = 0
    pre_auth_code: str = ""


@dataclass(frozen=True)
class OtherPush(ComponentPush):
    """An InfoType we do not act on (yet); it is recorded and answered `success`."""

    authorizer_appid: str = ""


def parse_component_push(fields: dict[str, str]) -> ComponentPush:
    """Builds the typed push from the decrypted document's fields."""
    info_type = _required(fields, "InfoType")
    appid = _required(fields, "AppId")
    create_time = _integer(fields, "CreateTime")
    if info_type == COMPONENT_VERIFY_TICKET:
        return VerifyTicketPush(appid, create_time, info_type, _required(fields, "ComponentVerifyTicket"))
    if info_type in (AUTHORIZED, UPDATE_AUTHORIZED):
        return AuthorizationPush(
            appid,
            create_time,
            info_type,
            _required(fields, "AuthorizerAppid"),
            _required(fields, "AuthorizationCode"),
            _integer(fields, "AuthorizationCodeExpiredTime", default=0),
            fields.get("PreAuthCode", ""),
        )
    if info_type == UNAUTHORIZED:
        return AuthorizationPush(appid, create_time, info_type, _required(fields, "AuthorizerAppid"))
    return OtherPush(appid, create_time, info_type, fields.get("AuthorizerAppid", ""))


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise MalformedMessage(f"push has no {name}")
    return value


def _integer(fields: dict[str, str], name: str, *, default: int | None = None) -> int:
    raw = fields.get(name, "")
    if not raw and default is not None:
        return default
    if not _INTEGER_RE.fullmatch(raw):
        raise MalformedMessage(f"push has no valid {name}")
    return int(raw)
