"""What a month costs on AWS (issue 13, item 6): a model, with its formula, its prices and their
date, and the request counts of the requests section. Nothing here is measured on AWS; durations
come from the benchmarks above (or are said to be assumptions where nothing measures them)."""

from __future__ import annotations

from dataclasses import dataclass

TITLE = "Cost per month"
SIZES = (100, 10_000, 100_000)
MONTH_S = 30 * 24 * 3600

# us-east-1 list prices, as published by AWS in 2024-2025 (checked for this model on 2026-11-22
# against the last prices we had; check the pricing pages before you rely on them).
PRICES = {
    "lambda_gb_s_arm": 0.0000133334,  # USD per GB-second, arm64
    "lambda_request": 0.20 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand read request unit
    "dynamodb_gb_month": 0.25,
    "http_api_request": 1.00 / 1e6,
    "logs_ingested_gb": 0.50,
    "custom_metric_month": 0.30,  # each metric name and dimension set EMF creates
    "alarm_metric_month": 0.10,  # per metric an alarm watches
    "dashboard_month": 3.00,
    "secret_month": 0.40,
    "nat_gateway_hour": 0.045,
    "nat_gateway_gb": 0.045,
    "public_ipv4_hour": 0.005,
    # the always-on alternative: the smallest instance and database a peer (an SDK-based token
    # service with its own MySQL) runs on, with a fixed address of its own
    "ec2_t4g_small_hour": 0.0168,
    "rds_t4g_micro_hour": 0.016,
    "rds_gb_month": 0.115,
}

MEMORY_GB = 0.5  # template.yaml: MemorySize 512
REFRESH_EVERY_S = 7200 - 1200  # a token's life less the default margin: each authorizer's refresh period
SWEEPS = MONTH_S // 300  # rate(5 minutes)
TICKET_PUSHES = MONTH_S // 600  # one every 10 minutes
VENDS_PER_AUTHORIZER = 3_000  # an assumption: a hundred vends a day per account (callers cache tokens)
# Billed milliseconds (Lambda bills by the ms), from the sections above:
REFRESH_MS = 25  # a refresh's share of a sweep at parallelism 8: jitter, WeChat and 2 requests over 8 threads
SWEEP_BASE_MS = 300  # a sweep's fixed part: 8 index Queries, the ticket, the component token, its record
VEND_MS = 12  # a vend from the table: one GetItem (~8 ms on AWS) and our CPU
PUSH_MS = 40  # a ticket push: verify, decrypt, one PutItem
# DynamoDB units (the authorizer's one item, under 1 KB: tests/integration/test_store_contract.py
# measures it): per refresh, the lease (an UpdateItem returning the item: 1 WRU, no read unit), the
# outcome (an UpdateItem: 1 WRU) and the index's update (its sort key moves: a delete and a put, 2 WRU).
REFRESH_RRU, REFRESH_WRU = 0, 4
VEND_RRU = 1  # one strongly consistent read of the one item
LOG_BYTES_PER_REFRESH = 600  # one INFO line per refresh, as Powertools writes it
METRICS = 40  # EMF metric and dimension sets the functions create
ALARM_METRICS = 11 + 2 * 5  # eleven single-metric alarms, two over five functions each


@dataclass
class Month:
    lines: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def serverless(authorizers: int, *, nat: bool) -> Month:
    refreshes = authorizers * MONTH_S / REFRESH_EVERY_S
    vends = authorizers * VENDS_PER_AUTHORIZER
    invocations = SWEEPS + TICKET_PUSHES + vends
    gb_s = (
        MEMORY_GB * (SWEEPS * SWEEP_BASE_MS + refreshes * REFRESH_MS + vends * VEND_MS + TICKET_PUSHES * PUSH_MS) / 1000
    )
    p = PRICES
    lines = {
        "Lambda (GB-s and requests)": gb_s * p["lambda_gb_s_arm"] + invocations * p["lambda_request"],
        "DynamoDB on demand": (refreshes * REFRESH_WRU) * p["dynamodb_write_unit"]
        + (refreshes * REFRESH_RRU + vends * VEND_RRU) * p["dynamodb_read_unit"]
        + authorizers * 2e-6 * p["dynamodb_gb_month"],
        "API Gateway (pushes)": TICKET_PUSHES * p["http_api_request"],
        "EventBridge (the schedule)": 0.0,
        "CloudWatch (logs, metrics, alarms, dashboard)": refreshes * LOG_BYTES_PER_REFRESH / 1e9 * p["logs_ingested_gb"]
        + METRICS * p["custom_metric_month"]
        + ALARM_METRICS * p["alarm_metric_month"]
        + p["dashboard_month"],
        "Secrets Manager": p["secret_month"],
    }
    if nat:
        lines["NAT gateway and its IP (create-vpc, 1 NAT)"] = 730 * (p["nat_gateway_hour"] + p["public_ipv4_hour"])
    return Month(lines)


