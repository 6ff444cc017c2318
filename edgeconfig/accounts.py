"""The edge-config table in every account of an environment: read in each account first, then written account by account."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, TypeVar

import botocore.exceptions

from edgeconfig.model import EdgeConfig, StoredVersion
from edgeconfig.store import ConflictError, EdgeConfigStore, StoreError, TableMissingError
from rollout.aws import Clients, error_code, error_message
from rollout.errors import InputError, RolloutFailed
from rollout.naming import EXECUTION_ROLE_NAME
from templates.config import ConfigError, EnvConfig, display_path

# How edge-config enters a target account: the execution role bootstrap creates there (it trusts
# the administration account, as the rollout's reads use it), narrowed by a session policy to
# this one table. A session policy can only take permissions away, so the session can read and
# write the edge configuration and nothing else the role allows.
READ_ACCESS = "edge-config-read"
WRITE_ACCESS = "edge-config-write"
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
# TransactWriteItems has no IAM action of its own: each Put in it is authorized as dynamodb:PutItem.
WRITE_ACTIONS = (*READ_ACTIONS, "dynamodb:PutItem")

T = TypeVar("T")

# What can go wrong in one account: entering it, a missing table, a conflict, a denied or failed call.
_ACCOUNT_FAILURES = (RolloutFailed, StoreError, botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)


def table_session_policy(table_name: str, region: str, write: bool) -> str:
    """The session policy of an edge-config session: the table's item reads, and puts for a push or rollback."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": list(WRITE_ACTIONS if write else READ_ACTIONS),
        # Any account: a session policy never reaches beyond the assumed role's own account.
        "Resource": f"arn:aws:dynamodb:{region}:*:table/{table_name}",
    }]}, separators=(",", ":"))


def select_accounts(env: EnvConfig, requested: list[str] | None) -> tuple[str, ...]:
    """Every account of the environment, or the ones --account names (in config order); exit 2 on an unknown one."""
    if not requested:
        return env.deploy.accounts
    unknown = [a for a in dict.fromkeys(requested) if a not in env.deploy.accounts]
    if unknown:
        raise InputError(
            f"--account {', '.join(repr(a) for a in unknown)}: not an account of environment {env.environment}; "
            f"its accounts ({display_path(env.source)} deploy.accounts): {', '.join(env.deploy.accounts)}")
    return tuple(a for a in env.deploy.accounts if a in requested)


@dataclass(frozen=True)
class Failure:
    """Why an account could not be read or written: a short label for tables, and the whole reason."""

    label: str
    reason: str


def as_failure(exc: BaseException) -> Failure:
    """The Failure an exception of one account's calls stands for."""
    if isinstance(exc, ConflictError):
        return Failure("conflict", str(exc))
    if isinstance(exc, TableMissingError):
        return Failure("table missing", str(exc))
    if isinstance(exc, RolloutFailed):
        return Failure("cannot enter the account", str(exc))
    if isinstance(exc, botocore.exceptions.ClientError):
        operation = getattr(exc, "operation_name", "an AWS call")
        return Failure(error_code(exc) or "AWS error", f"{operation}: {error_code(exc)}: {error_message(exc)}")
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", "interrupted while writing: the table holds either the old or the new version")
    return Failure("AWS error", str(exc))


class EnvironmentTables:
    """The edge-config table of each selected account, in one region, entered as the rollout enters accounts."""

    def __init__(self, env: EnvConfig, clients: Clients, accounts: tuple[str, ...], region: str | None = None,
                 write: bool = False):
        self.env = env
        self.clients = clients
        self.accounts = accounts
        self.region = region or env.primary_region
        self.table_name = env.edge_config_table_name
        self.access = WRITE_ACCESS if write else READ_ACCESS
        clients.define_access(self.access, EXECUTION_ROLE_NAME,
                              table_session_policy(self.table_name, self.region, write))

    @property
    def where(self) -> str:
        """The table and its region, e.g. `edgecdn-edge-config-prod (us-west-2)`."""
        return f"{self.table_name} ({self.region})"

    def store(self, account: str) -> EdgeConfigStore:
        """The table of `account` (the caller's own credentials in its own account, as the rollout does)."""
        client = self.clients.target(account, "dynamodb", self.region, self.access)
        return EdgeConfigStore(client, self.table_name, self.env.environment)

    def attempt(self, account: str, action: Callable[[EdgeConfigStore], T]) -> tuple[T | None, Failure | None]:
        """Run `action` on the account's table; a failure of that account is returned, not raised."""
        try:
            return action(self.store(account)), None
        except _ACCOUNT_FAILURES as exc:
            return None, as_failure(exc)

    def read_current(self) -> list[AccountState]:
        """The deployed version in every selected account, or why it could not be read."""
        states = []
        for account in self.accounts:
            current, failure = self.attempt(account, lambda store: store.current())
            states.append(AccountState(account, current, failure))
        return states


