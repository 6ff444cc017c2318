"""`site sync`, `site releases` and `site rollback`, account by account.

Every check that can refuse the command (the directory, the edge configuration, the environment and
each account being deployed, each publisher role, the release to restore) runs for every account
before the first write to any of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import botocore.exceptions

from rollout.aws import Clients, error_code, error_message
from rollout.console import Console
from rollout.errors import InputError, RolloutFailed
from sitepublish.bucket import Bucket, list_objects
from sitepublish.cache_rules import CacheRules
from sitepublish.content import LocalFile, LocalSite, scan
from sitepublish.invalidation import DEFAULT_MAX_PATHS, create_invalidation, wait_for_invalidation
from sitepublish.plan import WAVE_NAMES, Plan, RemoteObject, Wanted, keys_to_head, plan
from sitepublish.progress import TransferProgress, format_bytes
from sitepublish.releases import Release, ReleaseStore, format_time, parse_time, release_id
from sitepublish.targets import PublisherClients, SiteTarget, publisher_clients, resolve_targets
from templates.config import EnvConfig
from templates.s3 import SITE_STATE_PREFIX

# How long a file that left the site stays in the bucket: old HTML still cached by CloudFront or
# open in a browser keeps finding the assets it references (an open single-page app lazy-loads
# chunks for days).
DEFAULT_GRACE = timedelta(days=7)
DEFAULT_CONCURRENCY = 16
# Lines of each kind a dry run lists before "... and N more".
SHOWN_LINES = 50


@dataclass
class AccountResult:
    """What one account got, for the summary table."""

    target: SiteTarget
    status: str
    release: str = ""
    uploaded: int = 0
    uploaded_bytes: int = 0
    rewritten: int = 0
    restored: int = 0
    unchanged: int = 0
    deleted: int = 0
    pending: int = 0
    paths: list[str] = field(default_factory=list)
    invalidation_id: str | None = None
    seconds: float = 0.0


class AccountRun:
    """One account's bucket, releases and distribution, through its site publisher role."""

    def __init__(self, publisher: PublisherClients, console: Console, concurrency: int,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.target = publisher.target
        self.cloudfront = publisher.cloudfront
        self.console = console
        self.clock = clock
        self.sleep = sleep
        self.bucket = Bucket(publisher.s3, self.target.bucket, console, self.target.account, self.target.region,
                             concurrency)
        self.store = ReleaseStore(publisher.s3, self.target.bucket)
        self.began = clock()

    @property
    def where(self) -> str:
        return f"account {self.target.account} (s3://{self.target.bucket}, distribution {self.target.distribution_id})"

    # --- reading and planning ---------------------------------------------------------------------

    def read(self, wanted: dict[str, Wanted]) -> tuple[list[str], Release | None, dict[str, RemoteObject], dict]:
        """Release ids, the live release, the bucket listing, and HeadObject for what the manifest cannot vouch for."""
        ids = self.store.ids()
        live = self.store.latest(ids)
        remote = list_objects(self.bucket.s3, self.bucket.name)
        heads = self.bucket.head_all(keys_to_head(wanted, remote, live))
        return ids, live, remote, {key: record for key, record in heads.items() if record is not None}

    def describe(self, the_plan: Plan, paths: list[str], grace: timedelta | None, now: datetime,
                 detailed: bool) -> None:
        counts = {action: sum(1 for t in the_plan.transfers if t.action == action)
                  for action in ("upload", "headers", "restore")}
        parts = [f"{counts['upload']} to upload ({format_bytes(the_plan.transfer_bytes)})"]
        if counts["headers"]:
            parts.append(f"{counts['headers']} header rewrite(s)")
        if counts["restore"]:
            parts.append(f"{counts['restore']} to restore from their versions")
        parts.append(f"{len(the_plan.unchanged)} unchanged")
        parts.append(f"{len(the_plan.deletions)} to delete, {len(the_plan.pending)} waiting for deletion")
        parts.append(f"{len(paths)} invalidation path(s)")
        self.console.line(f"{self.where}: " + ", ".join(parts))
        for warning in the_plan.warnings:
            self.console.line(f"  warning: {warning}")
        if not detailed:
            return
        lines = [f"  {WAVE_NAMES[t.wave]:<6} {t.action:<7} {t.reason:<7} {t.key}"
                 + (f" ({format_bytes(t.size)})" if t.action == "upload" else "") for t in the_plan.transfers]
        lines += [f"  delete         {key}" for key in the_plan.deletions]
        for key, waiting in sorted(the_plan.pending.items()):
            due = f"from {format_time(parse_time(waiting.since) + grace)}" if grace is not None else "by a later sync"
            lines.append(f"  keep           {key} (left the site {waiting.since}; deleted {due})")
        lines += [f"  invalidate     {path}" for path in paths]
        for line in lines[:SHOWN_LINES]:
            self.console.line(line)
        if len(lines) > SHOWN_LINES:
            self.console.line(f"  ... and {len(lines) - SHOWN_LINES} more")

    # --- writing ----------------------------------------------------------------------------------

    def apply(self, the_plan: Plan, paths: list[str], files: dict[str, LocalFile], ids: list[str],
              now: datetime, release_name: str, make_release: Callable[[dict, str | None, tuple[str, ...]], Release],
              wait: bool, status: str) -> AccountResult:
        """Lock, write wave by wave, delete, invalidate, record the release `release_name`, unlock."""
        self.store.acquire(now, f"{status} {release_name}")
        failure: Exception | None = None
        try:
            if self.store.ids()[-1:] != ids[-1:]:
                raise RolloutFailed(f"{self.where}: another run recorded a release while this one was planning; "
                                    "nothing was changed, run the command again")
            written = {}
            if the_plan.transfers:
                progress = TransferProgress(self.console, self.target.account, self.target.region,
                                            len(the_plan.transfers), the_plan.transfer_bytes)
                try:
                    for wave, transfers in the_plan.waves():
                        written.update(self.bucket.write(transfers, files, progress, wave))
                finally:
                    progress.finish()
            if the_plan.deletions:
                self.bucket.delete(the_plan.deletions)
            invalidation_id = None
            if paths:
                try:
                    invalidation_id = create_invalidation(
                        self.cloudfront, self.target.distribution_id, paths, f"edgecdn-site-{release_name}",
                        notify=self.console.line, sleep=self.sleep)
                except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                    failure = exc
            release = make_release({**the_plan.unchanged, **written}, invalidation_id,
                                   tuple(paths) if failure else ())
            self.store.write(release)
        finally:
            self.store.release()
        if failure is not None:
            detail = (f"{error_code(failure)}: {error_message(failure)}"
                      if isinstance(failure, botocore.exceptions.ClientError) else str(failure))
            raise RolloutFailed(f"{self.where}: release {release.release_id} is live and recorded, but the "
                                f"invalidation of {len(paths)} path(s) failed ({detail}); the next sync or "
                                "rollback requests them again")
        if wait and invalidation_id:
            self.console.line(f"account {self.target.account}: waiting for invalidation {invalidation_id} ...")
            wait_for_invalidation(self.cloudfront, self.target.distribution_id, invalidation_id, sleep=self.sleep)
            self.console.line(f"account {self.target.account}: invalidation {invalidation_id} completed")
        uploads = [t for t in the_plan.transfers if t.action == "upload"]
        return AccountResult(
            target=self.target, status=status, release=release.release_id, uploaded=len(uploads),
            uploaded_bytes=sum(t.size for t in uploads),
            rewritten=sum(1 for t in the_plan.transfers if t.action == "headers"),
            restored=sum(1 for t in the_plan.transfers if t.action == "restore"),
            unchanged=len(the_plan.unchanged), deleted=len(the_plan.deletions), pending=len(the_plan.pending),
            paths=paths, invalidation_id=invalidation_id, seconds=self.clock() - self.began)

    def result(self, the_plan: Plan, status: str, paths: list[str], release: str = "") -> AccountResult:
        """A result for an account that was not written to (nothing to do, or a dry run)."""
        uploads = [t for t in the_plan.transfers if t.action == "upload"]
        return AccountResult(
            target=self.target, status=status, release=release, uploaded=len(uploads),
            uploaded_bytes=sum(t.size for t in uploads),
            rewritten=sum(1 for t in the_plan.transfers if t.action == "headers"),
            restored=sum(1 for t in the_plan.transfers if t.action == "restore"),
            unchanged=len(the_plan.unchanged), deleted=len(the_plan.deletions), pending=len(the_plan.pending),
            paths=paths, seconds=self.clock() - self.began)


def _runs(env: EnvConfig, clients: Clients, console: Console, account: str | None,
          concurrency: int) -> list[AccountRun]:
    """Every target checked, every publisher role assumed: before anything is written anywhere."""
    targets = resolve_targets(env, clients, console, account)
    return [AccountRun(publisher_clients(clients, target, concurrency), console, concurrency) for target in targets]


def _run_accounts(console: Console, runs: list[AccountRun], step: Callable[[AccountRun], AccountResult],
                  title: str) -> list[AccountResult]:
    """Run `step` account by account; stop at the first failure, after a summary of what was done."""
    results: list[AccountResult] = []
    for index, run in enumerate(runs):
        try:
            results.append(step(run))
        except RolloutFailed:
            skipped = [r.target.account for r in runs[index + 1:]]
            if results:
                print_summary(console, title, results)
            if skipped:
                console.line(f"Not started: account(s) {', '.join(skipped)}.")
            raise
    print_summary(console, title, results)
    return results


# --- sync --------------------------------------------------------------------------------------------


def sync_site(env: EnvConfig, clients: Clients, console: Console, directory: Path | str, *,
              account: str | None = None, dry_run: bool = False, grace: timedelta = DEFAULT_GRACE,
              max_paths: int = DEFAULT_MAX_PATHS, wait: bool = False, concurrency: int = DEFAULT_CONCURRENCY,
              now: datetime | None = None, site: LocalSite | None = None) -> list[AccountResult]:
    """Publish `directory` (already scanned: `site`) to the origin bucket of each account; each account's result."""
    site = site or scan(directory, SITE_STATE_PREFIX)
    rules = CacheRules.for_environment(env)
    wanted = {key: Wanted(f.sha256, f.size, f.content_type, rules.cache_control(key))
              for key, f in site.files.items()}
    runs = _runs(env, clients, console, account, concurrency)
    moment = now or datetime.now(timezone.utc)
    release = release_id(moment, site.digest)
    console.line(f"{directory}: {len(site.files)} file(s), {format_bytes(site.total_bytes)}; Cache-Control from "
                 f"{rules.source}; release {release}; grace period {_duration(grace)}"
                 + ("; dry run: nothing is changed" if dry_run else ""))

    def step(run: AccountRun) -> AccountResult:
        ids, live, remote, heads = run.read(wanted)
        the_plan = plan(wanted, remote, heads, live, moment, rules.cache_control, grace)
        paths = the_plan.invalidation_paths(max_paths)
        run.describe(the_plan, paths, grace, moment, detailed=dry_run)
        if the_plan.is_noop(live):
            run.console.line(f"account {run.target.account}: nothing changed; release {live.release_id} is live")
            return run.result(the_plan, "unchanged", paths, live.release_id)
        if dry_run:
            return run.result(the_plan, "planned", paths)

        def make_release(files: dict, invalidation_id: str | None, failed_paths: tuple[str, ...]) -> Release:
            return Release(release_id=release, created=format_time(moment), source="sync", files=files,
                           pending_deletion=the_plan.pending, invalidation_id=invalidation_id,
                           invalidation_pending=failed_paths)

        return run.apply(the_plan, paths, site.files, ids, moment, release, make_release, wait, "published")

    return _run_accounts(console, runs, step, f"site sync of {directory} (release {release})")


# --- releases ----------------------------------------------------------------------------------------


def list_releases(env: EnvConfig, clients: Clients, console: Console, *, account: str | None = None,
                  limit: int = 20) -> int:
    """Print each account's releases, newest first; the newest is the live one."""
    for run in _runs(env, clients, console, account, concurrency=4):
        ids = run.store.ids()
        console.line(f"account {run.target.account} (s3://{run.target.bucket}): {len(ids)} release(s)")
        if not ids:
            console.line("  none yet: `python deploy.py site sync` records one")
            continue
        console.line(f"  {'release':<25} {'':<4} {'created':<20} {'made by':<8} {'files':>6} {'size':>9} "
                     f"{'waiting':>7}  {'invalidation':<16} restores")
        for index, release_name in enumerate(reversed(ids[-limit:])):
            r = run.store.read(release_name)
            invalidation = r.invalidation_id or ("FAILED, retried" if r.invalidation_pending else "-")
            console.line(f"  {r.release_id:<25} {'live' if index == 0 else '':<4} {r.created:<20} {r.source:<8} "
                         f"{len(r.files):>6} {format_bytes(r.total_bytes):>9} {len(r.pending_deletion):>7}  "
                         f"{invalidation:<16} {r.restores or ''}".rstrip())
        if len(ids) > limit:
            console.line(f"  ... and {len(ids) - limit} older (--limit)")
    return 0


# --- rollback ----------------------------------------------------------------------------------------


def _content(release: Release) -> dict[str, tuple]:
    return {key: (r.sha256, r.content_type, r.cache_control) for key, r in release.files.items()}


def _choose_release(run: AccountRun, ids: list[str], live: Release, to: str | None) -> Release:
    where = f"account {run.target.account} (s3://{run.target.bucket})"
    if to is not None:
        if to not in ids:
            recent = ", ".join(reversed(ids[-5:]))
            raise InputError(f"--to {to}: {where} has no such release (newest: {recent}; `python deploy.py site "
                             "releases` lists them)")
        return live if to == live.release_id else run.store.read(to)
    for candidate_id in reversed(ids[:-1]):
        candidate = run.store.read(candidate_id)
        if _content(candidate) != _content(live):
            return candidate
    raise InputError(f"{where}: no earlier release differs from the live release {live.release_id}; "
                     "nothing to roll back to")


def rollback_site(env: EnvConfig, clients: Clients, console: Console, *, to: str | None = None,
                  account: str | None = None, dry_run: bool = False, max_paths: int = DEFAULT_MAX_PATHS,
                  wait: bool = False, concurrency: int = DEFAULT_CONCURRENCY,
                  now: datetime | None = None) -> list[AccountResult]:
    """Make an earlier release live again by server-side copies of its object versions, then invalidate."""
    rules = CacheRules.for_environment(env)
    runs = _runs(env, clients, console, account, concurrency)
    moment = now or datetime.now(timezone.utc)
    prepared = []
    for run in runs:  # everything checked in every account before the first copy
        ids = run.store.ids()
        if not ids:
            raise InputError(f"account {run.target.account} (s3://{run.target.bucket}) has no release yet: "
                             "nothing to roll back to")
        live = run.store.read(ids[-1])
        target = _choose_release(run, ids, live, to)
        unversioned = sorted(key for key, record in target.files.items() if not record.version_id)
        if unversioned:
            raise InputError(f"release {target.release_id} of account {run.target.account} cannot be restored: "
                             f"{len(unversioned)} object(s) have no version id (was versioning off?): "
                             + ", ".join(unversioned[:5]))
        wanted = {key: Wanted(r.sha256, r.size, r.content_type, r.cache_control, r.version_id)
                  for key, r in target.files.items()}
        ids_now, live_now, remote, heads = run.read(wanted)
        the_plan = plan(wanted, remote, heads, live_now, moment, rules.cache_control, grace=None, restore=True)
        versions = run.bucket.head_all([t.key for t in the_plan.transfers], version_of=lambda k: wanted[k].version_id)
        gone = sorted(key for key, found in versions.items()
                      if found is None or (found.sha256 and found.sha256 != wanted[key].sha256))
        if gone:
            raise InputError(
                f"release {target.release_id} of account {run.target.account} cannot be restored: {len(gone)} "
                f"object version(s) no longer exist ({', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''}); "
                f"replaced versions expire after retention.noncurrent_versions_days "
                f"({env.noncurrent_version_retention_days} days in {env.source.name}). Nothing was changed.")
        prepared.append((run, target, ids_now, live_now, the_plan))

    console.line(f"Rolling back {len(prepared)} account(s)" + ("; dry run: nothing is changed" if dry_run else ""))
    by_account = {run.target.account: (target, ids, live, the_plan) for run, target, ids, live, the_plan in prepared}

    def step(run: AccountRun) -> AccountResult:
        target, ids, live, the_plan = by_account[run.target.account]
        paths = the_plan.invalidation_paths(max_paths)
        console.line(f"account {run.target.account}: live release {live.release_id if live else '-'} -> "
                     f"release {target.release_id}")
        run.describe(the_plan, paths, None, moment, detailed=dry_run)
        if the_plan.is_noop(live):
            console.line(f"account {run.target.account}: the content of release {target.release_id} is already live")
            return run.result(the_plan, "unchanged", paths, live.release_id)
        if dry_run:
            return run.result(the_plan, "planned", paths)
        new_id = release_id(moment, target.digest)

        def make_release(files: dict, invalidation_id: str | None, failed_paths: tuple[str, ...]) -> Release:
            return Release(release_id=new_id, created=format_time(moment), source="rollback", files=files,
                           pending_deletion=the_plan.pending, restores=target.release_id,
                           invalidation_id=invalidation_id, invalidation_pending=failed_paths)

        return run.apply(the_plan, paths, {}, ids, moment, new_id, make_release, wait, "restored")

    return _run_accounts(console, [run for run, *_ in prepared], step, "site rollback")


# --- output ------------------------------------------------------------------------------------------


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def print_summary(console: Console, title: str, results: list[AccountResult]) -> None:
    """The table at the end: one row per account."""
    console.line(f"Summary: {title}")
    console.line(f"  {'account':<12}  {'status':<10} {'uploaded':>18} {'rewritten':>9} {'restored':>8} "
                 f"{'unchanged':>9} {'deleted':>7} {'waiting':>7}  {'invalidation':<24} {'seconds':>7}")
    for r in results:
        uploaded = f"{r.uploaded} ({format_bytes(r.uploaded_bytes)})"
        invalidation = f"{len(r.paths)} path(s)" + (f" {r.invalidation_id}" if r.invalidation_id else "")
        console.line(f"  {r.target.account:<12}  {r.status:<10} {uploaded:>18} {r.rewritten:>9} {r.restored:>8} "
                     f"{r.unchanged:>9} {r.deleted:>7} {r.pending:>7}  {invalidation:<24} {r.seconds:>7.1f}")
    releases = sorted({r.release for r in results if r.release})
    if releases:
        console.line(f"  live release: {', '.join(releases)}")
