"""`sam build` (no Docker) lays the core out where Lambda imports it, for the declared architecture,
from the same pinned versions the tests run on (constraints.txt)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from email.parser import HeaderParser
from pathlib import Path

import pytest

from infra.local.template import ROOT

ELF_MACHINE_AARCH64 = 183


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def _normalized(name: str) -> str:
    """PEP 503's normalized project name: `aws_lambda_powertools` and `aws-lambda-powertools` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements or constraints file, by normalized name."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement and not requirement.startswith("-"):
            name, separator, version = requirement.partition("==")
            assert separator and version, f"{path.name}: {line!r} is not pinned"
            found[_normalized(name.strip())] = version.strip()
    return found


def installed(site: Path) -> dict[str, str]:
    """Every distribution pip put in `site`, by normalized name, from its METADATA."""
    found = {}
    for metadata in site.glob("*.dist-info/METADATA"):
        headers = HeaderParser().parsestr(metadata.read_text(encoding="utf-8"))
        found[_normalized(headers["Name"])] = headers["Version"]
    return found


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`sam build` into a fresh directory, as `make build` runs it (no Docker, the venv's python3.12)."""
    work = tmp_path_factory.mktemp("sam")
    bin_dir = Path(sys.executable).parent
    sam = shutil.which("sam", path=str(bin_dir)) or shutil.which("sam")
    assert sam, "aws-sam-cli is part of requirements-dev.txt"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    done = subprocess.run(
        [
            *(sam, "build", "--template", str(ROOT / "template.yaml")),
            *("--build-dir", str(work / "build"), "--cache-dir", str(work / "cache")),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield work / "build"


@pytest.mark.slow
def test_sam_build_puts_the_core_at_python_package_with_arm64_libraries(build: Path) -> None:
    layer = build / "CoreLayer"
    assert (layer / "python" / "wxcomponent" / "__init__.py").is_file()
    assert (layer / "python" / "wxcomponent" / "adapters" / "dynamodb" / "table.py").is_file()
    assert not (layer / "python" / "python").exists()
    native = list((layer / "python" / "Crypto").rglob("*.so"))
    assert native, "pycryptodome's native modules are missing"
    assert {_elf_machine(so) for so in native} == {ELF_MACHINE_AARCH64}
    # Every module ships its bytecode, valid without its source's timestamp (which zipping changes):
    # Lambda's file system is read-only, so a module without it is compiled at every cold start.
    sources = list((layer / "python").rglob("*.py"))
    assert len(sources) > 500  # botocore alone has hundreds
    for source in sources:
        cached = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        assert cached.is_file(), source
        flags = int.from_bytes(cached.read_bytes()[4:8], "little")
        assert flags == 0b01, (source, flags)  # PEP 552: hash-based, unchecked
    function = build / "ComponentEventsFunction"
    assert (function / "app.py").is_file()
    assert not (function / "wxcomponent").exists()  # the core comes from the layer only


@pytest.mark.slow
def test_the_layer_holds_exactly_the_versions_the_tests_run_on(build: Path) -> None:
    """What is deployed is what was tested (review L8): every distribution in the layer, the
    transitive ones too (botocore, s3transfer, jmespath, …), at constraints.txt's pin, which is
    also what `make venv` installs for the tests."""
    constraints = pins(ROOT / "constraints.txt")
    layer = installed(build / "CoreLayer" / "python")
    assert set(pins(ROOT / "layers" / "core" / "requirements.txt")) <= set(layer)
    assert {"botocore", "s3transfer", "jmespath", "python-dateutil", "six"} <= set(layer)  # transitive
    unpinned = set(layer) - set(constraints)
    assert not unpinned, f"pin these in constraints.txt: {sorted(unpinned)}"
    drifted = {name: (version, constraints[name]) for name, version in layer.items() if version != constraints[name]}
    assert not drifted, f"layer version != constraints.txt pin: {drifted}"


def test_the_layer_requirements_agree_with_the_constraints() -> None:
    """The layer's direct pins are the constraints' pins (pip refuses a conflict only at build time)."""
    constraints = pins(ROOT / "constraints.txt")
    for name, version in pins(ROOT / "layers" / "core" / "requirements.txt").items():
        assert constraints.get(name) == version, name
