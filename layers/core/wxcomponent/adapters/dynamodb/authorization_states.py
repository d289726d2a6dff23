"""`AuthorizationStates`: `AUTHSTATE#<sha256 of the state>` / `STATE`, a state the start page
issued: the hash of the pre-auth code it was issued with, until when it is good (`expires_at`, and
`ttl` for DynamoDB to remove it), and once a callback used it, the hash of that callback's code
(`used_for`). Neither the state nor either code is stored."""

from __future__ import annotations

import math

from wxcomponent.adapters.dynamodb.table import Table
from wxcomponent.keys import STATE, state_key
from wxcomponent.ports import StateUse


class AuthorizationStateTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def save_state(self, state_hash: str, pre_auth_hash: str, expires_at: float) -> None:
        item = {
            "pk": {"S": state_key(state_hash)},
            "sk": {"S": STATE},
            "pre_auth_hash": {"S": pre_auth_hash},
            "expires_at": {"N": f"{expires_at:.3f}"},
            "ttl": {"N": str(math.ceil(expires_at))},
        }
        # 192 random bits never repeat; the condition only keeps a bug from reviving a used state.
        self._table.put_if(item, "attribute_not_exists(pk)")

    def consume_state(self, state_hash: str, code_hash: str, now: float) -> StateUse | None:
        """A read, then one conditional write that only the first callback wins (the table's
        write id lets botocore's resend of our own winning write still win)."""
        pk = state_key(state_hash)
        item = self._table.get(pk, STATE)
        if item is None or float(item["expires_at"]["N"]) <= now:
            return None
        pre_auth_hash: str = item["pre_auth_hash"]["S"]
        if "used_for" not in item and self._table.update_if(
            pk,
            STATE,
            "SET used_for = :code",
            "attribute_not_exists(used_for) AND expires_at > :now",
            {":code": {"S": code_hash}, ":now": {"N": f"{now:.3f}"}},
        ):
            return StateUse(pre_auth_hash, first=True)
        used = self._table.get(pk, STATE) if "used_for" not in item else item  # another callback won
        if used is not None and used.get("used_for", {}).get("S") == code_hash:
            return StateUse(pre_auth_hash, first=False)
        return None
