"""`deploy.py edge-config`: validate, push, show, diff and roll back an environment's edge configuration."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from edgeconfig.accounts import (AccountState, EnvironmentTables, Failure, Outcome, WriteReport, holds, number, push,
                                 rollback, select_accounts)
from edgeconfig.model import EdgeConfig, StoredVersion, edge_config_path, load_edge_config
from edgeconfig.store import StoreError
from rollout.aws import Clients, endpoint_url, make_session, region_name, require_credentials
from rollout.errors import InputError, RolloutFailed
from templates.config import ConfigError, EnvConfig, load_environment

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
Manage the configuration the edge functions read from DynamoDB: redirects, index and SPA
rewrites, A/B experiments, maintenance mode and Cache-Control rules. The rules live in
config/edge/<env>.yaml; the table, its region and the environment's accounts come from
config/<env>.yaml. Every account of the environment has its own table: push, show, diff and
rollback act on all of them (or on the ones --account names), entering each account as the
rollout does, and report per account. Every push and rollback writes a new numbered version
(history is append-only), on the condition that nobody else pushed in between. Edge locations
pick a new version up within the cache TTL (edge_config.cache_ttl_seconds, 60 s by default),
without a redeploy.

actions:
  validate   check the local file (no AWS access)
  push       validate, then write the file as the next version in every account
  show       print the deployed configuration, a given --version, or the --history
  diff       compare the local file with the deployed configuration of each account
  rollback   write a new version holding an earlier version's content

A push or rollback reads every account before it writes any, then writes them one at a time
and stops at the first failure, saying which accounts run which version. Running the same
push again finishes it: accounts that already run the file's content are not written again.

exit status:
  0  success; for diff: no differences
  1  the operation failed in some account: version conflict, table missing, access denied,
     AWS error, nothing to roll back to; for diff: differences found
  2  bad input: invalid edge-config file (file and field named), unknown environment or
     --account, missing AWS credentials or profile, a bad option value

See docs/edge-config.md for the file format, the table layout and the permissions."""


def register(commands: Any) -> argparse.ArgumentParser:
    """Add the `edge-config` command and its actions to deploy.py's subcommands."""
    parser = commands.add_parser(
        "edge-config",
        help="validate, push, show, diff or roll back the edge functions' configuration",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", required=True, metavar="NAME",
                        help="environment: config/NAME.yaml names the table, config/edge/NAME.yaml holds the rules")
    local = argparse.ArgumentParser(add_help=False)
    local.add_argument("--file", type=Path, metavar="PATH",
                       help="edge configuration file to use instead of config/edge/NAME.yaml")
    aws = argparse.ArgumentParser(add_help=False)
    aws.add_argument("--account", action="append", metavar="ID",
                     help="act on this account of the environment only (repeatable; default: every account "
                          "in config/NAME.yaml deploy.accounts)")
    aws.add_argument("--profile", help="AWS profile of the deploying (administration) account, which enters "
                                       "each target account through its execution role (default: the "
                                       "standard credential chain)")
    aws.add_argument("--region", type=region_name,
                     help="region of the table to write and read (default: the primary region)")
    aws.add_argument("--endpoint-url", metavar="URL", type=endpoint_url,
                     help="send every AWS call (STS, DynamoDB) to this endpoint, e.g. a moto server")

    actions = parser.add_subparsers(dest="edge_config_action", metavar="ACTION", required=True)
    actions.add_parser("validate", parents=[common, local], help="check the local file (no AWS access)",
                       description="Validate config/edge/NAME.yaml; every problem names the field path.")
    push = actions.add_parser("push", parents=[common, local, aws], help="write the file as the next version",
                              description="Validate the file, read every account, then write the file as "
                                          "the next version in each account that does not run it yet, on the "
                                          "condition that its deployed version did not change meanwhile. "
                                          "Stops at the first failed write and says which accounts run which "
                                          "version; the same push again finishes the job.")
    push.add_argument("--message", "-m", default="", type=_message,
                      help="why: stored with the version and shown by show")
    push.add_argument("--expect-version", type=_non_negative, metavar="N",
                      help="only push if version N is deployed (0: nothing deployed yet) in every account "
                           "the push writes, e.g. the version a reviewed diff was made against")
    show = actions.add_parser("show", parents=[common, aws], help="print the deployed configuration",
                              description="Print each account's deployed version, who pushed it and when, "
                                          "and each distinct content once.")
    what = show.add_mutually_exclusive_group()
    what.add_argument("--version", type=_positive, metavar="N", help="print version N from the history")
    what.add_argument("--history", action="store_true", help="list every version, newest first")
    actions.add_parser("diff", parents=[common, local, aws], help="compare the local file with the deployed one",
                       description="Per account, whether the deployed configuration equals the local "
                                   "file; then a unified diff from each distinct deployed configuration to "
                                   "the file (both with defaults filled in). Exit 1 when one differs.")
    rollback = actions.add_parser("rollback", parents=[common, aws], help="restore an earlier version",
                                  description="Write a NEW version whose content is an earlier version's "
                                              "(the previous one by default) in every account. The content "
                                              "restored must be the same in each account, or nothing is "
                                              "written. History is never rewritten.")
    rollback.add_argument("--to-version", type=_positive, metavar="N",
                          help="version to restore (default: the one before the deployed version)")
    rollback.add_argument("--message", "-m", default="", type=_message, help="why: stored with the new version")
    parser.set_defaults(func=run)
    return parser


