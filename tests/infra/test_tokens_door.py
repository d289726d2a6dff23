"""The door `POST /tokens` trusts (review L3): the HTTP API's stage gives every event the stack's id
as the stage variable `tokens_door`, and token_vending gets the same value as `TOKENS_DOOR`, so an
Invoke that is shaped like API Gateway's event is not taken for one. The local stack plays the same
pair (infra/local/events.py, infra/local/stack.py)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.events import LOCAL_TOKENS_DOOR, http_api_event
from infra.local.stack import local_environment
from infra.local.template import load_template, resources_of_type
from tests.support.template import transformed_template
from wxcomponent.settings import Settings

STACK_ID = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transformed_template()


def test_the_stage_and_the_function_share_the_stacks_id_as_the_door(transformed: dict[str, Any]) -> None:
    [stage] = resources_of_type(transformed, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["StageVariables"] == {"tokens_door": STACK_ID}
    variables = transformed["Resources"]["TokenVendingFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["TOKENS_DOOR"] == STACK_ID
    # Nothing else gets it: no other function has a door to check.
    for name, function in resources_of_type(transformed, "AWS::Lambda::Function").items():
        if name != "TokenVendingFunction":
            assert "TOKENS_DOOR" not in function["Properties"].get("Environment", {}).get("Variables", {})


def test_the_door_is_not_the_apis_id_which_the_function_cannot_reference() -> None:
    """The review's suggestion, the API id, makes a cycle (the API's routes name the function) and is
    printed in every TokensUrl; the stack's id is neither."""
    template = load_template()
    variables = template["Resources"]["TokenVendingFunction"]["Properties"]["Environment"]["Variables"]
    assert "HttpApi" not in repr(variables)


def test_the_local_stack_sends_the_door_it_configures() -> None:
    environment = local_environment("http://127.0.0.1:8000", "http://127.0.0.1:3100", "http://127.0.0.1:3000")
    assert environment["TOKENS_DOOR"] == LOCAL_TOKENS_DOOR
    assert http_api_event("POST", "/tokens")["stageVariables"] == {"tokens_door": LOCAL_TOKENS_DOOR}
    settings = Settings.from_environment({"TABLE_NAME": "t-1", "EVENT_BUS_NAME": "b", **environment})
    assert settings.tokens_door == LOCAL_TOKENS_DOOR and LOCAL_TOKENS_DOOR not in repr(settings)
