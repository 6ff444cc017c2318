"""`deploy.py site sync|releases|rollback`: the command line of the site publisher."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from typing import Any, Callable

from rollout.cli import EXIT_INTERRUPTED, add_common_options, connect, guarded
from rollout.console import Console
from rollout.inputs import load_env
from templates.s3 import SITE_STATE_PREFIX
from sitepublish.commands import DEFAULT_CONCURRENCY, DEFAULT_GRACE, list_releases, rollback_site, sync_site
from sitepublish.content import scan
from sitepublish.invalidation import DEFAULT_MAX_PATHS, MAX_PATHS_LIMIT

DESCRIPTION = """\
Publish a built site (a directory) to the origin bucket of every account of an environment, in its
primary region, through each account's site publisher role; invalidate only what changed; keep
every release restorable.

actions:
  sync       upload DIR: unchanged files (by sha256, whatever their modification time) are never
             uploaded again; content-hashed assets first, then other files, then HTML pages;
             files that left the site are deleted after a grace period; changed paths that are
             not immutable are invalidated; the result is recorded as a release
  releases   list each account's releases, newest (live) first
  rollback   make an earlier release live again from the bucket's object versions (server-side
             copies, nothing uploaded), then invalidate what changed

exit status:
  0  success (for sync and rollback: every account done)
  1  an AWS operation failed (what was done and what was not is printed)
  2  bad input, refused before any change: missing or empty DIR, symlinks leaving it, names S3
     cannot store, an environment or account that is not deployed, an unknown release

Details: docs/site.md."""


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dhms]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"must be a duration such as 7d, 12h, 30m or 0, got {text!r}")
    number, unit = int(match.group(1)), match.group(2) or "s"
    return timedelta(seconds=number * {"d": 86400, "h": 3600, "m": 60, "s": 1}[unit])


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value
    return parse


def _account(text: str) -> str:
    if not re.fullmatch(r"[0-9]{12}", text):
        raise argparse.ArgumentTypeError(f"must be a 12-digit account id, got {text!r}")
    return text


def _release(text: str) -> str:
    if not re.fullmatch(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}", text):
        raise argparse.ArgumentTypeError(f"must be a release id such as 20261126T101500Z-3f9a1c2b "
                                         f"(`site releases` lists them), got {text!r}")
    return text


def _run(action: Callable[[Console], Any]) -> int:
    """The rollout commands' error handling; Ctrl-C says what a site run leaves behind."""
    def interruptible(console: Console) -> int:
        try:
            action(console)
        except KeyboardInterrupt:
            print("\ndeploy.py: interrupted. Files written so far stay (assets and files go before the pages "
                  "that reference them), no release was recorded for the account in progress and no lock is "
                  "left behind; run the same command again to finish.", file=sys.stderr)
            return EXIT_INTERRUPTED
        return 0
    return guarded(interruptible)


def cmd_sync(args: argparse.Namespace) -> int:
    def run(console: Console) -> None:
        env = load_env(args.env)
        # The directory is checked before the credentials: a wrong DIR needs no AWS to be told.
        site = scan(args.directory, SITE_STATE_PREFIX)
        sync_site(env, connect(args, console), console, args.directory, account=args.account,
                  dry_run=args.dry_run, grace=args.grace_period, max_paths=args.max_invalidation_paths,
                  wait=args.wait, concurrency=args.concurrency, site=site)
    return _run(run)


def cmd_releases(args: argparse.Namespace) -> int:
    def run(console: Console) -> None:
        env = load_env(args.env)
        list_releases(env, connect(args, console), console, account=args.account, limit=args.limit)
    return _run(run)


def cmd_rollback(args: argparse.Namespace) -> int:
    def run(console: Console) -> None:
        env = load_env(args.env)
        rollback_site(env, connect(args, console), console, to=args.to, account=args.account,
                      dry_run=args.dry_run, max_paths=args.max_invalidation_paths, wait=args.wait,
                      concurrency=args.concurrency)
    return _run(run)


def register(commands: Any) -> argparse.ArgumentParser:
    """Add the `site` command and its actions to deploy.py's subcommands."""
    parser = commands.add_parser("site", help="publish the site to every account's origin, list releases, roll back",
                                 description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="site_action", metavar="ACTION", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str,
            description: str) -> argparse.ArgumentParser:
        action = actions.add_parser(name, help=help_text, description=description,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        add_common_options(action)
        action.add_argument("--account", type=_account, metavar="ID",
                            help="only this account of the environment (default: every account)")
        action.set_defaults(func=func)
        return action

    def writes(action: argparse.ArgumentParser) -> None:
        action.add_argument("--dry-run", action="store_true",
                            help="read everything and print what would be uploaded, deleted and invalidated; "
                                 "change nothing")
        action.add_argument("--wait", action="store_true", help="wait until CloudFront completes the invalidation")
        action.add_argument("--max-invalidation-paths", type=_bounded(1, MAX_PATHS_LIMIT), metavar="N",
                            default=DEFAULT_MAX_PATHS,
                            help="beyond N changed paths, merge them into directory wildcards, deepest first "
                                 "(default %(default)s; CloudFront allows 15 wildcards in progress)")
        action.add_argument("--concurrency", type=_bounded(1, 64), metavar="N", default=DEFAULT_CONCURRENCY,
                            help="parallel requests per account (default %(default)s)")

    sync = add("sync", cmd_sync, "upload DIR to each account's origin bucket and invalidate what changed",
               "Upload DIR to the origin bucket of each account (primary region), through the site\n"
               "publisher role. Order: content-hashed assets (Cache-Control immutable), then the other\n"
               "files, then HTML pages. Content-Type from the file name; Cache-Control from the\n"
               "cache_control rules of config/edge/ENV.yaml, as the edge function applies them; the\n"
               "sha256 of each file in its metadata, so unchanged files are never uploaded again.\n"
               "Files that left DIR are deleted once the grace period has passed since they left\n"
               "(by this or a later sync). Changed paths that are not immutable are invalidated.")
    sync.add_argument("directory", metavar="DIR", help="the built site (index.html at its top, usually)")
    writes(sync)
    sync.add_argument("--grace-period", type=_duration, metavar="DURATION", default=DEFAULT_GRACE,
                      help="how long files that left the site stay, so old pages still find them "
                           "(7d, 12h, 30m, 0; default 7d)")
    releases = add("releases", cmd_releases, "list each account's releases, newest first",
                   "List the releases recorded in each account's origin bucket, newest (live) first:\n"
                   "id, what made it, files, size, files waiting for deletion, invalidation.")
    releases.add_argument("--limit", type=_bounded(1, 10000), default=20, metavar="N",
                          help="newest N releases per account (default %(default)s)")
    rollback = add("rollback", cmd_rollback, "make an earlier release live again (no upload), then invalidate",
                   "Restore a release from the bucket's object versions by server-side copies (nothing\n"
                   "is uploaded), then invalidate the paths that changed. Without --to: the newest\n"
                   "release before the live one whose content differs (so a second rollback undoes\n"
                   "the first). Files not in the restored release wait for deletion by a later sync.\n"
                   "Refused (exit 2, nothing changed) if a needed version has expired.")
    rollback.add_argument("--to", type=_release, metavar="RELEASE", help="release id to restore (see `site releases`)")
    writes(rollback)
    return parser
