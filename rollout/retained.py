"""`retained`: the leftovers a deploy would collide with, what they hold, and deleting them when asked.

Only names the templates use, only outside the stack set's live stacks (rollout.leftovers finds
them). `--delete-empty` deletes what holds no data; `--delete-data` also what does. Each account is
entered through the execution role with a session policy naming exactly the resources found
(Access.SCOPED), split into as many sessions as STS's size limit needs.
"""

from __future__ import annotations

from typing import Any, Callable

import botocore.exceptions

from rollout import naming
from rollout.aws import MAX_SESSION_POLICY_CHARS, Access, Clients, error_code, error_message, pages, session_policy
from rollout.console import Console
from rollout.errors import InputError, RolloutFailed
from rollout.inputs import TemplateSet
from rollout.leftovers import NOT_FOUND, Finder, Leftover
from templates.config import EDGE_REGION

# Removing a global table's replica, or its deletion protection, takes a while: look every 10 s
# for up to 15 minutes.
TABLE_WAIT_SECONDS = 10.0
TABLE_WAIT_ATTEMPTS = 90


def _arns(leftover: Leftover) -> dict[str, list[str]]:
    """Per purpose ("read", "delete"), the actions and resource ARNs a leftover needs."""
    p, region, account = leftover.planned, leftover.region, leftover.account
    if p.kind == "bucket":
        return {"read": ["s3:ListBucketVersions", f"arn:aws:s3:::{p.name}"],
                "delete": ["s3:ListBucketVersions,s3:DeleteBucket", f"arn:aws:s3:::{p.name}",
                           "s3:DeleteObject,s3:DeleteObjectVersion", f"arn:aws:s3:::{p.name}/*"]}
    if p.kind == "table":
        table = f"arn:aws:dynamodb:*:{account}:table/{p.name}"
        return {"read": ["dynamodb:Scan,dynamodb:DescribeTable", table],
                "delete": ["dynamodb:DescribeTable,dynamodb:UpdateTable,dynamodb:DeleteTable,"
                           "dynamodb:DeleteTableReplica", table]}
    if p.kind == "log group":
        group = f"arn:aws:logs:{region}:{account}:log-group:{p.name}"
        return {"read": ["logs:DescribeLogStreams", f"{group}:*"],
                "delete": ["logs:DeleteLogGroup", f"{group}:*"]}
    if p.kind == "function":
        return {"delete": ["lambda:DeleteFunction", f"arn:aws:lambda:{region}:{account}:function:{p.name}"]}
    if p.kind == "role":
        return {"delete": ["iam:ListRolePolicies,iam:DeleteRolePolicy,iam:ListAttachedRolePolicies,"
                           "iam:DetachRolePolicy,iam:DeleteRole", f"arn:aws:iam::{account}:role/{p.name}"]}
    if p.kind == "KMS alias":
        # DeleteAlias needs the permission on the alias and on the key it points to.
        return {"delete": ["kms:DeleteAlias", f"arn:aws:kms:{region}:{account}:{p.name}",
                           "kms:DeleteAlias", f"arn:aws:kms:{region}:{account}:key/*"]}
    return {}


def scoped_policies(leftovers: list[Leftover], purpose: str) -> list[tuple[str, list[Leftover]]]:
    """Session policies naming exactly these leftovers' resources, each within STS's size limit."""
    groups: list[tuple[list[dict[str, Any]], list[Leftover]]] = []
    for leftover in leftovers:
        pairs = _arns(leftover).get(purpose, [])
        statements = [{"Effect": "Allow", "Action": actions.split(","), "Resource": resource}
                      for actions, resource in zip(pairs[::2], pairs[1::2])]
        if not statements:
            continue
        if groups and len(session_policy(groups[-1][0] + statements)) <= MAX_SESSION_POLICY_CHARS:
            groups[-1][0].extend(statements)
            groups[-1][1].append(leftover)
        else:
            groups.append((list(statements), [leftover]))
    return [(session_policy(statements), members) for statements, members in groups]


