"""The log groups the edge functions wrote before they had their own: found, reported, expired on request.

Until the templates gave each edge function a custom log group (`/<project>/<env>/lambda-edge/<event
type>`, created with retention in every edge log region), Lambda@Edge wrote to the default
`/aws/lambda/us-east-1.<function>` in each region that ran it, and created that group itself, with no
retention: its events are kept, and billed, forever. The templates never create those names any more,
so they cannot make a rollout fail with "already exists"; deploy finds them before any change (in
every regional-edge-cache region of every account), says what they hold, and leaves them and their
events alone. `deploy --expire-legacy-edge-logs` gives those without retention (or with a longer one)
`retention.function_logs_days`, after which CloudWatch Logs deletes their older events.

The search enters each account through the execution role narrowed to reads (Access.INSPECT); the
retention change through a session policy that allows only logs:PutRetentionPolicy on these names.
"""

from __future__ import annotations

from dataclasses import dataclass

import botocore.exceptions

from rollout.aws import Access, Clients, error_code, error_message, pages, session_policy
from rollout.console import Console
from rollout.errors import RolloutFailed
from templates.config import REGIONAL_EDGE_CACHE_REGIONS, EnvConfig
from templates.edge_functions import FUNCTIONS
from templates.lambda_edge import default_log_group_name

EXPIRE_OPTION = "--expire-legacy-edge-logs"


@dataclass
class LegacyLogGroup:
    """A default-named edge-function log group in one account and region."""

    account: str
    region: str
    name: str
    stored_bytes: int
    retention_days: int | None
    expired_to: int | None = None  # the retention deploy gave it

    def text(self) -> str:
        retention = f"retention {self.retention_days} days" if self.retention_days else "no retention"
        done = f"  -> retention {self.expired_to} days" if self.expired_to else ""
        return f"{self.account}  {self.region:<14} {self.name}  {_size(self.stored_bytes)}, {retention}{done}"


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} bytes"


def legacy_names(env: EnvConfig) -> list[str]:
    """`/aws/lambda/us-east-1.<function>` of each edge function."""
    return [default_log_group_name(env, spec) for spec in FUNCTIONS]


def find_legacy_log_groups(env: EnvConfig, clients: Clients) -> list[LegacyLogGroup]:
    """The default-named groups of the environment's edge functions, in every regional-edge-cache
    region of every account (Lambda@Edge may have run anywhere the distribution reached)."""
    names = set(legacy_names(env))
    prefix = f"/aws/lambda/us-east-1.{env.name_prefix}-"
    found = []
    for account in env.deploy.accounts:
        for region in REGIONAL_EDGE_CACHE_REGIONS:
            logs = clients.target(account, "logs", region, Access.INSPECT)
            try:
                groups = list(pages(logs.describe_log_groups, "logGroups", logGroupNamePrefix=prefix))
            except botocore.exceptions.ClientError as exc:
                raise RolloutFailed(f"cannot list the log groups of account {account} in {region} "
                                    f"({error_code(exc)}: {error_message(exc)})") from exc
            found += [LegacyLogGroup(account, region, g["logGroupName"], int(g.get("storedBytes") or 0),
                                     g.get("retentionInDays")) for g in groups if g["logGroupName"] in names]
    return found


def needs_retention(group: LegacyLogGroup, days: int) -> bool:
    return group.retention_days is None or group.retention_days > days


def report_legacy(env: EnvConfig, groups: list[LegacyLogGroup], console: Console, expire: bool) -> None:
    """Say what the legacy groups hold and what happens to them."""
    if not groups:
        return
    days = env.function_log_retention_days
    forever = [g for g in groups if needs_retention(g, days)]
    console.line(f"{len(groups)} log group(s) the edge functions wrote to before they had their own "
                 f"(`/aws/lambda/us-east-1.<function>`, {_size(sum(g.stored_bytes for g in groups))} in all); "
                 "the templates do not manage them and this deploy does not delete them:")
    for group in groups:
        console.line(f"  {group.text()}")
    if not forever:
        return
    if expire:
        console.line(f"{len(forever)} of them will get a retention of {days} days (retention.function_logs_days) "
                     "once the rollout succeeds; CloudWatch Logs then deletes their older events.")
    else:
        console.line(f"{len(forever)} of them keep their events longer than retention.function_logs_days "
                     f"({days} days){' (forever: no retention)' if any(g.retention_days is None for g in forever) else ''}. "
                     f"They are left as they are; `deploy {EXPIRE_OPTION}` gives them that retention "
                     "(their older events are then deleted), or delete them yourself when no longer needed.")


def expire_legacy_log_groups(env: EnvConfig, groups: list[LegacyLogGroup], clients: Clients,
                             console: Console) -> None:
    """Give each legacy group without retention (or with a longer one) retention.function_logs_days."""
    days = env.function_log_retention_days
    for account in sorted({g.account for g in groups}):
        mine = [g for g in groups if g.account == account and needs_retention(g, days)]
        if not mine:
            continue
        # Only these names, in any region (the same name in each): nothing else can change.
        policy = session_policy([{
            "Effect": "Allow", "Action": ["logs:PutRetentionPolicy"],
            "Resource": [f"arn:aws:logs:*:{account}:log-group:{name}" for name in sorted({g.name for g in mine})],
        }])
        for group in mine:
            logs = clients.target(account, "logs", group.region, Access.SCOPED, policy)
            logs.put_retention_policy(logGroupName=group.name, retentionInDays=days)
            group.expired_to = days
            console.line(f"  {group.text()}")
