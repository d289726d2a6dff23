"""What the table holds about the authorizers, read for an operator: one paginated Scan that asks
for the items' public attributes only (never `refresh_token`, `access_token` or `ticket`).

The core has no "list everything" on purpose (the refresher reads only what is due, through its
sparse index, and never scans). An operator's `status` and `authorizers` may: they cost read
capacity in proportion to the table, as any Scan does. The item layout is the core's
(`wxcomponent.adapters.dynamodb`); its keys come from the core's own `keys.py`, which
`wxcomponent_client.keys` is (a link to the file), so a renamed key is renamed here too
(docs/architecture.md, Data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wxcomponent_client.keys import GRANT, PROFILE, REFRESH_FAILURE, authorizer_of

# Item attributes an operator may see; everything secret is left out of the projection itself.
_PUBLIC = (
    "pk",
    "sk",
    "status",
    "authorized_at",
    "updated_at",
    "revoked_at",
    "refresh_due",
    "expires_at",
    "issued_at",
    "nick_name",
    "principal_name",
    "service_type",
    "verify_type",
    "is_mini_program",
    "account_kind",
    "kind",
    "errcode",
    "message",
    "until",
    "token_issued_at",
    "token_expires_at",
    "refusal",
)
_KINDS = (GRANT, PROFILE, REFRESH_FAILURE)  # GRANT: the authorizer's item, its token and refusal in it
_KIND_NAMES = {
    "official_account": "Official Account",
    "mini_program": "Mini Program",
    "channels": "Channels",
    "shop": "Shop",
    "talent": "Talent",
    "supplier": "Supplier",
}


@dataclass
class Authorizer:
    appid: str
    status: str = ""  # "" when the table holds a profile or a token but no grant
    authorized_at: int | None = None
    revoked_at: int | None = None
    refresh_due: int | None = None
    name: str = ""
    principal: str = ""
    mini_program: bool | None = None
    account_kind: str = ""  # channels, shop, ...: what the profile says beyond is_mini_program
    token_expires_at: int | None = None
    token_issued_at: int | None = None

    @property
    def account_type(self) -> str:
        if self.account_kind in _KIND_NAMES:
            return _KIND_NAMES[self.account_kind]
        if self.mini_program is None:
            return ""
        return "Mini Program" if self.mini_program else "Official Account"


@dataclass
class Failure:
    """A refresh WeChat refused, remembered until `until` (`<lease name>` / `REFRESH_FAILURE`)."""

    owner: str  # COMPONENT#… or AUTHORIZER#…
    kind: str
    errcode: int | None
    message: str
    until: float


@dataclass
class Inventory:
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    def by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for authorizer in self.authorizers.values():
            if authorizer.status:
                counts[authorizer.status] = counts.get(authorizer.status, 0) + 1
        return dict(sorted(counts.items()))

    def authorized(self) -> list[str]:
        return sorted(a.appid for a in self.authorizers.values() if a.status == "authorized")


def read_inventory(dynamodb: Any, table_name: str) -> Inventory:
    names = {f"#a{i}": attribute for i, attribute in enumerate(_PUBLIC)}
    values = {f":k{i}": {"S": kind} for i, kind in enumerate(_KINDS)}
    sk = next(alias for alias, attribute in names.items() if attribute == "sk")
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "ProjectionExpression": ", ".join(names),
        "FilterExpression": f"{sk} IN ({', '.join(values)})",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    inventory = Inventory()
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page.get("Items", []):
            _add(inventory, item)
        if "LastEvaluatedKey" not in page:
            return inventory
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _add(inventory: Inventory, item: dict[str, Any]) -> None:
    pk, sk = item["pk"]["S"], item["sk"]["S"]
    if sk == REFRESH_FAILURE:
        inventory.failures.append(
            Failure(pk, _s(item, "kind"), _n(item, "errcode"), _s(item, "message"), float(item["until"]["N"]))
        )
        return
    appid = authorizer_of(pk)
    if appid is None:
        return
    authorizer = inventory.authorizers.setdefault(appid, Authorizer(appid))
    if sk == GRANT:
        authorizer.status = _s(item, "status")
        authorizer.authorized_at = _n(item, "authorized_at")
        authorizer.revoked_at = _n(item, "revoked_at")
        authorizer.refresh_due = _n(item, "refresh_due")
        authorizer.token_expires_at = _n(item, "token_expires_at")
        authorizer.token_issued_at = _n(item, "token_issued_at")
        refusal = item.get("refusal", {}).get("M")
        if refusal:
            inventory.failures.append(
                Failure(
                    pk,
                    _s(refusal, "kind"),
                    _n(refusal, "errcode"),
                    _s(refusal, "message"),
                    float(refusal["until"]["N"]),
                )
            )
    elif sk == PROFILE:
        authorizer.name = _s(item, "nick_name")
        authorizer.principal = _s(item, "principal_name")
        authorizer.mini_program = item.get("is_mini_program", {}).get("BOOL")
        authorizer.account_kind = _s(item, "account_kind")


def _s(item: dict[str, Any], name: str) -> str:
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else ""


def _n(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return int(float(value)) if isinstance(value, str) else None
