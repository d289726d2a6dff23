"""`ProfileStore`: `AUTHORIZER#<appid>` / `PROFILE`, the account's public face."""

from __future__ import annotations

import json

from wxcomponent.adapters.dynamodb.table import Table, storage_errors
from wxcomponent.domain.grants import Profile
from wxcomponent.keys import PROFILE, authorizer_key


class ProfileTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def save_profile(self, profile: Profile) -> None:
        with storage_errors():
            self._table.client.put_item(
                TableName=self._table.name,
                Item={
                    "pk": {"S": authorizer_key(profile.authorizer_appid)},
                    "sk": {"S": PROFILE},
                    "nick_name": {"S": profile.nick_name},
                    "head_img": {"S": profile.head_img},
                    "user_name": {"S": profile.user_name},
                    "alias": {"S": profile.alias},
                    "principal_name": {"S": profile.principal_name},
                    **_number("service_type", profile.service_type),
                    **_number("verify_type", profile.verify_type),
                    "qrcode_url": {"S": profile.qrcode_url},
                    "is_mini_program": {"BOOL": profile.is_mini_program},
                    "account_kind": {"S": profile.account_kind},
                    "updated_at": {"N": str(profile.updated_at)},
                    "extra": {"S": json.dumps(profile.extra, ensure_ascii=False)},
                },
            )

    def get_profile(self, authorizer_appid: str) -> Profile | None:
        item = self._table.get(authorizer_key(authorizer_appid), PROFILE)
        if item is None:
            return None
        return Profile(
            authorizer_appid=authorizer_appid,
            nick_name=item["nick_name"]["S"],
            head_img=item["head_img"]["S"],
            user_name=item["user_name"]["S"],
            alias=item["alias"]["S"],
            principal_name=item["principal_name"]["S"],
            service_type=int(item["service_type"]["N"]) if "service_type" in item else None,
            verify_type=int(item["verify_type"]["N"]) if "verify_type" in item else None,
            qrcode_url=item["qrcode_url"]["S"],
            is_mini_program=item["is_mini_program"]["BOOL"],
            updated_at=int(item["updated_at"]["N"]),
            extra=json.loads(item["extra"]["S"]),
            account_kind=item.get("account_kind", {}).get("S", ""),
        )


def _number(name: str, value: int | None) -> dict[str, dict[str, str]]:
    """The attribute, or none at all when WeChat gave no value (Channels and shop accounts)."""
    return {} if value is None else {name: {"N": str(value)}}