@dataclass(frozen=True)
class AccountState:
    """One account's deployed version as read before anything is written (None: nothing pushed yet)."""

    account: str
    current: StoredVersion | None
    failure: Failure | None = None


def number(stored: StoredVersion | None) -> int:
    """A deployed version's number, 0 for nothing deployed."""
    return stored.version if stored is not None else 0


def holds(stored: StoredVersion | None, content_hash: str) -> bool:
    """True when the deployed version has exactly this content."""
    return stored is not None and stored.content_hash == content_hash


def next_version(states: list[AccountState], content_hash: str) -> int:
    """The number a write of this content gets, the same in every account it writes.

    One above the highest deployed version, so that accounts pushed together share version numbers
    (and realign after they drifted). A push that stopped part-way left this content as the highest
    version in the accounts it reached: finishing it reuses that number.
    """
    top = max(number(s.current) for s in states)
    at_top = [s for s in states if number(s.current) == top]
    if top and all(holds(s.current, content_hash) for s in at_top):
        return top
    return top + 1


@dataclass(frozen=True)
class Outcome:
    """What a push or rollback did in one account: deployed before and after, and the result in words."""

    account: str
    before: StoredVersion | None
    after: StoredVersion | None
    result: str
    ok: bool
    written: bool = False
    failure: Failure | None = None
    before_known: bool = True
    after_known: bool = True


@dataclass(frozen=True)
class WriteReport:
    """A push or rollback across accounts: the outcome in each, and why nothing was written if it was refused."""

    outcomes: list[Outcome]
    content_hash: str
    version: int | None = None
    refusal: str = ""
    restored_from: dict[str, int] | None = None

    @property
    def ok(self) -> bool:
        return not self.refusal and all(o.ok for o in self.outcomes)

    @property
    def written(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.written]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failure is not None]


def _refuse(states: list[AccountState], content_hash: str, refusal: str,
            results: dict[str, str] | None = None, failures: dict[str, Failure] | None = None) -> WriteReport:
    """Nothing written anywhere: each account as it was read, with why."""
    results, failures = results or {}, failures or {}
    outcomes = []
    for s in states:
        failure = s.failure or failures.get(s.account)
        result = f"FAILED: {failure.label}" if failure else results.get(s.account, "not written")
        outcomes.append(Outcome(s.account, s.current, s.current, result, ok=False, failure=failure,
                                before_known=s.failure is None, after_known=s.failure is None))
    return WriteReport(outcomes, content_hash, refusal=refusal)


def _unreadable(states: list[AccountState], content_hash: str) -> WriteReport | None:
    failed = [s for s in states if s.failure is not None]
    if not failed:
        return None
    return _refuse(states, content_hash,
                   f"{len(failed)} of {len(states)} account(s) could not be read, so no account was written "
                   "(fix them, or leave them out with --account)")


def push(tables: EnvironmentTables, config: EdgeConfig, expected_version: int | None, pushed_by: str,
         message: str = "") -> WriteReport:
    """Write `config` to every account that does not run it yet, after reading them all.

    `expected_version` (0: nothing deployed) must be the deployed version of every account the push
    writes; accounts that already run this content are left alone whatever their version.
    """
    states = tables.read_current()
    refused = _unreadable(states, config.content_hash)
    if refused:
        return refused
    if expected_version is not None:
        off = [s for s in states
               if not holds(s.current, config.content_hash) and number(s.current) != expected_version]
        if off:
            return _refuse(
                states, config.content_hash,
                f"conflict: expected version {expected_version} deployed (--expect-version), but "
                + ", ".join(f"{s.account} runs {_version_text(s.current)}" for s in off)
                + ". Nothing was written. Run `edge-config diff` and push again; accounts at different "
                  "versions take one push per group (--account)",
                results={s.account: f"not written: {_version_text(s.current)} deployed" for s in off})
    return _write(tables, states, config, pushed_by, message, "push", {})