def always_on() -> Month:
    p = PRICES
    return Month(
        {
            "EC2 t4g.small": 730 * p["ec2_t4g_small_hour"],
            "RDS db.t4g.micro, 20 GB": 730 * p["rds_t4g_micro_hour"] + 20 * p["rds_gb_month"],
            "its public IPv4 address": 730 * p["public_ipv4_hour"],
        }
    )


def run() -> str:
    header = "| | " + " | ".join(f"{n:,} authorizers" for n in SIZES) + " |"
    rule = "| --- |" + " --- |" * len(SIZES)
    months = {n: serverless(n, nat=False) for n in SIZES}
    rows = [
        f"| {name} | " + " | ".join(f"{months[n].lines[name]:,.2f}" for n in SIZES) + " |"
        for name in months[SIZES[0]].lines
    ]
    nat = serverless(SIZES[0], nat=True).lines["NAT gateway and its IP (create-vpc, 1 NAT)"]
    totals = " | ".join(f"**{months[n].total:,.2f}**" for n in SIZES)
    with_nat = " | ".join(f"{months[n].total + nat:,.2f}" for n in SIZES)
    server = always_on()
    server_rows = "\n".join(f"| {name} | {value:,.2f} |" for name, value in server.lines.items())
    prices = "\n".join(f"| `{name}` | {value:g} |" for name, value in PRICES.items())
    return f"""Made with `python -m bench cost` (a model: nothing is billed to make it). USD per month of 30 days,
us-east-1, free tiers ignored.

| line | {header[4:]}
{rule}
{chr(10).join(rows)}
| **total, your own subnets (`existing-subnets`)** | {totals} |
| total with `create-vpc` (+{nat:,.2f}: the NAT and its address) | {with_nat} |

The always-on alternative, as small as a peer's token service with its own database can be:

| line | USD |
| --- | --- |
{server_rows}
| **total** | **{server.total:,.2f}** |

The formula (`bench/cost.py`):
- refreshes = authorizers x {MONTH_S:,} s / {REFRESH_EVERY_S:,} s (each token renewed once per life less
  the margin); vends = authorizers x {VENDS_PER_AUTHORIZER:,} (an assumption: callers cache what they get);
  sweeps = {SWEEPS:,}; ticket pushes = {TICKET_PUSHES:,}.
- Lambda GB-s = {MEMORY_GB} GB x (sweeps x {SWEEP_BASE_MS} ms + refreshes x {REFRESH_MS} ms + vends x {VEND_MS} ms
  + pushes x {PUSH_MS} ms); requests at {PRICES["lambda_request"] * 1e6:.2f} USD a million.
- DynamoDB: a refresh {REFRESH_RRU} read and {REFRESH_WRU} write units (the requests section's 2 requests on the
  authorizer's one item, under 1 KB: the lease, an UpdateItem that returns the item, 1 unit; the outcome,
  1 unit; and the index's update, 2 units); a vend {VEND_RRU} read unit (one strongly consistent read of
  the one item).
- CloudWatch: {LOG_BYTES_PER_REFRESH} bytes of log per refresh, {METRICS} EMF metrics, {ALARM_METRICS} alarm
  metrics, one dashboard: mostly fixed, the largest line for a small platform.
- Account messages, bus events and X-Ray traces depend on your traffic and are not in the table:
  a million messages a month add about 1 USD of API Gateway, 0.2 USD of Lambda requests and
  their GB-s, 1 USD of bus events and their DynamoDB receipts.

Reading it:
- **Small platforms** (hundreds of authorizers): the stack costs about 18 USD a month when it can
  leave through subnets you already have (`existing-subnets`), less than the smallest always-on
  pair; with `create-vpc`, WeChat's IP whitelist makes the NAT the largest line, and the stack costs
  more than that pair.
- **Large platforms**: Lambda and DynamoDB are the largest lines. The authorizer's grant, token,
  lease and refusal are one item (docs/decisions.md, "The authorizer as one aggregate"), so a refresh
  is all or nothing without a transaction: 4 write units where the three items written in two
  transactions cost 12 (and a read of 3 units), and a vend reads 1 unit where it read 3. The vends'
  reads are strongly consistent, so that a revocation stops vending at once.
- An always-on pair carrying 100,000 authorizers would need a larger database and a second
  instance for the same availability; the stack needs nothing but its parallelism.

Prices used (USD, us-east-1, as published in 2024-2025; model run 2026-11-22):

| price | value |
| --- | --- |
{prices}"""