class Retained:
    """The `retained` command: list the leftovers, then delete what the user asked for."""

    def __init__(self, templates: TemplateSet, clients: Clients, console: Console):
        self.templates = templates
        self.env = templates.env
        self.clients = clients
        self.console = console
        self.sessions: dict[int, str] = {}

    def _client(self, leftover: Leftover, service: str, region: str | None = None) -> Any:
        return self.clients.target(leftover.account, service, region or leftover.region, Access.SCOPED,
                                   self.sessions[id(leftover)])

    def _scope(self, leftovers: list[Leftover], purpose: str) -> None:
        for account in sorted({l.account for l in leftovers}):
            for policy, members in scoped_policies([l for l in leftovers if l.account == account], purpose):
                for leftover in members:
                    self.sessions[id(leftover)] = policy

    def run(self, delete_empty: bool, delete_data: bool, accounts: list[str] | None = None) -> int:
        env = self.env
        findings = Finder(self.templates, self.clients, self.console).find(accounts)
        where = f"account(s) {', '.join(accounts or env.deploy.accounts)}, region(s) {', '.join(env.regions)}"
        if not findings:
            self.console.line(f"No leftovers: none of the names {naming.stack_set_name(env)} creates exists outside "
                              f"its stacks in {where}. A deploy will not collide.")
            return 0
        ours = [l for l in findings.leftovers if not l.foreign]
        self._scope(ours, "read")
        for leftover in ours:
            self._describe(leftover)
        self._share_table_data(ours)
        if delete_empty or delete_data:
            self._scope(ours, "delete")
            for leftover in ours:
                if leftover.holds_data and not delete_data:
                    leftover.outcome = "kept: holds data (--delete-data deletes it)"
                    continue
                leftover.outcome = self._delete(leftover)
        self.console.line(f"Resources named as {naming.stack_set_name(env)} names its own, outside its live stacks "
                          f"({where}):")
        for leftover in findings.leftovers:
            self.console.line(f"  {leftover.text()}")
        for conflict in findings.alias_conflicts:
            self.console.line(f"  {conflict.text()}")
        remaining = [l for l in findings.leftovers if not l.outcome.startswith("deleted")]
        blocking = len(remaining) + len(findings.alias_conflicts)
        if not blocking:
            self.console.line("All deleted: a deploy will not collide with them.")
            return 0
        if not (delete_empty or delete_data):
            self.console.line("A deploy would collide with these. `--delete-empty` deletes the ones that hold no "
                              "data; `--delete-data` also deletes the others (their data is lost).")
        foreign = [l for l in remaining if l.foreign]
        if foreign:
            self.console.line("A bucket name taken by another AWS account cannot be freed from here: delete that "
                              "bucket in its account, or change `project` (bucket names are global).")
        self.console.line(f"{blocking} remain; a deploy of {naming.stack_set_name(env)} would be refused.")
        return 1

    # --- what each kind holds ---

    def _describe(self, leftover: Leftover) -> None:
        kind, name = leftover.planned.kind, leftover.planned.name
        try:
            if kind == "bucket":
                page = self._client(leftover, "s3").list_object_versions(Bucket=name, MaxKeys=1000)
                count = len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
                more = "+" if page.get("IsTruncated") else ""
                leftover.holds_data = count > 0
                leftover.content = f"{count}{more} object version(s)" if count else "empty (no object versions)"
            elif kind == "table":
                page = self._client(leftover, "dynamodb").scan(TableName=name, Limit=1, Select="COUNT")
                leftover.holds_data = bool(page.get("Count") or page.get("LastEvaluatedKey"))
                leftover.content = "holds items" if leftover.holds_data else "empty (no items)"
            elif kind == "log group":
                streams = self._client(leftover, "logs").describe_log_streams(logGroupName=name, limit=1)
                leftover.holds_data = bool(streams.get("logStreams"))
                leftover.content = "holds log streams" if leftover.holds_data else "empty (no log streams)"
            else:
                leftover.holds_data = False
                leftover.content = "holds no data"
        except botocore.exceptions.ClientError as exc:
            leftover.holds_data = True  # unknown counts as data: never deleted without --delete-data
            leftover.content = f"content unknown ({error_code(exc)}: {error_message(exc)})"

    @staticmethod
    def _share_table_data(leftovers: list[Leftover]) -> None:
        """A global table's replicas hold the same items: when one holds data, they all do."""
        tables = [l for l in leftovers if l.planned.kind == "table"]
        with_items = [t for t in tables if t.holds_data]
        for leftover in tables:
            holding = [t.region for t in with_items
                       if t.account == leftover.account and t.planned.name == leftover.planned.name]
            if holding and not leftover.holds_data:
                leftover.holds_data = True
                leftover.content = f"a replica of the table that holds items in {', '.join(holding)}"

    # --- deleting ---

    def _delete(self, leftover: Leftover) -> str:
        kind, name = leftover.planned.kind, leftover.planned.name
        try:
            if kind == "bucket":
                self._empty_bucket(leftover)
                self._client(leftover, "s3").delete_bucket(Bucket=name)
            elif kind == "table":
                self._delete_table(leftover)
            elif kind == "log group":
                self._client(leftover, "logs").delete_log_group(logGroupName=name)
            elif kind == "function":
                self._client(leftover, "lambda").delete_function(FunctionName=name)
            elif kind == "role":
                iam = self._client(leftover, "iam", EDGE_REGION)
                for policy in pages(iam.list_role_policies, "PolicyNames", RoleName=name):
                    iam.delete_role_policy(RoleName=name, PolicyName=policy)
                for attached in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
                    iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
                iam.delete_role(RoleName=name)
            elif kind == "KMS alias":
                self._client(leftover, "kms").delete_alias(AliasName=name)
        except RolloutFailed as exc:
            return f"not deleted ({exc})"
        except botocore.exceptions.ClientError as exc:
            message = error_message(exc)
            if error_code(exc) in NOT_FOUND:
                return "deleted (already gone, with the table's other replicas)" if kind == "table" else "deleted"
            if kind == "function" and "replicated function" in message:
                return ("not deleted: CloudFront still holds replicas of this Lambda@Edge function (it removes them "
                        "hours after the distribution is gone); run retained again later")
            return f"not deleted ({error_code(exc)}: {message})"
        return "deleted"

    def _empty_bucket(self, leftover: Leftover) -> None:
        s3 = self._client(leftover, "s3")
        name = leftover.planned.name
        while True:
            page = s3.list_object_versions(Bucket=name, MaxKeys=1000)
            objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                       for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if not objects:
                return
            s3.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})

    def _delete_table(self, leftover: Leftover) -> None:
        """The table in the leftover's region; for a global table (version 2019.11.21), first its other
        replicas, one at a time through UpdateTable (DeleteTableReplica), each once its own deletion
        protection is off."""
        dynamodb = self._client(leftover, "dynamodb")
        name = leftover.planned.name
        table = dynamodb.describe_table(TableName=name)["Table"]
        for replica in table.get("Replicas") or []:
            region = replica.get("RegionName")
            if not region or region == leftover.region:
                continue
            self._unprotect(leftover, region)
            dynamodb.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": region}}])
            self._wait_table(dynamodb, name, lambda t, region=region: t.get("TableStatus") == "ACTIVE" and region
                             not in {r.get("RegionName") for r in t.get("Replicas") or []})
        self._unprotect(leftover, leftover.region)
        dynamodb.delete_table(TableName=name)

    def _unprotect(self, leftover: Leftover, region: str) -> None:
        dynamodb = self._client(leftover, "dynamodb", region)
        name = leftover.planned.name
        if dynamodb.describe_table(TableName=name)["Table"].get("DeletionProtectionEnabled"):
            dynamodb.update_table(TableName=name, DeletionProtectionEnabled=False)
            self._wait_table(dynamodb, name, lambda t: t.get("TableStatus") == "ACTIVE")

    def _wait_table(self, dynamodb: Any, name: str, done: Callable[[dict[str, Any]], bool]) -> None:
        for _ in range(TABLE_WAIT_ATTEMPTS):
            if done(dynamodb.describe_table(TableName=name)["Table"]):
                return
            self.clients.sleep(TABLE_WAIT_SECONDS)
        raise RolloutFailed(f"table {name} ({dynamodb.region}) is still being updated after "
                            f"{TABLE_WAIT_ATTEMPTS * TABLE_WAIT_SECONDS / 60:.0f} minutes; run retained again later")


def retained(templates: TemplateSet, clients: Clients, console: Console, delete_empty: bool = False,
             delete_data: bool = False, accounts: list[str] | None = None) -> int:
    """The `retained` command: exit 0 when nothing would collide with a deploy (any more), else 1."""
    unknown = sorted(set(accounts or []) - set(templates.env.deploy.accounts))
    if unknown:
        raise InputError(f"--account {', '.join(unknown)}: not an account of {templates.env.source.name} "
                         f"(deploy.accounts: {', '.join(templates.env.deploy.accounts)})")
    return Retained(templates, clients, console).run(delete_empty, delete_data, accounts)
