"""`make dev`'s state file: what it refuses to restore, and how it is written."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from infra.local.saved_state import FORMAT, VERSION, StateUnusable, forget, read, table_keys, write

APPID = "wx5a0d8c0ffee5a4d1"


def document(**changes: Any) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "component_appid": APPID,
        "table_keys": table_keys(),
        "items": [{"pk": {"S": "COMPONENT#x"}, "sk": {"S": "TICKET"}, "blob": {"B": "AAE="}}],
        "secret": {"caller_policy": {}},
        "sandbox": None,
        "saved_at": 1_800_000_000.0,
        **changes,
    }


def test_a_saved_state_reads_back_with_its_binary_values(tmp_path: Path) -> None:
    path = tmp_path / "dev-state.json"
    write(path, document())
    saved = read(path, APPID)
    assert saved is not None
    assert saved.items == [{"pk": {"S": "COMPONENT#x"}, "sk": {"S": "TICKET"}, "blob": {"B": b"\x00\x01"}}]
    assert saved.secret == {"caller_policy": {}} and saved.saved_at == 1_800_000_000.0


def test_no_file_is_no_state(tmp_path: Path) -> None:
    assert read(tmp_path / "dev-state.json", APPID) is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "not JSON"),
        ('{"format": "wxcomponent make dev state", "vers', "not JSON"),
        ("[]", "not a make dev state"),
        (json.dumps(document(format="something else")), "not a make dev state"),
        (json.dumps(document(version=VERSION + 1)), "another version"),
        (
            json.dumps(document(version=1)),
            r"older shape of the table \(format 1: an authorizer's grant, token and lease",
        ),
        (json.dumps(document(component_appid="wx0123456789abcdef")), "saved for component wx0123456789abcdef"),
        (json.dumps(document(table_keys={"KeySchema": []})), "keys in template.yaml changed"),
        (json.dumps(document(items={"pk": "x"})), "not a list of items"),
        (json.dumps(document(items=[{"pk": {"S": "a", "N": "1"}}])), "not DynamoDB items"),
        (json.dumps(document(items=[{"pk": {"X": "a"}}])), "not DynamoDB items"),
        (json.dumps(document(items=[{"pk": {"B": "not base64!"}}])), "not DynamoDB items"),
        (json.dumps(document(sandbox=[])), "sandbox world is not an object"),
        (json.dumps(document(saved_at="yesterday")), "damaged"),
    ],
)
def test_a_file_that_cannot_be_used_says_why_in_a_few_words(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "dev-state.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StateUnusable, match=reason):
        read(path, APPID)


def test_a_save_replaces_the_file_whole_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dev-state.json"
    write(path, document(saved_at=1.0))
    write(path, document(saved_at=2.0))
    assert json.loads(path.read_text(encoding="utf-8"))["saved_at"] == 2.0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["dev-state.json"]  # no temporary file left


def test_forgetting_removes_the_state_its_set_aside_copy_and_a_crash_s_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "dev-state.json"
    write(path, document())
    leftovers = [tmp_path / "dev-state.json.bad", tmp_path / "dev-state.json.4242.tmp"]
    for leftover in leftovers:
        leftover.write_text("{", encoding="utf-8")
    mine = tmp_path / "other.json"
    mine.write_text("{}", encoding="utf-8")
    assert sorted(forget(path)) == sorted([path, *leftovers])
    assert [p.name for p in tmp_path.iterdir()] == ["other.json"]
