"""The benchmarks of issue 13: `make bench` runs every section and rewrites docs/BENCHMARKS.md.

Each section is a module of this package with `TITLE` and `run() -> str` (the section's markdown:
a table, and the command that made it). Timings are ratios measured within one run, against a
baseline measured in the same run, because these machines are shared and noisy; counts (requests,
calls) are deterministic and stated as they are.
"""
