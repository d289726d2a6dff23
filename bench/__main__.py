"""`python -m bench [section …]`: runs the sections (all by default) and rewrites docs/BENCHMARKS.md,
keeping the sections not run as they were."""

from __future__ import annotations

import importlib
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "BENCHMARKS.md"
# In the document's order; each is bench/<name>.py.
SECTIONS = ["coldstart", "warm", "crypto", "requests", "sweep", "cost"]
HEADER = """# Benchmarks

`make bench` regenerates this file (`python -m bench [section …]` reruns some sections and keeps the
others). Times are ratios against a baseline measured in the same run: these machines are shared and
noisy, so absolute times are not comparable between runs. Counts are deterministic.
"""


def _split(text: str) -> dict[str, str]:
    parts = re.split(r"^<!-- section: (\w+) -->\n", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def main(argv: list[str]) -> int:
    wanted = argv or SECTIONS
    unknown = [name for name in wanted if name not in SECTIONS]
    if unknown:
        print(f"unknown sections: {', '.join(unknown)}; known: {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    kept = _split(DOCUMENT.read_text(encoding="utf-8")) if DOCUMENT.exists() else {}
    for name in wanted:
        started = time.monotonic()
        print(f"bench: {name} …", flush=True)
        module = importlib.import_module(f"bench.{name}")
        body = module.run()
        took = time.monotonic() - started
        machine = f"{platform.machine()}, Python {platform.python_version()}"
        stamp = f"_Run {time.strftime('%Y-%m-%d')} on {machine}, in {took:.0f} s._\n"
        kept[name] = f"## {module.TITLE}\n\n{body.rstrip()}\n\n{stamp}\n"
    document = HEADER + "\n" + "".join(f"<!-- section: {n} -->\n{kept[n]}" for n in SECTIONS if n in kept)
    DOCUMENT.write_text(document, encoding="utf-8")
    print(f"bench: wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
