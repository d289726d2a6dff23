"""Several platforms, one stack each (docs/decisions.md): two stacks deployed side by side in one
account and region share nothing. Every name the template gives a resource carries the stack's name;
the functions' metrics and log lines carry it as their `service`, and every alarm and every
dashboard line watches its own stack's metrics only (with one shared `service`, a stack's ticket
alarm would read the other platform's tickets, and a silent stack would hide behind a live one)."""

from __future__ import annotations

import re
from typing import Any

from infra.local.template import load_template, resources_of_type

STACK = {"Ref": "AWS::StackName"}
NAMED = {  # resource type -> the property that names it
    "AWS::Events::EventBus": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Events::Rule": "Name",
    "AWS::Serverless::HttpApi": "Name",
}


def names_the_stack(value: Any) -> bool:
    if value == STACK:
        return True
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return "${AWS::StackName}" in text
    return False


def test_every_name_the_template_gives_carries_the_stacks() -> None:
    template = load_template()
    named = 0
    for logical_id, resource in template["Resources"].items():
        key = NAMED.get(resource["Type"])
        value = resource.get("Properties", {}).get(key) if key else None
        if value is not None:
            named += 1
            assert names_the_stack(value), f"{logical_id}.{key} = {value!r}: a second stack would collide"
    assert named >= 7  # the bus, the dashboard, the five log groups at least


def test_the_functions_report_under_the_stacks_name() -> None:
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == STACK
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "WxComponent"


def test_every_alarm_watches_its_own_stacks_metrics() -> None:
    watched = 0
    for name, alarm in resources_of_type(load_template(), "AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        stats = [properties] if "MetricName" in properties else []
        stats += [m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m]
        for stat in stats:
            if stat["Namespace"] != "WxComponent":
                continue  # AWS/Lambda and AWS/SQS metrics are named by the stack's own resources
            watched += 1
            dimensions = {d["Name"]: d["Value"] for d in stat["Dimensions"]}
            assert dimensions["service"] == STACK, name
    assert watched >= 10


def test_every_dashboard_line_and_search_is_its_own_stacks() -> None:
    body = load_template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    lines = re.findall(r'\[\s*"WxComponent",([^\]]*)\]', body)
    assert len(lines) >= 10
    for line in lines:
        assert re.search(r'"service",\s*"\$\{AWS::StackName\}"', line), line
    searches = re.findall(r"SEARCH\('([^']*)'", body)
    assert searches
    for search in searches:
        assert 'service=\\"${AWS::StackName}\\"' in search, search
