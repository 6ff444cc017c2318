"""The lint step: cfn-lint in-process, with all checks and the edge rules, for each template.

Results come from the lint cache (templates/lint_cache.py) where the key matches; the other
templates are linted on several processes, each finding list sorted, in the order given.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

from templates.lint_cache import LintCache


@dataclass(frozen=True)
class LintRequest:
    """One template's bytes and the regions to lint it for."""

    body: bytes
    regions: tuple[str, ...]


@dataclass(frozen=True)
class LintResults:
    """The findings of each request, in request order, and how many came from the cache."""

    findings: list[list[str]]
    from_cache: int


def format_match(match) -> str:
    """`E3002 message (line 12)`: the rule id, its message and where."""
    return f"{match.rule.id} {match.message} (line {match.linenumber})"


def default_jobs() -> int:
    """The number of cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def lint_templates(requests: Sequence[LintRequest], jobs: int = 1, cache: LintCache | None = None,
                   read_cache: bool = True) -> LintResults:
    """Findings for every request: cached ones read, the rest linted on up to ``jobs`` processes and stored.

    ``read_cache=False`` lints everything afresh and still refreshes the cache.
    """
    keys = [cache.key(r.body, r.regions) if cache is not None else None for r in requests]
    cached: dict[int, list[str]] = {}
    if cache is not None and read_cache:
        for i, key in enumerate(keys):
            stored = cache.get(key) if key is not None else None
            if stored is not None:
                cached[i] = stored
    todo = [i for i in range(len(requests)) if i not in cached]
    fresh = dict(zip(todo, _lint_in_processes([requests[i] for i in todo], jobs) if todo else []))
    if cache is not None and todo:
        for i in todo:
            if keys[i] is not None:
                cache.put(keys[i], fresh[i])
        cache.prune()
    return LintResults([cached[i] if i in cached else fresh[i] for i in range(len(requests))], len(cached))


def lint_environment(files: dict[str, bytes], regions: list[str], jobs: int = 1) -> dict[str, list[str]]:
    """File name -> findings (errors, warnings and informational) for every linted region; no cache."""
    results = lint_templates([LintRequest(body, tuple(regions)) for body in files.values()], jobs)
    return dict(zip(files, results.findings))


def lint_one(request: LintRequest) -> list[str]:
    """The sorted findings of one template (this process loads cfn-lint and the rules on first use)."""
    # Imported here: loading cfn-lint takes about 1.5 s, which `generate.py --no-lint` and a run
    # served from the cache should not pay.
    from templates.lint_rules import lint_template

    return sorted(format_match(m) for m in lint_template(request.body.decode(), list(request.regions)))


class LintError(Exception):
    """Linting could not finish (a worker process died)."""


def _lint_in_processes(requests: list[LintRequest], jobs: int) -> list[list[str]]:
    """lint_one over ``requests`` on up to ``jobs`` worker processes (here when one is enough); results in order."""
    workers = min(jobs, len(requests))
    if workers <= 1:
        with _cfn_lint_loaded():
            return [lint_one(r) for r in requests]

    import multiprocessing

    if not _can_fork():
        return _lint_in_pool(requests, workers, multiprocessing.get_context("spawn"), _start_spawned_worker)
    # Load cfn-lint and the rules once, here, and fork: every worker inherits them, where a spawned
    # worker would spend ~1.7 s of CPU importing them again.
    with _cfn_lint_loaded():
        return _lint_in_pool(requests, workers, multiprocessing.get_context("fork"), _ignore_sigint)


def _lint_in_pool(requests: list[LintRequest], workers: int, context, initializer) -> list[list[str]]:
    """lint_one over ``requests`` on ``workers`` processes started by ``context``; results in order."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # Longest first, handed out one at a time: the last template to finish is a short one.
    order = sorted(range(len(requests)), key=lambda i: -_estimated_cost(requests[i]))
    results: list[list[str]] = [[] for _ in requests]
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer)
    try:
        for i, findings in zip(order, pool.map(lint_one, [requests[i] for i in order])):
            results[i] = findings
    except BrokenProcessPool as exc:
        raise LintError(f"a lint worker process died ({exc}); `--jobs 1` lints in this process") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C or an error: no template after the current ones
    return results


def _load_cfn_lint() -> None:
    """Load cfn-lint and the rules in this process, with the cycle collector paused while they load.

    Loading creates ~600,000 long-lived objects; the collector would rescan the growing heap again
    and again (about a fifth of the loading time). Frozen afterwards, they stay out of later scans,
    and forked workers do not write to (and so copy) the pages that hold them.
    """
    gc.disable()
    try:
        from templates.lint_rules import _rules

        _rules()
    finally:
        gc.enable()
    gc.freeze()


@contextmanager
def _cfn_lint_loaded() -> Iterator[None]:
    """_load_cfn_lint(), and what it froze back under the collector afterwards."""
    _load_cfn_lint()
    try:
        yield
    finally:
        gc.unfreeze()


def _can_fork() -> bool:
    """Fork where it is safe: not on macOS, whose system libraries break in a forked child; Windows cannot."""
    import multiprocessing

    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


def _estimated_cost(request: LintRequest) -> int:
    """Lint time grows with the template's structure (its lines; inline code is one line) and its regions."""
    return request.body.count(b"\n") * len(request.regions)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool (no traceback from every worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_spawned_worker() -> None:
    """A spawned worker loads cfn-lint and the rules before its first template."""
    _ignore_sigint()
    _load_cfn_lint()
