"""template.yaml as operators meet it (issue 12): fixed egress IPs for WeChat's whitelist, a log
group per function with a retention, alarms on what goes wrong, and a dashboard. Checked on what
the SAM transform makes of the template, and against the metrics the core really emits."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.local.template import ROOT, load_template, resources_of_type
from tests.support.template import transformed_template

CORE = ROOT / "layers" / "core" / "wxcomponent"
STACK_NAME = {"Ref": "AWS::StackName"}  # the metrics' `service` (tests/infra/test_several_platforms.py)
FUNCTIONS = [
    "ComponentEventsFunction",
    "AuthorizationFunction",
    "AccountMessagesFunction",
    "TokenVendingFunction",
    "TokenRefresherFunction",
]


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transformed_template()


def emitted_metrics() -> dict[str, set[str]]:
    """Every metric the core emits, with its dimension names (`service` always; `errcode` where a
    single_metric adds it), read from the source: the alarms' contract with the code."""
    found: dict[str, set[str]] = {}
    for path in CORE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r'add_metric\(\s*name="(\w+)"', text):
            found.setdefault(name, {"service"})
        for match in re.finditer(
            r'single_metric\(name="(\w+)"[^\n]*\n(?:[^\n]*\n){0,2}?[^\n]*add_dimension\(name="(\w+)"', text
        ):
            found[match.group(1)] = {"service", match.group(2)}
    return found


# -- fixed egress IPs ---------------------------------------------------------------------------------


def test_egress_modes_put_every_function_behind_fixed_addresses(transformed: dict[str, Any]) -> None:
    parameters = load_template()["Parameters"]
    assert parameters["EgressMode"]["AllowedValues"] == ["none", "existing-subnets", "create-vpc"]
    assert parameters["EgressMode"]["Default"] == "none"
    for name in FUNCTIONS:
        vpc = transformed["Resources"][name]["Properties"]["VpcConfig"]
        condition, inside, outside = vpc["Fn::If"]
        assert condition == "InVpc" and outside == {"Ref": "AWS::NoValue"}
        assert inside["SecurityGroupIds"] == [{"Ref": "FunctionSecurityGroup"}]
        assert inside["SubnetIds"] == {
            "Fn::If": ["CreateVpc", [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}], {"Ref": "SubnetIds"}]
        }
    group = transformed["Resources"]["FunctionSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in group  # nothing comes in
    [egress] = group["SecurityGroupEgress"]
    assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)


def test_the_created_vpc_leaves_through_retained_elastic_ips_and_reaches_the_table_without_the_nat(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    for address in ("NatAddressA", "NatAddressB"):
        assert resources[address]["DeletionPolicy"] == "Retain"  # WeChat already trusts it
    assert resources["NatGatewayA"]["Properties"]["AllocationId"] == {"Fn::GetAtt": ["NatAddressA", "AllocationId"]}
    assert resources["NatGatewayB"]["Condition"] == "TwoNatGateways"
    routes = {
        r["Properties"]["RouteTableId"]["Ref"]: r["Properties"]
        for r in resources_of_type(transformed, "AWS::EC2::Route").values()
    }
    assert routes["PrivateRouteTableA"]["NatGatewayId"] == {"Ref": "NatGatewayA"}
    assert routes["PrivateRouteTableB"]["NatGatewayId"] == {
        "Fn::If": ["TwoNatGateways", {"Ref": "NatGatewayB"}, {"Ref": "NatGatewayA"}]
    }
    endpoint = resources["DynamoDbEndpoint"]["Properties"]
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert endpoint["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.dynamodb"}
    assert endpoint["RouteTableIds"] == [{"Ref": "PrivateRouteTableA"}, {"Ref": "PrivateRouteTableB"}]
    for subnet in ("PrivateSubnetA", "PrivateSubnetB"):  # two zones, as Lambda wants
        assert resources[subnet]["Condition"] == "CreateVpc"
    zones = {json.dumps(resources[s]["Properties"]["AvailabilityZone"]) for s in ("PrivateSubnetA", "PrivateSubnetB")}
    assert len(zones) == 2


def test_the_addresses_to_whitelist_are_an_output_in_every_mode(transformed: dict[str, Any]) -> None:
    value = transformed["Outputs"]["WhitelistIps"]["Value"]
    condition, created, otherwise = value["Fn::If"]
    assert condition == "CreateVpc"
    assert created == {
        "Fn::If": [
            "TwoNatGateways",
            {"Fn::Join": [",", [{"Ref": "NatAddressA"}, {"Ref": "NatAddressB"}]]},
            {"Ref": "NatAddressA"},
        ]
    }
    existing, given, none = otherwise["Fn::If"]
    assert existing == "UseExistingSubnets" and given == {"Fn::Join": [",", {"Ref": "EgressIps"}]}
    assert none.startswith("none:") and "docs/deploy.md" in none


def test_existing_subnets_cannot_be_chosen_without_the_vpc_the_subnets_and_their_ips() -> None:
    rule = load_template()["Rules"]["ExistingSubnetsAreGiven"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "EgressMode"}, "existing-subnets"]}
    asserted = json.dumps([a["Assert"] for a in rule["Assertions"]])
    for parameter in ("VpcId", "SubnetIds", "EgressIps"):
        assert f'{{"Ref": "{parameter}"}}' in asserted


