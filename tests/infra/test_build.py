"""`sam build` (no Docker) lays the core out where Lambda imports it, for the declared architecture."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local.template import ROOT

ELF_MACHINE_AARCH64 = 183


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


@pytest.mark.slow
def test_sam_build_puts_the_core_at_python_package_with_arm64_libraries(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    sam = shutil.which("sam", path=str(bin_dir)) or shutil.which("sam")
    assert sam, "aws-sam-cli is part of requirements-dev.txt"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    build = subprocess.run(
        [
            sam,
            "build",
            "--template",
            str(ROOT / "template.yaml"),
            "--build-dir",
            str(tmp_path / "build"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    layer = tmp_path / "build" / "CoreLayer"
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
    function = tmp_path / "build" / "ComponentEventsFunction"
    assert (function / "app.py").is_file()
    assert not (function / "wxcomponent").exists()  # the core comes from the layer only
