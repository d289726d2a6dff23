"""`wxcomponent vend` in a shell script (issue 21): the console script, as a script runs it, against the
local stack. A refusal is a failed command (exit code 1) whose one line says why and what to do
next; with `--json`, stdout is the refusal's `{"error": …}` (what a script parses), never empty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import World
from tests.support.pushes import APPID

CONSOLE_SCRIPT = Path(sys.executable).parent / "wxcomponent"  # the dev venv's, installed by make
NEVER = "wx0123456789abcdef"


def wxcomponent(world: World, home: Path, *command: str) -> subprocess.CompletedProcess[str]:
    local = ["--local", "--gateway-url", world.gateway.url, "--sandbox-url", world.sandbox.url]
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "COLUMNS": "200"}
    return subprocess.run(
        [CONSOLE_SCRIPT, *local, *command], cwd=home, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_vend_exits_zero_and_a_refusal_exits_one_with_the_next_step(world: World, tmp_path: Path) -> None:
    world.push_ticket()
    vended = wxcomponent(world, tmp_path, "vend")
    assert vended.returncode == 0, vended.stderr
    refused = wxcomponent(world, tmp_path, "vend", NEVER)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("Error: the token center refused: not_authorized (unknown): "), refused.stderr
    assert "/wechat/authorize" in refused.stderr and "Traceback" not in refused.stderr
    mistaken = wxcomponent(world, tmp_path, "vend", APPID)  # the component's own appid
    assert mistaken.returncode == 1 and "not_authorized (component_appid)" in mistaken.stderr


def test_with_json_a_refusal_is_the_error_body_on_stdout_and_exit_code_one(world: World, tmp_path: Path) -> None:
    world.push_ticket()
    vended = wxcomponent(world, tmp_path, "--json", "vend")
    assert vended.returncode == 0 and json.loads(vended.stdout)["appid"] == APPID
    refused = wxcomponent(world, tmp_path, "--json", "vend", NEVER)
    assert refused.returncode == 1, refused.stderr
    error = json.loads(refused.stdout)["error"]
    assert (error["code"], error["reason"]) == ("not_authorized", "unknown")
    assert "/wechat/authorize" in error["message"]
    # What a script does with it:
    script = f'if ! answer=$("{CONSOLE_SCRIPT}" --local --gateway-url {world.gateway.url} --json vend {NEVER}); then '
    script += (
        "python3 -c \"import json,sys; print(json.load(sys.stdin)['error']['reason'])\" <<<\"$answer\"; exit 3; fi"
    )
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (3, "unknown\n"), done.stderr
