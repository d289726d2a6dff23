"""The vendor's Python examples run as pasted against the local stack. They moved from the README
to docs/token-vending.md ("Python: `TokenClient`" and "Python: web pages"), the one home of the
token-vending contract (issue 20, part 3); the marks kept their name.

The blocks marked `<!-- readme-test: run -->` in each section of `SECTIONS` are run in order, in
fresh processes that know nothing of this repository or of the developer's shell: no AWS variables,
no ~/.aws, no PYTHONPATH, a scratch directory (each of the three ways the old example failed:
`No module named 'wxcomponent'`, `NoRegionError`, `NoCredentialsError`). What the Python block
prints must be the block marked `<!-- readme-test: output -->`, word for word, with the interpreter
of make dev's venv and with the oldest and the newest Python the client package supports (each a
venv where `pip install ./layers/client` went: tests/support/client_venvs.py).

The one difference from `make dev`: the stack's parts listen on ephemeral ports, substituted for the
doc's in `local_urls` below, and nothing else is changed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local.template import ROOT
from tests.conftest import World
from tests.support.client_venvs import SUPPORTED, client_venv

DOC = ROOT / "docs" / "token-vending.md"
SECTIONS = ("### Python: `TokenClient`", "### Python: web pages")
BLOCK = re.compile(
    r"<!-- readme-test: (?P<mark>run|output) -->\n```(?P<language>\w+)\n(?P<code>.*?)^```\n", re.M | re.S
)


def section_text(doc: Path, heading: str) -> str:
    """From the line that starts with `heading` to the next heading of its level or above, outside
    code blocks (whose comment lines start with `#` too)."""
    lines = doc.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    level = len(heading) - len(heading.lstrip("#"))
    fenced = False
    for end in range(start + 1, len(lines)):
        line = lines[end]
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return "".join(lines[start:end])
    return "".join(lines[start:])


def marked_blocks(section: str, doc: Path = DOC) -> list[tuple[str, str, str]]:
    """(mark, language, code) of the section's marked blocks, in order."""
    return [(m["mark"], m["language"], m["code"]) for m in BLOCK.finditer(section_text(doc, section))]


@pytest.mark.parametrize("section", SECTIONS)
def test_the_section_marks_what_a_newcomer_runs(section: str) -> None:
    marks = [(mark, language) for mark, language, _ in marked_blocks(section)]
    assert marks == [("run", "bash"), ("run", "python"), ("output", "text")]


def stranger_environment(home: Path) -> dict[str, str]:
    """A shell with nothing set up: PATH and HOME only (HOME is empty: no ~/.aws)."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}


def interpreter(python: str) -> str:
    """make dev's venv (`.venv/bin/python`, where the client is installed), or a vendor's Python."""
    return sys.executable if python == "make dev's" else str(client_venv(python) / "bin" / "python")


@pytest.mark.parametrize("python", ["make dev's", *SUPPORTED])
@pytest.mark.parametrize("section", SECTIONS)
def test_the_readme_examples_run_as_pasted_against_the_local_stack(
    world: World, tmp_path: Path, section: str, python: str
) -> None:
    # The doc's addresses are make dev's defaults; here they are ephemeral ports. This is the
    # only change made to the doc's code.
    local_urls = {"http://127.0.0.1:3000": world.gateway.url, "http://127.0.0.1:3100": world.sandbox.url}

    def localised(code: str) -> str:
        for readme_url, url in local_urls.items():
            code = code.replace(readme_url, url)
        return code

    world.push_ticket()  # make dev's sandbox pushes one on start; the fixture's does not
    blocks = marked_blocks(section)
    (_, _, shell), (_, _, code), (_, _, expected) = blocks
    env = stranger_environment(tmp_path)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", localised(shell)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The push is answered at once and the code exchanged just after (milliseconds, in make dev too).
    assert world.gateway.wait_for_async(timeout=60)
    # The interpreter of a venv the doc's `pip install ./layers/client` went into.
    done = subprocess.run(
        [interpreter(python), "-c", localised(code)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == expected


def test_the_stranger_environment_gives_boto3_no_region_and_no_credentials(tmp_path: Path) -> None:
    # The guard of the test above: without the doc's explicit values, boto3 would fail there.
    probe = "import boto3; s = boto3.session.Session(); print(s.region_name, s.get_credentials())"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=stranger_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "None None"
