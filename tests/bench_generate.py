#!/usr/bin/env python3
"""Benchmark of generate.py: wall time and peak memory, and the cost of linting against cfn-lint alone.

    python tests/bench_generate.py [--runs 7]

Prints, for every environment in config/:
  * `generate.py --no-lint`: median wall time and peak resident memory (targets: 0.5 s, 150 MB);
  * `generate.py` with linting, and the cfn-lint command line alone over the same output files
    (every template for us-east-1 and us-west-2, with the edge rules and informational checks),
    and their ratio (target: at most 1.25).
Each run is a fresh process, as a user runs it; output goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CFN_LINT = str(Path(PYTHON).with_name("cfn-lint"))


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of one child process (exit status must be 0)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=PROJECT)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def median_of(command: list[str], runs: int) -> tuple[float, float]:
    samples = [timed(command) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement (median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "output"
        generate = [PYTHON, str(PROJECT / "generate.py"), "--output", str(out)]
        subprocess.run(generate + ["--no-lint"], check=True, capture_output=True)
        files = sorted(str(p) for p in out.rglob("*.json"))

        no_lint_time, no_lint_rss = median_of(generate + ["--no-lint"], args.runs)
        lint_time, lint_rss = median_of(generate, args.runs)
        cli = [CFN_LINT, "--include-checks", "I", "--append-rules", str(PROJECT / "templates" / "lint_rules"),
               "--regions", "us-east-1", "us-west-2", "--", *files]
        cli_time, cli_rss = median_of(cli, args.runs)

    print(f"templates generated: {len(files)} (every environment in config/), {args.runs} runs each, median")
    print(f"generate.py --no-lint   {no_lint_time:6.3f} s   peak {no_lint_rss:6.1f} MB   "
          f"(targets 0.5 s, 150 MB: {'met' if no_lint_time <= 0.5 and no_lint_rss <= 150 else 'MISSED'})")
    print(f"generate.py (lint)      {lint_time:6.3f} s   peak {lint_rss:6.1f} MB")
    print(f"cfn-lint CLI alone      {cli_time:6.3f} s   peak {cli_rss:6.1f} MB")
    ratio = lint_time / cli_time
    print(f"generate with lint / cfn-lint alone = {ratio:.2f} (target at most 1.25: "
          f"{'met' if ratio <= 1.25 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
