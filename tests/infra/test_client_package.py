"""The vendor's client installs on its own, on every Python a vendor's service runs: built from
layers/client, it holds nothing of the repository and declares what it needs; `pip install
./layers/client` works on the oldest and the newest Python it supports (3.9 and 3.13, each with the
versions layers/client/constraints pins for it, from PyPI), and it imports and works there.

docs/token-vending.md's examples run with both interpreters too (tests/integration/test_readme.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from infra.local.emulator import Emulator
from infra.local.template import ROOT
from tests.conftest import World
from tests.support.client_venvs import CLIENT, NEWEST, OLDEST, SUPPORTED, client_venv, constraints
from tests.support.operator_cli import local_args
from tests.support.pushes import APPID

ACCOUNT = "wx570bc396a51b8ff8"  # the sandbox's release-test Official Account


def _run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, CLIENT, cwd=out)
    (built,) = out.glob("wxcomponent_client-*.whl")
    return built


def _pins(requirements: Path) -> dict[str, str]:
    pins = {}
    for line in requirements.read_text().splitlines():
        name, _, version = line.partition("==")
        if version and not name.lstrip().startswith("#"):
            pins[name.split("[")[0].strip().lower()] = version.strip()
    return pins


def _floors(requirements: list[str]) -> dict[str, str]:
    """`boto3>=1.34.0,<2` → {"boto3": "1.34.0"}: what each requirement admits at least."""
    floors = {}
    for requirement in requirements:
        found = re.fullmatch(r"([\w-]+)\s*\(?([^);]*)\)?", requirement.split(";")[0].strip())
        assert found is not None, requirement
        specifiers = [s.strip() for s in found[2].split(",")]
        (floor,) = [s.removeprefix(">=") for s in specifiers if s.startswith(">=")]
        assert any(s.startswith("<") for s in specifiers), f"{requirement}: no upper bound"
        floors[found[1].lower()] = floor
    return floors


def _admits(requirement: str, version: str) -> bool:
    """Whether `version` is within `requirement`'s bounds (>= and < only, as ours are written)."""

    def key(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", text)[:3])

    specifiers = re.sub(r"^[\w-]+\s*\(?|\)?$", "", requirement.split(";", maxsplit=1)[0].strip())
    bounds = [s.strip() for s in specifiers.split(",")]
    return all(key(version) >= key(b[2:]) if b.startswith(">=") else key(version) < key(b[1:]) for b in bounds if b)


def test_the_wheel_holds_the_client_and_cli_only_and_admits_what_it_is_tested_with(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert packages == {"wxcomponent_client"}  # never the core, the tests or infra
    assert "wxcomponent_client/py.typed" in names and "wxcomponent_client/cli/app.py" in names
    # The table's key formats: the core's own module, carried whole (the CLI reads the table on 3.9).
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("wxcomponent_client/keys.py") == (ROOT / "layers/core/wxcomponent/keys.py").read_bytes()
    assert metadata["Name"] == "wxcomponent-client"
    assert metadata["Requires-Python"] == f">={OLDEST}"
    # A library's ranges, not an application's pins: a vendor's service keeps its own boto3. The
    # floors are what the oldest Python is tested with; the newest Python is tested with the layer's
    # own pins, which the ranges admit.
    required = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert _floors(required) == {
        name: version for name, version in _pins(constraints(OLDEST)).items() if name in ("boto3", "urllib3")
    }
    core = _pins(ROOT / "layers" / "core" / "requirements.txt")
    newest = _pins(constraints(NEWEST))
    for requirement in required:
        name = re.split(r"[\s<>=!(;]", requirement, maxsplit=1)[0].lower()
        assert _admits(requirement, core[name]) and newest[name] == core[name], requirement
    dev = _pins(ROOT / "constraints.txt")
    assert all(dev[name] == version for name, version in newest.items()), newest  # the dev venv's own
    # The operator CLI's extra: Click and Rich as requirements-dev.txt pins them, the core's own needs
    # as the layer pins them; and its console script.
    dev_tools = _pins(ROOT / "requirements-dev.txt")
    cli = sorted(r.split(";")[0].strip() for r in metadata.get_all("Requires-Dist") or [] if 'extra == "cli"' in r)
    assert cli == sorted(
        [
            f"click=={dev_tools['click']}",
            f"rich=={dev_tools['rich']}",
            f"aws-lambda-powertools=={core['aws-lambda-powertools']}",
            f"pycryptodome=={core['pycryptodome']}",
            f"defusedxml=={core['defusedxml']}",
        ]
    )
    assert "wxcomponent = wxcomponent_client.cli:main" in entry_points


def test_the_package_names_the_pythons_it_is_tested_on() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={OLDEST}"
    versions = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"] if re.fullmatch(r".* :: 3\.\d+", c)]
    assert versions == [f"3.{minor}" for minor in range(int(OLDEST[2:]), int(NEWEST[2:]) + 1)]
    assert sorted(p.name for p in (CLIENT / "constraints").iterdir()) == sorted(f"python{v}.txt" for v in SUPPORTED)


PROBE = """
import io, json, sys
import boto3, urllib3, wxcomponent_client
from wxcomponent_client import TokenClient, TokenError, WeChatError, jsapi_signature, verify_authorized_redirect

class Lambda:
    def __init__(self, body):
        self.body = body
    def invoke(self, *, FunctionName, Payload):
        return {"Payload": io.BytesIO(json.dumps(self.body).encode())}

print(wxcomponent_client.__file__)
print("%d.%d" % sys.version_info[:2], boto3.__version__, urllib3.__version__)
token = {"kind": "component", "appid": "wx5a0d8c0ffee5a4d1", "access_token": "t", "expires_at": 2**40}
print(TokenClient(lambda_client=Lambda(token)).get_token())
refusal = {"error": {"code": "not_authorized", "reason": "unknown", "message": "send the merchant to authorize"}}
try:
    TokenClient(lambda_client=Lambda(refusal)).get_token("wx0123456789abcdef")
except TokenError as error:
    print(error.code, error.reason)
print(len(jsapi_signature("ticket", "nonce", 1, "https://shop.example/")))
try:
    import wxcomponent
except ModuleNotFoundError:
    print("no core")
"""


@pytest.mark.parametrize("version", SUPPORTED)
def test_pip_installs_it_on_the_oldest_and_newest_python_and_it_works_there(version: str, tmp_path: Path) -> None:
    venv = client_venv(version)
    assert (venv / "bin" / "wxcomponent").is_file()  # the console script, whatever extras were asked
    pins = _pins(constraints(version))
    lines = _run(venv / "bin" / "python", "-I", "-c", PROBE, cwd=tmp_path).splitlines()
    assert Path(lines[0]).is_relative_to(venv), lines[0]
    assert lines[1:] == [
        f"{version} {pins['boto3']} {pins['urllib3']}",
        "Token(access_token=<redacted>, expires_at=1099511627776, appid='wx5a0d8c0ffee5a4d1')",
        "not_authorized unknown",
        "40",
        "no core",
    ]


@pytest.mark.parametrize("version", SUPPORTED)
def test_the_console_script_without_the_cli_extra_says_what_to_install(version: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [client_venv(version) / "bin" / "wxcomponent", "--local", "status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (
        1,
        "wxcomponent: the operator CLI needs its extra: pip install './layers/client[cli]' (click is missing)\n",
    )


def test_the_operator_cli_on_the_oldest_python_vends_and_says_what_needs_the_core(
    world: World, emulator: Emulator, table: str, event_bus: str, tmp_path: Path
) -> None:
    """Click and Rich run on 3.9: vend, refresh, authorizers and events need nothing else. The
    commands that run the core (3.12, the Lambda runtime's) say so in one line."""
    world.push_ticket()
    assert world.control("POST", "authorize", {"appid": ACCOUNT})["delivery"]["ok"]
    script = client_venv(OLDEST, "cli") / "bin" / "wxcomponent"
    local = local_args(world, emulator, table, event_bus)

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        return subprocess.run(
            [script, *local, *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
        )

    vended = run("--json", "vend")
    assert vended.returncode == 0, vended.stderr
    assert json.loads(vended.stdout)["appid"] == APPID
    # Reads the table with the keys the core writes: wxcomponent_client/keys.py is the core's file.
    listed = run("--json", "authorizers")
    assert listed.returncode == 0, listed.stderr
    assert [(row["appid"], row["state"]) for row in json.loads(listed.stdout)] == [(ACCOUNT, "authorized")]
    status = run("status")
    assert status.returncode == 1 and "Traceback" not in status.stderr, status.stderr
    assert (
        f"this command runs the token center's core, which needs Python 3.12 or newer (this is {OLDEST})"
        in status.stderr
    )
