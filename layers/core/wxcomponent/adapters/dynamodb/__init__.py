"""The single table, cut by aggregate: one small store per aggregate (the authorizer's item is
one: `authorizers.py`), all sharing one `Table` (its name and one boto3 client). Each store keeps
its items' shape beside the code that reads and writes them; every key is built by `keys`.
Layout: docs/architecture.md, Data."""

from __future__ import annotations

from dataclasses import dataclass

from wxcomponent.adapters.dynamodb.authorization_states import AuthorizationStateTable
from wxcomponent.adapters.dynamodb.authorizers import AuthorizerTable
from wxcomponent.adapters.dynamodb.code_claims import CodeClaimTable
from wxcomponent.adapters.dynamodb.failures import RefreshFailureTable
from wxcomponent.adapters.dynamodb.js_tickets import JsTicketTable
from wxcomponent.adapters.dynamodb.leases import LeaseTable
from wxcomponent.adapters.dynamodb.profiles import ProfileTable
from wxcomponent.adapters.dynamodb.receipts import MessageReceiptTable
from wxcomponent.adapters.dynamodb.table import Table
from wxcomponent.adapters.dynamodb.tokens import TokenTable
from wxcomponent.adapters.dynamodb.verify_tickets import VerifyTicketTable

__all__ = [
    "AuthorizationStateTable",
    "AuthorizerTable",
    "CodeClaimTable",
    "JsTicketTable",
    "LeaseTable",
    "MessageReceiptTable",
    "ProfileTable",
    "RefreshFailureTable",
    "Table",
    "Tables",
    "TokenTable",
    "VerifyTicketTable",
]


@dataclass(frozen=True)
class Tables:
    """Every store of the table, over one shared client."""

    verify_tickets: VerifyTicketTable
    tokens: TokenTable
    profiles: ProfileTable
    code_claims: CodeClaimTable
    authorization_states: AuthorizationStateTable
    leases: LeaseTable
    receipts: MessageReceiptTable
    failures: RefreshFailureTable
    authorizers: AuthorizerTable
    js_tickets: JsTicketTable

    @classmethod
    def on(cls, table: Table) -> Tables:
        return cls(
            VerifyTicketTable(table),
            TokenTable(table),
            ProfileTable(table),
            CodeClaimTable(table),
            AuthorizationStateTable(table),
            LeaseTable(table),
            MessageReceiptTable(table),
            RefreshFailureTable(table),
            AuthorizerTable(table),
            JsTicketTable(table),
        )
