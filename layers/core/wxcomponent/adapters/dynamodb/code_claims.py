"""`CodeClaims`: `AUTHCODE#<sha256 of the code>` / `EXCHANGE`, who is exchanging an authorization
code and, once done, for which authorizer; when it was first claimed, and where the code came from
(the hashes of the pre-auth code and of the browser state, when the claimant knew them). The code
itself is never stored."""

from __future__ import annotations

from typing import Any

from wxcomponent.adapters.dynamodb.table import Table
from wxcomponent.domain.binding import NO_ORIGIN, CodeExchange, CodeOrigin
from wxcomponent.keys import EXCHANGE, code_key
from wxcomponent.ports import ClaimLost

CODE_CLAIM_LIFETIME = 24 * 3600
PENDING = "pending"
DONE = "done"
_STATE = {"#state": "state", "#ttl": "ttl"}


class CodeClaimTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def claim_code(self, code_hash: str, holder: str, now: float, ttl: float, origin: CodeOrigin = NO_ORIGIN) -> bool:
        """Takes the right to exchange a code, unless someone exchanged it or is doing so now. A
        claim past its lifetime counts as gone: DynamoDB's TTL removes items late."""
        item: dict[str, Any] = {
            "pk": {"S": code_key(code_hash)},
            "sk": {"S": EXCHANGE},
            "state": {"S": PENDING},
            "holder": {"S": holder},
            "expires_at": {"N": f"{now + ttl:.3f}"},
            "claimed_at": {"N": f"{now:.3f}"},
            "ttl": {"N": str(int(now) + CODE_CLAIM_LIFETIME)},
        }
        if origin.pre_auth_hash:
            item["pre_auth_hash"] = {"S": origin.pre_auth_hash}
        if origin.state_hash:
            item["state_hash"] = {"S": origin.state_hash}
        # `holder = :holder`: botocore's resend of a claim whose answer was lost is still ours.
        return self._table.put_if(
            item,
            "attribute_not_exists(pk) OR #ttl < :now"
            " OR (#state = :pending AND (expires_at < :now OR holder = :holder))",
            {":pending": {"S": PENDING}, ":now": {"N": f"{now:.3f}"}, ":holder": {"S": holder}},
            _STATE,
        )

    def finish_code(self, code_hash: str, holder: str, authorizer_appid: str) -> None:
        """Only the holder may finish. If our claim expired and another took it, that is a fault
        worth a 500 (the grant is stored either way)."""
        finished = self._table.update_if(
            code_key(code_hash),
            EXCHANGE,
            "SET #state = :done, authorizer_appid = :appid",
            "holder = :holder",
            {":done": {"S": DONE}, ":appid": {"S": authorizer_appid}, ":holder": {"S": holder}},
            {"#state": "state"},
        )
        if not finished:
            raise ClaimLost("the authorization code's claim was taken over before it was finished")

    def abandon_code(self, code_hash: str, holder: str) -> None:
        """Lets another try the code again (our exchange failed before anything was stored)."""
        self._table.delete_if(
            code_key(code_hash),
            EXCHANGE,
            "holder = :holder AND #state = :pending",
            {":holder": {"S": holder}, ":pending": {"S": PENDING}},
            {"#state": "state"},
        )

    def code_exchanged_for(self, code_hash: str, now: float) -> CodeExchange | None:
        """The finished exchange of this code; None while pending, unknown or past its lifetime."""
        item = self._table.get(code_key(code_hash), EXCHANGE)
        if item is None or item["state"]["S"] != DONE or int(item["ttl"]["N"]) < now:
            return None
        origin = CodeOrigin(item.get("pre_auth_hash", {}).get("S", ""), item.get("state_hash", {}).get("S", ""))
        # A claim written before `claimed_at` was kept reads as old: refused, never wrongly believed young.
        claimed_at = float(item.get("claimed_at", {}).get("N", "0"))
        return CodeExchange(item["authorizer_appid"]["S"], claimed_at, origin)