def _version_text(stored: StoredVersion | None) -> str:
    return f"version {stored.version}" if stored is not None else "nothing"


def rollback(tables: EnvironmentTables, to_version: int | None, pushed_by: str, message: str = "") -> WriteReport:
    """Write, as a new version, the content of `to_version` (default: each account's previous version).

    The content restored must be the same in every account; otherwise nothing is written.
    """
    states = tables.read_current()
    refused = _unreadable(states, "")
    if refused:
        return refused
    targets: dict[str, StoredVersion] = {}
    problems: dict[str, Failure] = {}
    for state in states:
        current = state.current
        if current is None:
            problems[state.account] = Failure("nothing to roll back", "nothing pushed: nothing to roll back")
            continue
        if to_version is None:
            old, failure = tables.attempt(state.account, lambda store: store.before(current.version))
            missing = Failure("first version",
                              f"version {current.version} is the first version: nothing to roll back to")
        else:
            old, failure = tables.attempt(state.account, lambda store: store.version(to_version))
            missing = Failure(f"no version {to_version}",
                              f"no version {to_version} (deployed: version {current.version})")
        if failure is not None or old is None:
            problems[state.account] = failure or missing
            continue
        try:
            old.config()
        except ConfigError as exc:
            problems[state.account] = Failure(
                f"version {old.version} invalid",
                f"version {old.version} cannot be restored, it does not pass today's validation: {exc}")
            continue
        targets[state.account] = old
    if problems:
        return _refuse(states, "", f"{len(problems)} of {len(states)} account(s) have no version to restore",
                       failures=problems)
    if len({t.content_hash for t in targets.values()}) > 1:
        return _refuse(
            states, "",
            "the versions to restore hold different content in different accounts: " + ", ".join(
                f"{a} version {t.version} ({t.content_hash})" for a, t in targets.items())
            + ". Nothing was written. Pass --to-version N, or roll back each group of accounts with --account",
            results={a: f"not written: would restore version {t.version}" for a, t in targets.items()})
    config = next(iter(targets.values())).config()
    return _write(tables, states, config, pushed_by, message, "rollback",
                  {a: t.version for a, t in targets.items()})


def _write(tables: EnvironmentTables, states: list[AccountState], config: EdgeConfig, pushed_by: str,
           message: str, action: str, restored_from: dict[str, int]) -> WriteReport:
    """Write account by account, in config order; stop at the first failure, and say where each account is."""
    def unchanged(account: str) -> str:
        if action == "rollback":
            return f"unchanged: already the content of version {restored_from[account]}"
        return "unchanged: already this content"

    if all(holds(s.current, config.content_hash) for s in states):
        outcomes = [Outcome(s.account, s.current, s.current, unchanged(s.account), ok=True) for s in states]
        return WriteReport(outcomes, config.content_hash, restored_from=restored_from)
    version = next_version(states, config.content_hash)
    outcomes: list[Outcome] = []
    stopped = False
    for state in states:
        before = state.current
        if stopped:
            outcomes.append(Outcome(state.account, before, before, "not attempted", ok=False))
            continue
        if holds(before, config.content_hash):
            outcomes.append(Outcome(state.account, before, before, unchanged(state.account), ok=True))
            continue
        try:
            stored, failure = tables.attempt(state.account, lambda store: store.write(
                config, number(before) or None, pushed_by, message=message, action=action,
                restored_from=restored_from.get(state.account), version=version))
        except KeyboardInterrupt as exc:
            stored, failure = None, as_failure(exc)
        if failure is None:
            result = (f"pushed version {stored.version}" if action == "push" else
                      f"rolled back: version {stored.version} holds the content of version "
                      f"{restored_from[state.account]}")
            outcomes.append(Outcome(state.account, before, stored, result, ok=True, written=True))
            continue
        stopped = True
        # The write is one transaction: the table holds what it held, or what someone else wrote.
        after, reread = tables.attempt(state.account, lambda store: store.current())
        outcomes.append(Outcome(state.account, before, after, f"FAILED: {failure.label}", ok=False,
                                failure=failure, after_known=reread is None))
    return WriteReport(outcomes, config.content_hash, version=version, restored_from=restored_from)
