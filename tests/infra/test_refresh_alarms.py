"""Issue 19's refresh room, as operators meet it: the refreshes reports force on authorizer tokens
and on tickets are alarmed (their plain refresh rates grow with the merchants; the component
token's, one token, has its own alarm), so is a budget that keeps refusing, and so is a 61003 the
authorizer list does not confirm. Each alarm watches a metric the core emits, with the dimensions
it emits it with (docs/observability.md)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.template import load_template, resources_of_type
from tests.infra.test_operations import emitted_metrics
from wxcomponent.domain.js_tickets import JS_TICKET_KINDS
from wxcomponent.services.authorizer_token import AUTHORIZER
from wxcomponent.services.component_token import COMPONENT

Watched = list[tuple[str, dict[str, str]]]
WANTED: dict[str, tuple[Watched, int]] = {  # alarm -> (metrics and their dimensions besides service, threshold)
    "AuthorizerForcedRefreshAlarm": ([("ForcedRefresh", {"kind": "authorizer"})], 6),
    "JsTicketForcedRefreshAlarm": (
        [("ForcedRefresh", {"kind": "jsapi_ticket"}), ("ForcedRefresh", {"kind": "card_ticket"})],
        6,
    ),
    "ForcedRefreshRefusedAlarm": ([("ForcedRefreshRefused", {})], 10),
    "RevocationNotConfirmedAlarm": ([("RevocationNotConfirmed", {})], 0),
    "ComponentRefreshRateAlarm": ([("ComponentTokenRefreshed", {})], 6),
}


def watched(properties: dict[str, Any]) -> Watched:
    """What an alarm watches: its one metric, or each metric its expression sums."""
    if "MetricName" in properties:
        assert properties["Namespace"] == "WxComponent"
        stats = [{"MetricName": properties["MetricName"], "Dimensions": properties["Dimensions"]}]
    else:
        [total] = [m for m in properties["Metrics"] if m.get("ReturnData")]
        ids = [m["Id"] for m in properties["Metrics"] if "MetricStat" in m]
        assert total["Expression"] == "SUM([" + ", ".join(ids) + "])"
        stats = [m["MetricStat"]["Metric"] for m in properties["Metrics"] if "MetricStat" in m]
        assert all(s["Namespace"] == "WxComponent" for s in stats)
    found: Watched = []
    for stat in stats:
        dimensions = {d["Name"]: d["Value"] for d in stat["Dimensions"]}
        assert dimensions.pop("service") == {"Ref": "AWS::StackName"}  # each stack's own (several platforms)
        found.append((stat["MetricName"], dimensions))
    return found


@pytest.mark.parametrize("name", list(WANTED))
def test_the_refresh_alarms_watch_what_the_core_emits(name: str) -> None:
    alarms = resources_of_type(load_template(), "AWS::CloudWatch::Alarm")
    properties = alarms[name]["Properties"]
    metrics, threshold = WANTED[name]
    assert watched(properties) == metrics
    assert properties["Threshold"] == threshold and properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["TreatMissingData"] == "notBreaching"
    emitted = emitted_metrics()
    kinds = {COMPONENT, AUTHORIZER, *JS_TICKET_KINDS}  # what the services name ForcedRefresh's `kind`
    for metric, dimensions in metrics:
        assert emitted[metric] == {"service", *dimensions}, metric
        assert dimensions.get("kind", COMPONENT) in kinds


def test_the_alarm_widget_lists_them() -> None:
    dashboard = load_template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    body = dashboard if isinstance(dashboard, str) else str(dashboard)
    for name in WANTED:
        assert f"${{{name}.Arn}}" in body, name
