"""A bounded coverage-guided run (atheris, libFuzzer) over the crypto and XML path of every push
(tests/fuzz/push_path.py): no input may end in anything but a `BadRequest`. Its own process, since
libFuzzer owns the process it runs in. WXCOMPONENT_FUZZ_RUNS: 50,000 in `make test`, 1,000,000 in
`make soak`; the seed is fixed, so a run is repeatable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.fuzz.push_inputs import seeds

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("WXCOMPONENT_FUZZ_RUNS", "50000"))


def test_the_push_path_survives_a_coverage_guided_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in seeds().items():
        (corpus / name).write_bytes(data)
    run = subprocess.run(
        [
            *(sys.executable, "-m", "tests.fuzz.push_path", f"-runs={RUNS}", "-seed=1", "-max_len=4096"),
            *("-timeout=10", "-rss_limit_mb=1024", f"-artifact_prefix={tmp_path}/", str(corpus)),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), str(ROOT)])},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    report = run.stderr[-4000:]
    assert run.returncode == 0, report
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*")), report
    assert f"Done {RUNS} runs" in run.stderr, report
    started = re.search(r"INITED cov: (\d+)", run.stderr)
    finished = re.search(r"DONE\s+cov: (\d+)", run.stderr)
    assert started and finished, report
    # The guidance works: the fuzzer reached code the seeds did not.
    assert int(finished.group(1)) > int(started.group(1)), report
    print(f"runs: {RUNS}, coverage {started.group(1)} -> {finished.group(1)} edges")
