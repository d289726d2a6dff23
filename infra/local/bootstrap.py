"""Creates the table declared in template.yaml (and, optionally, the component secret) in an emulator."""

from __future__ import annotations

import json
from typing import Any

import boto3

from infra.local.template import load_template, table_definition

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")


def create_table(endpoint_url: str, table_name: str, *, region: str = "us-east-1") -> None:
    """Creates `table_name` with exactly the template's schema and TTL; no-op if it exists."""
    properties = table_definition(load_template())
    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
    if table_name in client.list_tables()["TableNames"]:
        return
    kwargs: dict[str, Any] = {key: properties[key] for key in _TABLE_KEYS if key in properties}
    sse = properties.get("SSESpecification")
    if sse:  # CloudFormation spells it SSEEnabled, the API Enabled
        kwargs["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))}
    client.create_table(TableName=table_name, **kwargs)
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    pitr = properties.get("PointInTimeRecoverySpecification")
    if pitr:
        client.update_continuous_backups(TableName=table_name, PointInTimeRecoverySpecification=pitr)


def create_event_bus(endpoint_url: str, name: str, *, region: str = "us-east-1") -> None:
    """The bus authorization changes are published on; no-op if it exists."""
    client = boto3.client("events", endpoint_url=endpoint_url, region_name=region)
    if name not in {bus["Name"] for bus in client.list_event_buses()["EventBuses"]}:
        client.create_event_bus(Name=name)


def create_component_secret(endpoint_url: str, name: str, value: dict[str, str], *, region: str = "us-east-1") -> str:
    """Creates (or updates) the component secret; returns its ARN."""
    client = boto3.client("secretsmanager", endpoint_url=endpoint_url, region_name=region)
    try:
        return client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
    except client.exceptions.ResourceExistsException:
        return client.put_secret_value(SecretId=name, SecretString=json.dumps(value))["ARN"]
