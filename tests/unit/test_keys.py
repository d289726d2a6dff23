"""The table's key formats and lease names live in one module, `wxcomponent/keys.py`, which the
operator CLI carries as `wxcomponent_client/keys.py` (a link to the same file) so that it reads the
table on Python 3.9 without the core: so the module imports nothing of the core's and stays 3.9."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from infra.local.template import ROOT
from wxcomponent import keys
from wxcomponent.domain.js_tickets import JS_TICKET_KINDS

CORE_KEYS = ROOT / "layers" / "core" / "wxcomponent" / "keys.py"
CLIENT_KEYS = ROOT / "layers" / "client" / "wxcomponent_client" / "keys.py"


def test_the_client_carries_the_core_module_itself_not_a_copy() -> None:
    assert CLIENT_KEYS.is_symlink() and CLIENT_KEYS.resolve() == CORE_KEYS.resolve()
    import wxcomponent_client.keys as client_keys

    assert Path(client_keys.__file__).resolve() == CORE_KEYS.resolve()


def test_it_imports_only_the_standard_library_and_parses_as_python_3_9() -> None:
    source = CORE_KEYS.read_text()
    tree = ast.parse(source, feature_version=(3, 9))  # no match statements, no X | Y outside annotations
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert imported <= {"__future__", "hashlib"} and imported & set(sys.stdlib_module_names) == imported


@pytest.mark.parametrize("kind", JS_TICKET_KINDS)
def test_every_js_sdk_ticket_kind_has_its_sort_key_and_lease_name_here(kind: str) -> None:
    sort_key = keys.js_ticket_sort_key(kind)
    assert sort_key in keys.JS_TICKET_SORT_KEYS and keys.js_ticket_kind(sort_key) == kind
    lease = keys.js_ticket_lease("wx0123456789abcdef", kind)
    assert lease == f"AUTHORIZER#wx0123456789abcdef#{sort_key}"
    assert keys.authorizer_of(lease) is None  # a ticket's lease name is never read as an authorizer
    assert len(keys.JS_TICKET_SORT_KEYS) == len(JS_TICKET_KINDS)


def test_lease_names_are_the_partition_keys_of_what_they_refresh() -> None:
    assert keys.component_lease("wx1") == keys.component_key("wx1") == "COMPONENT#wx1"
    assert keys.authorizer_lease("wx2") == keys.authorizer_key("wx2") == "AUTHORIZER#wx2"
    assert keys.authorizer_of(keys.authorizer_key("wx2")) == "wx2"
    assert keys.authorizer_of(keys.component_key("wx2")) is None
    assert keys.authorizer_of("AUTHORIZER#") is None
