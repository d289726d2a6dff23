"""The vendor's client installs on its own: a wheel built from layers/client, installed into a fresh
venv that holds nothing of the repository, imports and works there. Offline: the dev venv's
setuptools builds it (no build isolation), and the fresh venv borrows the dev venv's boto3 and urllib3
through PYTHONPATH instead of downloading them."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from infra.local.template import ROOT

CLIENT = ROOT / "layers" / "client"


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
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
        if version:
            pins[name.split("[")[0].strip().lower()] = version.strip()
    return pins


def test_the_wheel_holds_the_client_and_cli_only_and_pins_the_cores_versions(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert packages == {"wxcomponent_client"}  # never the core, the tests or infra
    assert "wxcomponent_client/py.typed" in names and "wxcomponent_client/cli/app.py" in names
    core = _pins(ROOT / "layers" / "core" / "requirements.txt")
    required = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert sorted(required) == [f"boto3=={core['boto3']}", f"urllib3=={core['urllib3']}"]
    assert metadata["Name"] == "wxcomponent-client"
    # The operator CLI's extra: Click and Rich as requirements-dev.txt pins them, the core's own needs
    # as the layer pins them; and its console script.
    dev = _pins(ROOT / "requirements-dev.txt")
    cli = sorted(r.split(";")[0].strip() for r in metadata.get_all("Requires-Dist") or [] if 'extra == "cli"' in r)
    assert cli == sorted(
        [
            f"click=={dev['click']}",
            f"rich=={dev['rich']}",
            f"aws-lambda-powertools=={core['aws-lambda-powertools']}",
            f"pycryptodome=={core['pycryptodome']}",
            f"defusedxml=={core['defusedxml']}",
        ]
    )
    assert "wxcomponent = wxcomponent_client.cli:main" in entry_points


def test_a_fresh_venv_imports_and_uses_it(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    assert (venv / "bin" / "wxcomponent").is_file()  # the console script, whatever extras were asked
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        # boto3 and urllib3 from the dev venv (pip would fetch the same pins); nothing of the repo.
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
    }
    probe = """
import io, json, wxcomponent_client
from wxcomponent_client import TokenClient

class Lambda:
    def invoke(self, *, FunctionName, Payload):
        body = {"kind": "component", "appid": "wx5a0d8c0ffee5a4d1", "access_token": "t", "expires_at": 2**40}
        return {"Payload": io.BytesIO(json.dumps(body).encode())}

print(wxcomponent_client.__file__)
print(TokenClient(lambda_client=Lambda()).get_token())
try:
    import wxcomponent
except ModuleNotFoundError:
    print("no core")
"""
    lines = _run(python, "-c", probe, cwd=tmp_path, env=env).splitlines()
    assert Path(lines[0]).is_relative_to(venv), lines[0]
    token = "Token(access_token=<redacted>, expires_at=1099511627776, appid='wx5a0d8c0ffee5a4d1')"
    assert lines[1:] == [token, "no core"]
