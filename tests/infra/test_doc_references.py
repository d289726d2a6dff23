"""The map matches the territory (issue 20, part 3): every path and every `wxcomponent…` symbol the
README and docs/ name in backticks exists, so a rename that forgets its docs fails here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from infra.local.template import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH = re.compile(r"`([A-Za-z0-9_.\-/]+/[A-Za-z0-9_.\-/]*[A-Za-z0-9_])`")
SYMBOL = re.compile(r"`((?:wxcomponent|wxcomponent_client)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")
# Where a path the docs name lives: ours from the repository's root, the two packages from theirs.
ROOTS = {
    "wxcomponent/": ROOT / "layers" / "core",
    "wxcomponent_client/": ROOT / "layers" / "client",
    **{prefix: ROOT for prefix in ("layers/", "functions/", "infra/", "tests/", "docs/", "bench/", "examples/")},
}


def references() -> list[tuple[str, int, str]]:
    found = []
    for doc in DOCS:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            where = str(doc.relative_to(ROOT))
            found += [(where, number, m.group(1).rstrip("/")) for m in PATH.finditer(line)]
            found += [(where, number, m.group(1)) for m in SYMBOL.finditer(line)]
    return found


def resolves(name: str) -> bool:
    if "/" in name:
        prefix = next((p for p in ROOTS if name.startswith(p)), None)
        return prefix is None or "*" in name or (ROOTS[prefix] / name).exists()
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def test_the_docs_name_paths_and_symbols() -> None:
    assert len(references()) > 100  # the docs do name many: the patterns still find them


@pytest.mark.parametrize("doc", DOCS, ids=[doc.name for doc in DOCS])
def test_every_path_and_symbol_a_doc_names_exists(doc: Path) -> None:
    where = str(doc.relative_to(ROOT))
    missing = [(number, name) for found_in, number, name in references() if found_in == where and not resolves(name)]
    assert missing == [], f"{where} names what does not exist (line, name): {missing}"
