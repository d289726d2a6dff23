"""What the request and sweep benchmarks run on: the DynamoDB emulator (moto, one request at a time,
as in `make dev`) behind a counting proxy, and the WeChat sandbox with as many authorized accounts
as asked, seeded in process (an HTTP round trip per account would measure the seeding)."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# Before anything of ours is imported: Powertools reads these when Logger and Metrics are made.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "wxcomponent")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "WxComponent")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

import boto3

from infra.local.bootstrap import create_table
from infra.local.devconfig import DEFAULTS
from infra.local.emulator import start_emulator
from infra.sandbox import Sandbox, SandboxConfig
from infra.sandbox.config import OFFICIAL_ACCOUNT, MerchantAccount
from tests.support.fault_proxy import FaultProxy
from wxcomponent import bootstrap, settings
from wxcomponent.bootstrap import Container
from wxcomponent.domain.verify_tickets import VerifyTicket
from wxcomponent.keys import GRANT, authorizer_key, refresh_shard
from wxcomponent.settings import Settings


@dataclass
class Bench:
    sandbox: Sandbox
    proxy: FaultProxy
    table: str
    emulator_url: str

    def container(self) -> Container:
        bootstrap.forget()
        settings.reset_caches()
        return Container(Settings.from_environment())

    def wechat_calls(self) -> Counter[str]:
        return Counter(self.sandbox.world.journal.call_log(api="-")["counters"])

    def counted(self) -> tuple[Counter[str], Counter[str]]:
        """(DynamoDB requests by operation, WeChat calls by API) so far."""
        return Counter(self.proxy.operations), self.wechat_calls()

    def reset_counts(self) -> None:
        self.proxy.operations.clear()


def accounts(count: int) -> list[MerchantAccount]:
    return [
        MerchantAccount(
            appid=f"wx{index:016x}",
            user_name=f"gh_{index:012x}",
            nick_name=f"Bench account {index}",
            kind=OFFICIAL_ACCOUNT,
            principal_name="Bench Ltd.",
        )
        for index in range(1, count + 1)
    ]


@contextmanager
def bench_world(authorizers: int) -> Iterator[Bench]:
    """The emulator with a fresh table, and the sandbox with `authorizers` accounts, each authorized
    there and held as an authorized grant in the table (due far in the future)."""
    saved = dict(os.environ)
    table = f"bench-{uuid.uuid4().hex[:8]}"
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    with start_emulator() as emulator:
        create_table(emulator.url, table)
        config = SandboxConfig(
            port=0,
            ticket_interval=0,
            push_ticket_on_start=False,
            component_events_url="http://127.0.0.1:9/nowhere",  # pushes go nowhere: tickets are stored here
            account_messages_url="http://127.0.0.1:9/{appid}",
            accounts=accounts(authorizers),
        )
        with Sandbox(config) as sandbox, FaultProxy(emulator.url, 0.0, seed=1) as proxy:
            os.environ.update(
                {
                    **DEFAULTS,
                    "AWS_ACCESS_KEY_ID": "bench",
                    "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_ENDPOINT_URL": proxy.url,
                    "TABLE_NAME": table,
                    "EVENT_BUS_NAME": "default",
                    "WECHAT_API_BASE": sandbox.url,
                    "WECHAT_MP_BASE": sandbox.url,
                    "POWERTOOLS_SERVICE_NAME": "wxcomponent",
                    "POWERTOOLS_METRICS_NAMESPACE": "WxComponent",
                    "POWERTOOLS_METRICS_DISABLED": "true",
                    "POWERTOOLS_TRACE_DISABLED": "true",
                    "POWERTOOLS_LOG_LEVEL": "WARNING",
                }
            )
            try:
                bench = Bench(sandbox, proxy, table, emulator.url)
                _seed(bench, authorizers)
                yield bench
            finally:
                os.environ.clear()
                os.environ.update(saved)
                bootstrap.forget()


def _seed(bench: Bench, authorizers: int) -> None:
    world = bench.sandbox.world
    component_appid = DEFAULTS["WECHAT_COMPONENT_APPID"]
    ticket = world.component.new_ticket()
    now = int(time.time())
    client = boto3.client("dynamodb", endpoint_url=bench.emulator_url)
    Container(Settings.from_environment()).verify_tickets.save_ticket(
        VerifyTicket.received(component_appid, ticket.value, now, now)
    )
    items: list[dict[str, Any]] = []
    for account in world.merchants.accounts():
        if not account.appid.startswith("wx0000"):
            continue  # the release checks' test accounts
        code, _ = world.merchants.authorize(account.appid)
        refresh = world.merchants.query_auth(code.value)["authorization_info"]["authorizer_refresh_token"]
        items.append(
            {
                "pk": {"S": authorizer_key(account.appid)},
                "sk": {"S": GRANT},
                "component_appid": {"S": component_appid},
                "refresh_token": {"S": refresh},
                "status": {"S": "authorized"},
                "authorized_at": {"N": str(now)},
                "updated_at": {"N": str(now)},
                "refresh_shard": {"S": refresh_shard(account.appid)},
                "refresh_due": {"N": str(now + 100_000)},
            }
        )
    assert len(items) == authorizers, len(items)
    for start in range(0, len(items), 25):  # straight to the emulator: seeding is not measured
        batch: Any = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        client.batch_write_item(RequestItems={bench.table: batch})


def make_due(bench: Bench, appids: list[str]) -> None:
    """Puts these grants in the refresh-due index now (straight to the emulator, not counted)."""
    client = boto3.client("dynamodb", endpoint_url=bench.emulator_url)
    due = str(int(time.time()) - 1)
    for appid in appids:
        client.update_item(
            TableName=bench.table,
            Key={"pk": {"S": authorizer_key(appid)}, "sk": {"S": GRANT}},
            UpdateExpression="SET refresh_due = :due",
            ExpressionAttributeValues={":due": {"N": due}},
        )


def bench_appids(count: int) -> list[str]:
    return [account.appid for account in accounts(count)]
