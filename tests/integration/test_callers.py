"""docs/callers.md's examples run as pasted against the local stack (issue 21: any caller, any
language, tested): curl's `POST /tokens` and Lambda Invoke, Node.js's `POST /tokens` signed by the
AWS SDK's signer and its Lambda Invoke. Each shell example is run a second time for an appid nobody
authorized, and must then fail: a script has to be able to tell.

The blocks are found by their markers (`<!-- callers-test: setup -->`, `run NAME`, `output NAME`)
and run in fresh processes that know nothing of this repository or of the developer's shell, as
test_readme.py runs token-vending.md's: PATH, HOME and LANG only. The one change made to them: the local
stack's ephemeral ports for make dev's.

Node.js examples run from a file in a folder beside the packages `examples/node` pins, installed with
`npm ci` into `.venv/node-callers` (again only when the lock file or Node.js changed). Node.js 20 or
newer and npm must be there: a missing one fails, CI allows no skips.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.local.template import ROOT
from tests.conftest import World

DOC = ROOT / "docs" / "callers.md"
EXAMPLES = ROOT / "examples" / "node"
NODE_CACHE = ROOT / ".venv" / "node-callers"
MARKED = re.compile(
    r"<!-- callers-test: (?P<mark>setup|run|output)(?: (?P<name>[\w-]+))? -->\n"
    r"```(?P<language>\w+)\n(?P<code>.*?)^```\n",
    re.M | re.S,
)
ACCOUNT = "wx570bc396a51b8ff8"  # what the setup block authorizes
NEVER = "wx0123456789abcdef"  # what nobody authorizes


def blocks() -> dict[tuple[str, str], tuple[str, str]]:
    """(mark, name) → (language, code)."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for match in MARKED.finditer(DOC.read_text(encoding="utf-8")):
        key = (match["mark"], match["name"] or "")
        assert key not in found, f"{key} is marked twice"
        found[key] = (match["language"], match["code"])
    return found


SHELL = ("curl-tokens", "curl-invoke")
NODE = ("tokens-http", "tokens-invoke")


def test_the_doc_marks_what_make_test_runs() -> None:
    marked = blocks()
    assert set(marked) == {("setup", "")} | {(mark, name) for name in SHELL + NODE for mark in ("run", "output")}
    assert {marked[("run", name)][0] for name in SHELL} == {"bash"}
    assert {marked[("run", name)][0] for name in NODE} == {"js"}


def test_the_node_examples_pin_exact_versions_and_the_doc_names_them() -> None:
    package = json.loads((EXAMPLES / "package.json").read_text())
    lock = json.loads((EXAMPLES / "package-lock.json").read_text())
    doc = DOC.read_text(encoding="utf-8")
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}: {version} is not an exact version"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
        assert f"`{name}` {version}" in doc, f"docs/callers.md does not name {name} {version}"


def stranger_environment(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}


def localised(world: World, code: str) -> str:
    return code.replace("http://127.0.0.1:3000", world.gateway.url).replace("http://127.0.0.1:3100", world.sandbox.url)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = stranger_environment(cwd)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def authorized(world: World, tmp_path: Path) -> None:
    """The doc's setup block: a merchant (the sandbox) authorizes; its code is exchanged just after."""
    world.push_ticket()
    _, setup = blocks()[("setup", "")]
    done = run(["bash", "-euo", "pipefail", "-c", localised(world, setup)], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert world.gateway.wait_for_async(timeout=60)


@pytest.mark.parametrize("name", SHELL)
def test_a_shell_example_vends_as_pasted_and_fails_on_a_refusal(world: World, tmp_path: Path, name: str) -> None:
    authorized(world, tmp_path)
    _, code = blocks()[("run", name)]
    _, expected = blocks()[("output", name)]
    done = run(["bash", "-euo", "pipefail", "-c", localised(world, code)], tmp_path)
    assert (done.returncode, done.stdout) == (0, expected), done.stderr
    # The same script for an appid nobody authorized: it fails, and says why.
    assert f"APPID={ACCOUNT}\n" in code
    refused = run(["bash", "-euo", "pipefail", "-c", localised(world, code).replace(ACCOUNT, NEVER)], tmp_path)
    assert refused.returncode == 1 and refused.stdout == "", refused
    assert refused.stderr.splitlines()[-1].startswith("refused: {"), refused.stderr
    error = json.loads(refused.stderr.splitlines()[-1].removeprefix("refused: "))["error"]
    assert (error["code"], error["reason"]) == ("not_authorized", "unknown")


def node_modules() -> Path:
    """examples/node's packages, installed with `npm ci` as the doc says (kept while the lock holds)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js 20 or newer and npm are needed for docs/callers.md's examples", pytrace=False)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    if int(version.strip().lstrip("v").split(".")[0]) < 20:
        pytest.fail(f"docs/callers.md's examples need Node.js 20 or newer; this is {version.strip()}", pytrace=False)
    files = ("package.json", "package-lock.json")
    stamp = hashlib.sha256(version.encode() + b"".join((EXAMPLES / f).read_bytes() for f in files)).hexdigest()
    NODE_CACHE.parent.mkdir(parents=True, exist_ok=True)
    with (NODE_CACHE.parent / ".node-callers.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # test runs side by side never install at once
        stamp_file = NODE_CACHE / ".installed"
        if not (stamp_file.is_file() and stamp_file.read_text() == stamp):
            shutil.rmtree(NODE_CACHE, ignore_errors=True)
            NODE_CACHE.mkdir()
            for name in files:
                shutil.copy(EXAMPLES / name, NODE_CACHE / name)
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=NODE_CACHE,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(
                    f"npm ci in examples/node failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}", pytrace=False
                )
            stamp_file.write_text(stamp)
    return NODE_CACHE / "node_modules"


@pytest.mark.parametrize("name", NODE)
def test_a_node_example_vends_as_pasted(world: World, tmp_path: Path, name: str) -> None:
    modules = node_modules()
    authorized(world, tmp_path)
    _, code = blocks()[("run", name)]
    _, expected = blocks()[("output", name)]
    (tmp_path / "node_modules").symlink_to(modules)
    script = tmp_path / f"{name}.mjs"
    script.write_text(localised(world, code), encoding="utf-8")
    done = run(["node", script.name], tmp_path)
    assert (done.returncode, done.stdout) == (0, expected), done.stderr
    # A refusal it does not catch ends it with a failure, and the message says why.
    script.write_text(localised(world, code).replace(ACCOUNT, NEVER), encoding="utf-8")
    refused = run(["node", script.name], tmp_path)
    assert refused.returncode == 1, refused
    assert "TokenError: not_authorized (unknown): no merchant has authorized this platform" in refused.stderr
