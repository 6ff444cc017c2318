#!/usr/bin/env python3
"""Benchmark of generate.py: wall time and peak memory, linting against the cfn-lint command line alone.

    python tests/bench_generate.py [--runs 7]

Prints, over every environment in config/ (median of --runs rounds; in a round every command runs
once, each a fresh process as a user runs it; a ratio is taken within each round, against that
round's command line, so that a change in the machine's load hits both sides of it):
  * `generate.py --no-lint` (targets: 0.5 s, 150 MB);
  * the cfn-lint command line alone over the same output files, each environment's templates for
    that environment's regions (one cfn-lint run per environment, since the command line takes one
    region list), with the edge rules and informational checks: the reference of the ratios;
  * `generate.py` repeated with nothing changed, every result from the lint cache (target: at most
    0.25 of the command line);
  * `generate.py --no-cache`, linting everything on every core (target: at most 0.75 on 2 cores);
  * `generate.py --no-cache --jobs 1`, linting on one process (the former target: at most 1.25).
Peak memory: the largest resident set of one process (all runs) and the peak of the proportional
set size summed over the process and its workers (one extra run per command, sampled every 20 ms;
pages a forked worker shares with its parent count once). How busy the machine was: the load
averages before and after, and the cores other processes used during each command's runs; on a
shared machine `--wait-quiet` starts each round only once the others are (nearly) idle.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CFN_LINT = str(Path(PYTHON).with_name("cfn-lint"))


def busy_cpu_seconds() -> float:
    """CPU seconds every process of the machine has used since boot (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, the largest single-process peak RSS in MB, and the cores other processes kept busy
    meanwhile (the machine's busy time less this run's own CPU time, per wall second) of one run."""
    busy = busy_cpu_seconds()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=PROJECT)
    _, status, usage = os.wait4(process.pid, 0)  # the usage includes the run's worker processes
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    others = max(0.0, busy_cpu_seconds() - busy - usage.ru_utime - usage.ru_stime) / elapsed
    return elapsed, usage.ru_maxrss / 1024, others


def wait_until_quiet(limit: float, patience: float) -> float:
    """Wait (at most ``patience`` s) until other processes used under ``limit`` cores for 3 s; the cores they used."""
    deadline = time.monotonic() + patience
    while True:
        busy = busy_cpu_seconds()
        time.sleep(3)
        others = (busy_cpu_seconds() - busy) / 3
        if others < limit or time.monotonic() > deadline:
            return others


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it (from the parent ids in /proc/<pid>/stat)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(parents.get(pid, []))
    return tree


def _pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_peak_pss(command: list[str]) -> float:
    """Peak of the summed PSS in MB of one run's process tree, sampled every 20 ms."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT)
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(_pss_mb(pid) for pid in _descendants(process.pid)))
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    process.wait()
    done.set()
    sampler.join()
    return peak


def environment_regions() -> dict[str, tuple[str, ...]]:
    """Environment name -> the regions generate.py lints its templates for (every instance region)."""
    sys.path.insert(0, str(PROJECT))
    from templates.config import environment_names, load_environment

    return {name: load_environment(name).regions for name in environment_names()}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (the median is reported)")
    parser.add_argument("--wait-quiet", action="store_true",
                        help="before each round, wait until other processes use under 0.2 cores (at most 10 min)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        out, cache = Path(tmp) / "output", Path(tmp) / "lint-cache"
        generate = [PYTHON, str(PROJECT / "generate.py"), "--output", str(out), "--cache-dir", str(cache)]
        subprocess.run(generate + ["--no-lint"], check=True, capture_output=True)
        files = sorted(str(p) for p in out.rglob("*.json"))
        # The command line takes one region list, and the environments lint for different regions:
        # one cfn-lint run per environment, over its files, for its regions (as a CI job would).
        cli = " && ".join(
            shlex.join([CFN_LINT, "--include-checks", "I", "--append-rules", str(PROJECT / "templates" / "lint_rules"),
                        "--regions", *regions, "--", *sorted(str(p) for p in (out / name).glob("*.json"))])
            for name, regions in environment_regions().items()
        )
        subprocess.run(generate, check=True, capture_output=True)  # fills the cache for the repeat runs
        commands = {
            "generate.py --no-lint": generate + ["--no-lint"],
            "cfn-lint command line": ["sh", "-c", cli],
            "generate.py (repeat, cached)": generate,
            "generate.py --no-cache": generate + ["--no-cache"],
            "generate.py --no-cache --jobs 1": generate + ["--no-cache", "--jobs", "1"],
        }
        load_before = load()
        samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            if args.wait_quiet:
                wait_until_quiet(0.2, 600)
            for name, command in commands.items():
                samples[name].append(timed(command))
        tree = {name: tree_peak_pss(command) for name, command in commands.items()}
        load_after = load()

    wall = {name: statistics.median(s[0] for s in runs) for name, runs in samples.items()}
    rss = {name: max(s[1] for s in runs) for name, runs in samples.items()}
    cli_runs = [s[0] for s in samples["cfn-lint command line"]]
    ratio = {name: statistics.median(s[0] / cli for s, cli in zip(runs, cli_runs)) for name, runs in samples.items()}
    print(f"templates: {len(files)} (every environment in config/); {args.runs} runs each, median; "
          f"{cores} cores; load average {load_before} before, {load_after} after")
    print("'others': cores kept busy by other processes during the runs of a command (median, of "
          f"{cores}); every ratio is against the command line of the same round")
    print(f"{'':34}{'wall':>8}  {'/ cfn-lint':>10}  {'peak RSS':>9}  {'peak tree PSS':>13}  {'others':>6}")
    for name in commands:
        others = statistics.median(s[2] for s in samples[name])
        print(f"{name:34}{wall[name]:7.3f}s  {ratio[name]:9.2f}x  {rss[name]:6.1f} MB  {tree[name]:10.1f} MB  "
              f"{others:6.2f}")
    no_lint = wall["generate.py --no-lint"]
    print(f"generate.py --no-lint: targets 0.5 s and 150 MB: {verdict(no_lint <= 0.5 and rss['generate.py --no-lint'] <= 150)}")
    cached = ratio["generate.py (repeat, cached)"]
    print(f"repeat with nothing changed: {cached:.2f}x the command line, target at most 0.25: {verdict(cached <= 0.25)}")
    fresh = ratio["generate.py --no-cache"]
    note = "" if cores == 2 else f" (the target is set for 2 cores; this machine has {cores})"
    print(f"--no-cache on every core: {fresh:.2f}x, target at most 0.75: {verdict(fresh <= 0.75)}{note}")
    serial = ratio["generate.py --no-cache --jobs 1"]
    print(f"--no-cache --jobs 1: {serial:.2f}x, former target at most 1.25: {verdict(serial <= 1.25)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
