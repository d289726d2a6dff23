"""template.yaml, read for the local stack: the one source of truth for the table and the routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation's short-form tags (!Ref, !GetAtt, …) as plain dicts."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"  # !Condition is not an Fn::
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)  # type: ignore[no-untyped-call]


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(document, dict)
    return document


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template.get("Resources", {}).items() if r.get("Type") == kind}


def table_definition(template: dict[str, Any]) -> dict[str, Any]:
    """The one AWS::DynamoDB::Table's properties."""
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    if len(tables) != 1:
        raise ValueError("template.yaml must declare exactly one DynamoDB table")
    properties: dict[str, Any] = next(iter(tables.values()))["Properties"]
    return properties


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str  # logical id
    code_uri: str
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    auth: str = "NONE"


def http_routes(template: dict[str, Any]) -> list[Route]:
    """Every HttpApi event of every function, as the local gateway serves them."""
    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    routes = []
    for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        properties = resource["Properties"]
        environment = {**global_env, **properties.get("Environment", {}).get("Variables", {})}
        for event in properties.get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            event_properties = event["Properties"]
            auth = event_properties.get("Auth", {}).get("Authorizer", "NONE")
            routes.append(
                Route(
                    method=event_properties["Method"].upper(),
                    path=event_properties["Path"],
                    function=name,
                    code_uri=properties["CodeUri"],
                    handler=properties["Handler"],
                    environment=environment,
                    auth=auth,
                )
            )
    return routes
