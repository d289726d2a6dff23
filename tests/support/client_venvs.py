"""The client package as a vendor's service installs it, on the oldest and the newest Python it
supports: a venv of that interpreter, then `pip install ./layers/client` from PyPI, with the versions
`layers/client/constraints/python<version>.txt` pins for it.

Each venv is kept under `.venv/clients/` and built again only when the interpreter, its constraints
or anything in `layers/client` changed: a fresh machine (CI's) builds both, about 10 s each; a
developer's next run reuses them. Builds take a lock, so test runs side by side never build one
venv twice at once. A missing interpreter fails the test that asks for it: CI allows no skips.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.local.template import ROOT

CLIENT = ROOT / "layers" / "client"
OLDEST, NEWEST = "3.9", "3.13"  # pyproject.toml's requires-python, and its newest classifier
SUPPORTED = (OLDEST, NEWEST)
CACHE = ROOT / ".venv" / "clients"
BUILD_TIMEOUT = 600  # a first build downloads boto3 and its dependencies


def constraints(version: str) -> Path:
    return CLIENT / "constraints" / f"python{version}.txt"


def candidates(version: str) -> list[str]:
    """Where a Python `version` may be, as infra/python312.sh looks for 3.12: PATH, pyenv, /usr."""
    pyenv = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")), reverse=True)
    return [f"python{version}", *pyenv, f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]


def find_python(version: str) -> Path:
    """An interpreter of `version` (major.minor), or the test fails saying where it looked."""
    for candidate in candidates(version):
        found = shutil.which(candidate)
        if found is None:
            continue
        probe = subprocess.run(
            [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if probe.stdout.strip() == version:
            return Path(found)
    pytest.fail(
        f"no Python {version} found (looked for {', '.join(candidates(version))}): the client package is "
        f"tested on the oldest and the newest Python it supports ({', '.join(SUPPORTED)}). "
        f"Install it, e.g. `pyenv install {version}`.",
        pytrace=False,
    )


def _client_files() -> list[Path]:
    """What pip builds the package from (not what building it leaves beside it)."""
    files = [CLIENT / "pyproject.toml", CLIENT / "README.md", *sorted((CLIENT / "wxcomponent_client").rglob("*"))]
    return [f for f in files if f.is_file() and "__pycache__" not in f.parts]


def _stamp(python: Path, version: str) -> str:
    digest = hashlib.sha256()
    full = subprocess.run([python, "-VV"], capture_output=True, text=True, timeout=30, check=True).stdout
    digest.update(f"{python}\n{full}\n".encode())
    for path in [constraints(version), *_client_files()]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@contextmanager
def _locked() -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def client_venv(version: str, extra: str = "") -> Path:
    """The venv of Python `version` with the client package installed from this checkout, as the
    README tells a vendor to (its `bin/python`, `bin/wxcomponent`); with `extra="cli"`, as
    docs/operator-cli.md tells an operator to (a venv of its own)."""
    python = find_python(version)
    venv = CACHE / (f"python{version}-{extra}" if extra else f"python{version}")
    with _locked():
        stamp = _stamp(python, version) + extra
        stamp_file = venv / ".installed"
        if stamp_file.is_file() and stamp_file.read_text() == stamp:
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        _run([python, "-m", "venv", venv])
        # From a scratch directory, as a vendor's service would: nothing of this repository but the
        # path given to pip.
        pip: list[str | Path] = [
            venv / "bin" / "python",
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
        ]
        _run([*pip, "-c", constraints(version), f"{CLIENT}[{extra}]" if extra else CLIENT], cwd=CACHE)
        stamp_file.write_text(stamp)
        return venv


def _run(command: list[str | Path], cwd: Path | None = None) -> None:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        # pip's own words: the reason a vendor would see (a Python it refuses, a pin it cannot find).
        errors = [line for line in (done.stdout + done.stderr).splitlines() if "is ignored" not in line]
        pytest.fail(f"{' '.join(map(str, command))} failed:\n" + "\n".join(errors[-40:]), pytrace=False)
