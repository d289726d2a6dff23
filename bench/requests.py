"""Requests per operation (issue 13, item 4), counted at the DynamoDB emulator (a counting proxy)
and at the sandbox: deterministic, so stated as they are. `tests/integration/test_request_budgets.py`
holds the same counts as a regression guard in `make test`."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from bench.harness import Bench, bench_appids, bench_world, make_due
from wxcomponent.services.vending import VendRequest

TITLE = "Requests per operation"
GRANTS, DUE = 10_000, 1_000


def _cost(bench: Bench, operation: Callable[[], object]) -> tuple[Counter[str], Counter[str]]:
    ddb_before, wechat_before = bench.counted()
    operation()
    ddb_after, wechat_after = bench.counted()
    return ddb_after - ddb_before, wechat_after - wechat_before


def _row(name: str, ddb: Counter[str], wechat: Counter[str], per: int = 1) -> str:
    total = sum(ddb.values())
    detail = ", ".join(f"{op} {n}" for op, n in sorted(ddb.items()))
    calls = ", ".join(f"{api} {n}" for api, n in sorted(wechat.items())) or "none"
    per_item = f"{total / per:.2f}" if per > 1 else str(total)
    return f"| {name} | {total} | {per_item} | {detail or '-'} | {calls} |"


def run() -> str:
    rows: list[str] = []
    with bench_world(GRANTS) as bench:
        wx = bench.container()
        appids = bench_appids(GRANTS)

        def vend(kind: str, appid: str = "") -> None:
            payload = {"kind": kind, **({"appid": appid} if appid else {})}
            wx.vendor.vend(VendRequest.parse(payload))

        rows.append(_row("vend, component token, cold (from the table)", *_cost(bench, lambda: vend("component"))))
        rows.append(_row("vend, component token, from memory", *_cost(bench, lambda: vend("component"))))
        first = appids[0]
        refreshing = _cost(bench, lambda: vend("authorizer", first))
        rows.append(_row("vend, authorizer token, refresh on the way", *refreshing))
        rows.append(_row("vend, authorizer token, from the table", *_cost(bench, lambda: vend("authorizer", first))))
        make_due(bench, appids[1:2])
        rows.append(_row("sweep, 1 authorizer due", *_cost(bench, lambda: wx.refresher.sweep(lambda: 900_000))))
        make_due(bench, appids[100 : 100 + DUE])
        started = time.monotonic()
        report_holder: list[object] = []
        ddb, wechat = _cost(bench, lambda: report_holder.append(wx.refresher.sweep(lambda: 900_000)))
        took = time.monotonic() - started
        name = f"sweep over {GRANTS:,} grants, {DUE:,} due (per due authorizer in column 3)"
        rows.append(_row(name, ddb, wechat, DUE))
    table = "\n".join(
        [
            "| operation | DynamoDB requests | per item | by operation | WeChat calls |",
            "| --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    return f"""Counted with `python -m bench requests`: a counting proxy in front of the emulator (moto's server, one
request at a time), the sandbox's own call counters, the services built by the composition root as
the functions build them. {GRANTS:,} authorized grants are in the table; the sweeps read only the due ones
through the sparse, sharded index (8 shards: 8 Queries per sweep, whatever the table's size).

{table}

Targets (issue 13, issue 20): exactly one WeChat call per refresh (met); 2 DynamoDB requests per
refreshed authorizer, no transaction (met: the authorizer's grant, token, lease and remembered
refusal are one item; the lease is an UpdateItem that returns the item, the outcome an UpdateItem on
condition of holding the lease, which gives it back; it was 3 with two transactions, and 10 in a vend
and 11 in a sweep before that); a vend from the table in one read of one item (met: a GetItem); the component token
read at most once per sweep (met: calls reuse the token they read for up to 60 s); sweep reads
proportional to the due count (met: index items read = due). The {DUE:,}-authorizer sweep took
{took:.0f} s here, bound by the one-request-at-a-time emulator (see the sweep section for scale).
The push, account message and authorization costs are held by `tests/integration/test_request_budgets.py`
(a push 1 PutItem; a message 1 GetItem, 1 PutItem, 1 UpdateItem and its bus event)."""