# -- logs ---------------------------------------------------------------------------------------------


def test_every_function_logs_to_a_group_of_its_own_kept_for_the_retention(transformed: dict[str, Any]) -> None:
    groups = set()
    for name in FUNCTIONS:
        group = transformed["Resources"][name]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        properties = transformed["Resources"][group]["Properties"]
        assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        groups.add(json.dumps(properties["LogGroupName"]))
    assert len(groups) == len(FUNCTIONS)


# -- alarms -------------------------------------------------------------------------------------------

WANTED = {  # alarm -> (metric, extra dimensions, threshold, missing data)
    "TicketAgeAlarm": ("TicketAge", {}, 1800, "breaching"),
    "RefreshFailuresAlarm": ("RefreshFailures", {}, 0, "notBreaching"),
    "IpWhitelistAlarm": ("RefreshRefusedByWeChat", {"errcode": "61004"}, 0, "notBreaching"),
    "QuotaAlarm": ("RefreshRefusedByWeChat", {"errcode": "45009"}, 0, "notBreaching"),
    "NeedsReauthorizationAlarm": ("NeedsReauthorization", {}, 0, "notBreaching"),
    "VendFailuresAlarm": ("VendFailed", {}, 0, "notBreaching"),
}


def test_the_alarms_an_operator_needs_watch_metrics_the_core_emits(transformed: dict[str, Any]) -> None:
    emitted = emitted_metrics()
    alarms = resources_of_type(transformed, "AWS::CloudWatch::Alarm")
    for name, (metric, dimensions, threshold, missing) in WANTED.items():
        properties = alarms[name]["Properties"]
        assert properties["Namespace"] == "WxComponent" and properties["MetricName"] == metric
        assert {d["Name"]: d["Value"] for d in properties["Dimensions"]} == {**dimensions, "service": STACK_NAME}
        assert properties["Threshold"] == threshold and properties["TreatMissingData"] == missing
    for name, alarm in alarms.items():  # every alarm on our namespace watches a metric that exists
        properties = alarm["Properties"]
        if properties.get("Namespace") == "WxComponent":
            metric = properties["MetricName"]
            assert metric in emitted, f"{name} watches {metric}, which the core never emits"
            assert {d["Name"] for d in properties["Dimensions"]} == emitted[metric], name


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_errors_and_throttles_of_every_function_are_one_alarm_each(transformed: dict[str, Any], metric: str) -> None:
    alarm = transformed["Resources"][f"Lambda{metric}Alarm"]["Properties"]
    watched = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert all(m["Namespace"] == "AWS/Lambda" and m["MetricName"] == metric for m in watched)
    assert sorted(m["Dimensions"][0]["Value"]["Ref"] for m in watched) == sorted(FUNCTIONS)
    [total] = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    assert total["Expression"] == "SUM([" + ", ".join(m["Id"] for m in alarm["Metrics"] if "MetricStat" in m) + "])"


def test_every_alarm_notifies_the_topic_when_one_is_given(transformed: dict[str, Any]) -> None:
    topic = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    alarms = resources_of_type(transformed, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 11
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == topic, name
        assert alarm["Properties"]["OKActions"] == topic, name


# -- the dashboard -------------------------------------------------------------------------------------


def test_the_dashboard_shows_tickets_tokens_refreshes_vends_and_errors(transformed: dict[str, Any]) -> None:
    body_template = transformed["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([A-Za-z0-9:.]+)\}", body_template))
    known = set(transformed["Resources"]) | set(load_template()["Parameters"]) | {"AWS::Region", "AWS::StackName"}
    assert {n.split(".")[0] for n in names} <= known, names - known
    body = json.loads(re.sub(r"\$\{[A-Za-z0-9:.]+\}", "1200", body_template))
    shown = json.dumps(body)
    for metric in (
        "TicketAge",
        "ComponentTokenLifeLeft",
        "ComponentTokenRefreshed",
        "AuthorizerTokenRefreshed",
        "RefreshFailed",
        "RefreshRefusedByWeChat",
        "TokenVended",
        "VendRefused",
        "VendFailed",
        "Errors",
        "Throttles",
    ):
        assert metric in shown, metric
    emitted = emitted_metrics()
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if line and line[0] == "WxComponent":
                assert line[1] in emitted, line
    assert [w["type"] for w in body["widgets"]].count("alarm") == 1
    alarms = set(resources_of_type(transformed, "AWS::CloudWatch::Alarm"))
    assert set(re.findall(r"\$\{(\w+)\.Arn\}", body_template)) == alarms  # the alarm widget lists them all


def test_metrics_scan_sees_what_the_core_emits() -> None:
    emitted = emitted_metrics()
    assert emitted["RefreshRefusedByWeChat"] == {"service", "errcode"}
    assert emitted["RefreshFailed"] == {"service", "errcode"}
    assert emitted["TicketAge"] == {"service"}
    assert len(emitted) > 25
