"""`make dev`'s saved table over real wires: every DynamoDB type survives the file, and items that
do not fit the template's table are refused."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.bootstrap import create_component_secret, create_table
from infra.local.emulator import Emulator
from infra.local.saved_state import Keeper, StateUnusable, read

APPID = "wx5a0d8c0ffee5a4d1"
ITEM: dict[str, Any] = {
    "pk": {"S": "AUTHORIZER#wx0123456789abcdef"},
    "sk": {"S": "GRANT"},
    "number": {"N": "1795335285"},
    "binary": {"B": b"\x00\xff"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2"]},
    "binaries": {"BS": [b"\x01", b"\x02"]},
    "map": {"M": {"inner": {"L": [{"S": "x"}, {"B": b"\x03"}]}}},
}


@pytest.fixture
def second_table(emulator: Emulator) -> Iterator[str]:
    name = f"wxcomponent-test-{uuid.uuid4().hex[:12]}"
    create_table(emulator.url, name)
    yield name
    boto3.client("dynamodb", endpoint_url=emulator.url).delete_table(TableName=name)


def keeper(emulator: Emulator, table: str, path: Path) -> Keeper:
    secret = f"wxcomponent-test/{uuid.uuid4().hex[:12]}"
    create_component_secret(emulator.url, secret, {"component_appid": APPID, "caller_policy": "{}"})
    return Keeper(path, emulator.url, table, secret, APPID, lambda: None)


def scan(emulator: Emulator, table: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", endpoint_url=emulator.url)
    items: list[dict[str, Any]] = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return items


def test_every_attribute_type_survives_the_file(
    emulator: Emulator, table: str, second_table: str, tmp_path: Path
) -> None:
    boto3.client("dynamodb", endpoint_url=emulator.url).put_item(TableName=table, Item=ITEM)
    path = tmp_path / "dev-state.json"
    saver = keeper(emulator, table, path)
    assert saver.save()
    assert not saver.save()  # nothing changed, nothing written
    assert json.loads(path.read_text(encoding="utf-8"))["secret"]["caller_policy"] == "{}"
    saved = read(path, APPID)
    assert saved is not None
    keeper(emulator, second_table, path).restore_items(saved.items)
    assert scan(emulator, second_table) == [ITEM]


@pytest.mark.parametrize(
    "item",
    [
        {"sk": {"S": "GRANT"}},  # no partition key
        {"pk": {"N": "1"}, "sk": {"S": "GRANT"}},  # a key of another type
        {"pk": {"S": "x"}, "sk": {"S": "GRANT"}, "n": {"N": 5}},  # a number that is not a string
    ],
)
def test_items_that_do_not_fit_the_table_are_refused(
    emulator: Emulator, table: str, tmp_path: Path, item: dict[str, Any]
) -> None:
    with pytest.raises(StateUnusable, match="items"):
        keeper(emulator, table, tmp_path / "dev-state.json").restore_items([item])