def _message(text: str) -> str:
    """argparse type of --message: one line the history can show (a DynamoDB item holds at most 400 KB)."""
    if len(text) > 1000 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"must be one line of at most 1000 printable characters, got {len(text)} "
                                         "characters" + ("" if text.isprintable() else " with control characters"))
    return text


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    if value > 10**9:
        raise argparse.ArgumentTypeError(f"must be a version number, at most 1000000000, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run one edge-config action; return the exit status."""
    try:
        env = load_environment(args.env)
        return _ACTIONS[args.edge_config_action](args, env)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except InputError as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    except (RolloutFailed, StoreError) as exc:
        _error(str(exc))
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as exc:
        _error(f"AWS request failed: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        # A write in progress is caught by the push itself, which reports every account.
        _error("interrupted: run `edge-config show` to see what each account runs")
        return EXIT_INTERRUPTED


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _local_config(args: argparse.Namespace, env: EnvConfig) -> EdgeConfig:
    path = args.file or edge_config_path(env.environment)
    if args.file is None and not path.is_file():
        raise ConfigError(path, [("(file)", f"no edge configuration for environment "
                                            f"{env.environment!r}: create it (see docs/edge-config.md)")])
    return load_edge_config(path)


def _tables(args: argparse.Namespace, env: EnvConfig, write: bool) -> EnvironmentTables:
    """The selected accounts' tables, through the deploying credentials (checked before anything else)."""
    accounts = select_accounts(env, args.account)
    session = make_session(args.profile)
    require_credentials(session)
    clients = Clients(session, endpoint_url=args.endpoint_url)
    clients.caller()  # bad credentials exit 2 here, before any account is entered
    return EnvironmentTables(env, clients, accounts, args.region, write=write)


# --- per-account tables ------------------------------------------------------------------------


def _short(content_hash: str) -> str:
    """sha256:<first 12 hex digits>: enough to tell contents apart in a table."""
    algorithm, _, digest = content_hash.partition(":")
    return f"{algorithm}:{digest[:12]}" if digest else content_hash


def _cell(stored: StoredVersion | None, known: bool = True) -> str:
    if not known:
        return "unknown"
    return "-" if stored is None else f"{stored.version} {_short(stored.content_hash)}"


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _running(outcomes: list[Outcome], content_hash: str, source: str) -> list[str]:
    """Which accounts run which version after a write: one line per version."""
    groups: dict[str, list[str]] = {}
    for outcome in outcomes:
        if not outcome.after_known:
            label = "unknown (the table could not be read)"
        elif outcome.after is None:
            label = "nothing"
        else:
            mine = f", {source}" if outcome.after.content_hash == content_hash and source else ""
            label = f"version {outcome.after.version} ({outcome.after.content_hash}{mine})"
        groups.setdefault(label, []).append(outcome.account)
    return [f"  {label} in {', '.join(accounts)}" for label, accounts in groups.items()]


def _report(tables: EnvironmentTables, report: WriteReport, source: str) -> None:
    """The per-account table of a push or rollback; on failure, the reasons and where each account is."""
    _print_table(["account", "table (region)", "before", "after", "result"],
                 [[o.account, tables.where, _cell(o.before, o.before_known), _cell(o.after, o.after_known),
                   o.result] for o in report.outcomes])
    if report.ok:
        return
    for outcome in report.failures:
        _error(f"{outcome.account}: {outcome.failure.reason}")
    if report.refusal:
        _error(report.refusal)
    else:
        _error(f"stopped at account {report.failures[0].account}: the accounts after it were not attempted")
    print("The accounts now run:", file=sys.stderr)
    for line in _running(report.outcomes, report.content_hash, source):
        print(line, file=sys.stderr)


# --- actions -----------------------------------------------------------------------------------


def _validate(args: argparse.Namespace, env: EnvConfig) -> int:
    config = _local_config(args, env)
    print(f"{config.source}: valid: {config.summary()}")
    return EXIT_OK


def _push(args: argparse.Namespace, env: EnvConfig) -> int:
    config = _local_config(args, env)
    tables = _tables(args, env, write=True)
    print(f"{env.environment}: {config.source}: {config.summary()}")
    report = push(tables, config, args.expect_version, tables.clients.caller()[1], message=args.message)
    _report(tables, report, config.source)
    if not report.ok:
        if not report.refusal:
            print("Run the same push again to finish: accounts that already run this content are not written "
                  "again.", file=sys.stderr)
        return EXIT_FAILED
    if not report.written:
        print(f"nothing to push: the {len(report.outcomes)} account(s) already run this content "
              f"({config.content_hash})")
        return EXIT_OK
    print(f"pushed version {report.version} to {len(report.written)} of {len(report.outcomes)} account(s); "
          f"edge locations apply it within {env.edge_config_cache_ttl_seconds} s")
    return EXIT_OK


def _rollback(args: argparse.Namespace, env: EnvConfig) -> int:
    tables = _tables(args, env, write=True)
    report = rollback(tables, args.to_version, tables.clients.caller()[1], message=args.message)
    _report(tables, report, "")
    if not report.ok:
        if not report.refusal:
            _finish_rollback_hint(env, report)
        return EXIT_FAILED
    restored = sorted(set((report.restored_from or {}).values()))
    versions = ", ".join(str(v) for v in restored)
    if not report.written:
        print(f"nothing to do: the {len(report.outcomes)} account(s) already run the content of version "
              f"{versions}")
        return EXIT_OK
    print(f"rolled back {len(report.written)} of {len(report.outcomes)} account(s): version {report.version} "
          f"holds the content of version {versions}; edge locations apply it within "
          f"{env.edge_config_cache_ttl_seconds} s")
    return EXIT_OK


def _finish_rollback_hint(env: EnvConfig, report: WriteReport) -> None:
    """The command(s) that finish a rollback that stopped part-way: the accounts not done, by version to restore."""
    done = {o.account for o in report.outcomes if o.ok}
    groups: dict[int, list[str]] = {}
    for account, version in (report.restored_from or {}).items():
        if account not in done:
            groups.setdefault(version, []).append(account)
    print("To finish, run:", file=sys.stderr)
    for version, accounts in groups.items():
        selected = " ".join(f"--account {a}" for a in accounts)
        print(f"  python deploy.py edge-config rollback --env {env.environment} --to-version {version} {selected}",
              file=sys.stderr)


def _show(args: argparse.Namespace, env: EnvConfig) -> int:
    tables = _tables(args, env, write=False)
    if args.history:
        return _show_history(tables)
    found: list[tuple[str, StoredVersion | None, Failure | None]] = []
    for account in tables.accounts:
        if args.version:
            stored, failure = tables.attempt(account, lambda store: store.version(args.version))
            missing = Failure(f"no version {args.version}", f"no version {args.version} in {tables.where}")
        else:
            stored, failure = tables.attempt(account, lambda store: store.current())
            missing = Failure("nothing pushed", f"nothing pushed to {tables.where} for {env.environment} yet")
        found.append((account, stored, failure or (missing if stored is None else None)))
    what = f"version {args.version}" if args.version else "deployed version"
    print(f"# {env.environment} edge configuration, {what} in each account")
    _print_table(["account", "table (region)", "version", "pushed at", "pushed by", "action"],
                 [[account, tables.where, _cell(stored) if stored else f"FAILED: {failure.label}",
                   stored.pushed_at if stored else "", stored.pushed_by if stored else "",
                   stored.action if stored else ""] for account, stored, failure in found])
    contents: dict[str, list[tuple[str, StoredVersion]]] = {}
    for account, stored, _ in found:
        if stored is not None:
            contents.setdefault(stored.content_hash, []).append((account, stored))
    for holders in contents.values():
        stored = holders[0][1]
        print(f"\n# {stored.describe()}")
        print(f"# content_hash {stored.content_hash}  schema_version {stored.schema_version}")
        print(f"# in account(s) {', '.join(account for account, _ in holders)}")
        print(_as_yaml(stored), end="")
    failures = [(account, failure) for account, _, failure in found if failure is not None]
    for account, failure in failures:
        _error(f"{account}: {failure.reason}")
    return EXIT_FAILED if failures else EXIT_OK


def _show_history(tables: EnvironmentTables) -> int:
    status = EXIT_OK
    for account in tables.accounts:
        versions, failure = tables.attempt(account, lambda store: store.history())
        current, failure = (tables.attempt(account, lambda store: store.current()) if not failure
                            else (None, failure))
        print(f"# account {account}: {tables.where}")
        if failure is None and not versions:
            failure = Failure("nothing pushed", f"nothing pushed to {tables.where} for {tables.env.environment} yet")
        if failure is not None:
            print(f"  FAILED: {failure.label}")
            _error(f"{account}: {failure.reason}")
            status = EXIT_FAILED
            continue
        for stored in versions:
            marker = "*" if current is not None and stored.version == current.version else " "
            print(f"{marker} {stored.describe()}  {_short(stored.content_hash)}")
    return status


def _as_yaml(stored: StoredVersion | None) -> str:
    """A stored version as normalized YAML, or its raw content if it no longer passes validation."""
    if stored is None:
        return ""
    try:
        return stored.config().to_yaml()
    except ConfigError as exc:
        return f"# WARNING: version {stored.version} does not pass today's validation: {exc}\n{stored.content}\n"


def _diff(args: argparse.Namespace, env: EnvConfig) -> int:
    config = _local_config(args, env)
    tables = _tables(args, env, write=False)
    states = tables.read_current()
    _print_table(["account", "table (region)", "deployed", "result"],
                 [[s.account, tables.where, _cell(s.current, s.failure is None),
                   f"FAILED: {s.failure.label}" if s.failure else
                   "no differences" if holds(s.current, config.content_hash) else "differs"] for s in states])
    differing: dict[str, list[AccountState]] = {}
    for state in states:
        if state.failure is None and not holds(state.current, config.content_hash):
            differing.setdefault(state.current.content_hash if state.current else "", []).append(state)
    for group in differing.values():
        deployed = group[0].current
        numbers = {number(s.current) for s in group}
        accounts = ", ".join(s.account for s in group)
        if deployed is None:
            label = f"deployed (nothing yet) in {accounts}"
        elif len(numbers) == 1:
            label = f"deployed version {deployed.version} in {accounts}"
        else:
            label = "deployed in " + ", ".join(f"{s.account} (version {s.current.version})" for s in group)
        print()
        sys.stdout.writelines(difflib.unified_diff(
            _as_yaml(deployed).splitlines(keepends=True), config.to_yaml().splitlines(keepends=True),
            fromfile=label, tofile=config.source))
    failures = [s for s in states if s.failure is not None]
    for state in failures:
        _error(f"{state.account}: {state.failure.reason}")
    if failures or differing:
        return EXIT_FAILED
    print(f"no differences: {config.source} matches what every account runs")
    return EXIT_OK


_ACTIONS: dict[str, Callable[[argparse.Namespace, EnvConfig], int]] = {
    "validate": _validate,
    "push": _push,
    "show": _show,
    "diff": _diff,
    "rollback": _rollback,
}
