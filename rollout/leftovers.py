"""Resources an earlier rollout left behind that a deploy would collide with, and the way out.

CloudFormation creates every named resource of a stack with the name the template gives it. A
bucket, table, log group, function, role or KMS alias of that name that already exists (retained
by an earlier `destroy`, or by a rollback of resources with plain DeletionPolicy Retain) makes that
create fail "already exists" part-way through the rollout; so does an alternate domain name that
another distribution holds (CNAMEAlreadyExists). Before any change, deploy looks for each name the
templates give in every target account and region, and refuses (exit 2) when one exists outside the
stack set's own live stacks. `rollout.retained` lists them with what they hold and, when asked,
deletes them.

Every lookup enters the target account through the execution role narrowed to reads by a session
policy (Access.INSPECT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import botocore.exceptions

from rollout import naming
from rollout.aws import Access, Clients, error_code, pages
from rollout.console import Console
from rollout.errors import InputError, RolloutFailed
from rollout.inputs import TemplateSet
from rollout.stackset import StackSetOps
from rollout.template_values import Scope, Unresolvable, without_no_value
from templates.config import EDGE_REGION

# Resource types whose name the template sets, with the property that holds it and a short word.
NAMED_TYPES = {
    "AWS::S3::Bucket": ("BucketName", "bucket"),
    "AWS::DynamoDB::GlobalTable": ("TableName", "table"),
    "AWS::DynamoDB::Table": ("TableName", "table"),
    "AWS::Logs::LogGroup": ("LogGroupName", "log group"),
    "AWS::Lambda::Function": ("FunctionName", "function"),
    "AWS::IAM::Role": ("RoleName", "role"),
    "AWS::KMS::Alias": ("AliasName", "KMS alias"),
}
DISTRIBUTION = "AWS::CloudFront::Distribution"
NOT_FOUND = frozenset({"404", "NoSuchBucket", "NotFound", "ResourceNotFoundException", "NoSuchEntity"})

HOW_TO = ("Nothing was changed. See what they hold with `python deploy.py retained --env {env}`; "
          "`--delete-empty` deletes the ones that hold no data, `--delete-data` also the others "
          "(docs/rollout.md, \"Redeploy after destroy\").")


@dataclass(frozen=True)
class Planned:
    """A named resource the templates create in one account and region."""

    account: str
    region: str
    resource_type: str
    name: str
    where: str

    @property
    def kind(self) -> str:
        return NAMED_TYPES[self.resource_type][1]


@dataclass
class Leftover:
    """A resource with a planned name that exists outside the stack set's live stacks."""

    planned: Planned
    region: str                      # where it is (a table replica may be in another region)
    foreign: bool = False            # a bucket name that another AWS account holds
    content: str = ""                # what it holds, filled in by `retained`
    holds_data: bool | None = None
    outcome: str = ""                # what `retained` did

    @property
    def account(self) -> str:
        return self.planned.account

    def text(self) -> str:
        p = self.planned
        where = "" if self.foreign else f"  ({p.where})"
        note = "  name taken by another AWS account (bucket names are global)" if self.foreign else ""
        content = f"  {self.content}" if self.content else ""
        outcome = f"  -> {self.outcome}" if self.outcome else ""
        return f"{p.account}  {self.region:<14} {p.kind:<10} {p.name}{content}{note}{where}{outcome}"


@dataclass(frozen=True)
class AliasConflict:
    alias: str
    wanted_by: str
    holder_account: str
    distribution_id: str
    managed_by: str  # the env account whose live stack holds the distribution, or ""

    def text(self) -> str:
        held = f"distribution {self.distribution_id} in account {self.holder_account}"
        if self.managed_by:
            advice = (f"it belongs to account {self.managed_by}'s stack of this stack set: deploy once with "
                      f"the alias removed from {self.managed_by}'s domain, then add it to {self.wanted_by}")
        else:
            advice = "that distribution is not this stack set's: remove the alias from it (or delete it) first"
        return f"{self.wanted_by}  alias {self.alias} is held by {held}; {advice}"


@dataclass
class Findings:
    leftovers: list[Leftover] = field(default_factory=list)
    alias_conflicts: list[AliasConflict] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.leftovers or self.alias_conflicts)


# --- what the templates create, per account and region -------------------------------------------


def _nested_file(scope: Scope, resource: dict[str, Any]) -> str:
    url = scope.value(resource["Properties"]["TemplateURL"])
    return str(url).rsplit("/", 1)[-1]


def planned_resources(templates: TemplateSet, account: str, region: str,
                      unresolved: list[str] | None = None) -> tuple[list[Planned], list[tuple[str, str]]]:
    """Named resources and (alias, where) claims of the stack in this account and region."""
    named: list[Planned] = []
    aliases: list[tuple[str, str]] = []
    skipped = unresolved if unresolved is not None else []
    root = Scope(templates.root, account, region,
                 {naming.PARAM_TEMPLATES_BUCKET: "templates", naming.PARAM_TEMPLATES_PREFIX: ""})

    def walk(scope: Scope, file: str, depth: int) -> None:
        for logical, resource in sorted((scope.template.get("Resources") or {}).items()):
            where = f"{file}/{logical}"
            try:
                if not scope.creates(resource):
                    continue
                kind = resource.get("Type", "")
                properties = resource.get("Properties") or {}
                if kind == "AWS::CloudFormation::Stack" and depth < 5:
                    child = _nested_file(scope, resource)
                    if child in templates.files:
                        parameters = {}
                        for key, value in (properties.get("Parameters") or {}).items():
                            try:
                                parameters[key] = scope.value(value)
                            except Unresolvable:
                                parameters[key] = None
                        walk(Scope(templates.template(child), account, region, parameters), child, depth + 1)
                elif kind in NAMED_TYPES and NAMED_TYPES[kind][0] in properties:
                    name = str(scope.value(properties[NAMED_TYPES[kind][0]]))
                    named.append(Planned(account, region, kind, name, where))
                elif kind == DISTRIBUTION:
                    config = properties.get("DistributionConfig") or {}
                    for alias in without_no_value(scope.value(config.get("Aliases") or [])):
                        aliases.append((str(alias).lower(), where))
            except (Unresolvable, KeyError) as exc:
                skipped.append(f"{account} {region} {where} ({exc})")

    walk(root, naming.ROOT_TEMPLATE, 0)
    return named, aliases


def table_regions(templates: TemplateSet, planned: Planned) -> list[str]:
    """The regions a planned table exists in: its own, and for a global table its replicas'."""
    regions = [planned.region]
    if planned.resource_type != "AWS::DynamoDB::GlobalTable":
        return regions
    file, logical = planned.where.rsplit("/", 1)
    resource = templates.template(file)["Resources"][logical]
    scope = Scope(templates.template(file), planned.account, planned.region)
    for replica in resource.get("Properties", {}).get("Replicas") or []:
        try:
            region = str(scope.value(replica.get("Region")))
        except Unresolvable:
            continue
        if region not in regions:
            regions.append(region)
    return regions


# --- what the stack set's live stacks hold ------------------------------------------------------


def live_resources(clients: Clients, account: str, region: str, stack_id: str) -> set[tuple[str, str]]:
    """(type, physical id) of every resource in a live instance stack and its nested stacks."""
    cfn = clients.target(account, "cloudformation", region, Access.INSPECT)
    try:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0].get("StackStatus", "")
    except botocore.exceptions.ClientError:
        return set()
    if status in ("DELETE_COMPLETE", "ROLLBACK_COMPLETE"):
        return set()  # a stack whose creation rolled back holds nothing any more
    found: set[tuple[str, str]] = set()

    def walk(stack: str, depth: int) -> None:
        for resource in pages(cfn.list_stack_resources, "StackResourceSummaries", StackName=stack):
            physical = resource.get("PhysicalResourceId") or ""
            if not physical or resource.get("ResourceStatus", "").startswith("DELETE_"):
                continue
            found.add((resource["ResourceType"], physical))
            if resource["ResourceType"] == "AWS::CloudFormation::Stack" and depth < 5:
                walk(physical, depth + 1)

    walk(stack_id, 0)
    return found


# --- looking up names -------------------------------------------------------------------------


def _exists(call: Callable[[], Any]) -> bool:
    try:
        call()
        return True
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return False
        raise


class Finder:
    """Looks, in every target account and region, for planned names that exist outside live stacks."""

    def __init__(self, templates: TemplateSet, clients: Clients, console: Console):
        self.templates = templates
        self.env = templates.env
        self.clients = clients
        self.console = console
        # (account, region, name up to its last "/") -> log group names there: the edge functions'
        # groups of a region share one DescribeLogGroups.
        self._log_groups: dict[tuple[str, str, str], set[str]] = {}

    def _client(self, account: str, service: str, region: str) -> Any:
        return self.clients.target(account, service, region, Access.INSPECT)

    def find(self, accounts: list[str] | None = None) -> Findings:
        findings = Findings()
        accounts = list(accounts or self.env.deploy.accounts)
        ops = StackSetOps(self.env, self.clients, self.console)
        instances = ops.instances() if ops.describe() is not None else {}
        live: dict[tuple[str, str], set[tuple[str, str]]] = {}
        claims: dict[str, list[tuple[str, str]]] = {}
        for account in accounts:
            for region in self.env.regions:
                stack_id = instances.get((account, region), {}).get("StackId")
                live[(account, region)] = live_resources(self.clients, account, region, stack_id) if stack_id else set()
                named, aliases = planned_resources(self.templates, account, region, findings.unresolved)
                claims.setdefault(account, []).extend(aliases)
                managed = {physical for _, physical in live[(account, region)]}
                for planned in named:
                    if planned.name in managed:
                        continue
                    findings.leftovers.extend(self._look_up(planned))
        if any(claims.values()):
            # An alias may sit on any account's distribution: know every account's own one.
            for account in self.env.deploy.accounts:
                stack_id = instances.get((account, EDGE_REGION), {}).get("StackId")
                if (account, EDGE_REGION) not in live:
                    live[(account, EDGE_REGION)] = live_resources(self.clients, account, EDGE_REGION, stack_id) \
                        if stack_id else set()
            findings.alias_conflicts = self._alias_conflicts(accounts, claims, live)
        return findings

    def _look_up(self, planned: Planned) -> list[Leftover]:
        account, region, name = planned.account, planned.region, planned.name
        kind = planned.resource_type
        if kind == "AWS::S3::Bucket":
            s3 = self._client(account, "s3", region)
            owned = [b["Name"] for b in s3.list_buckets(Prefix=name).get("Buckets", [])]
            if name in owned:
                return [Leftover(planned, region)]
            try:
                s3.head_bucket(Bucket=name)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) in NOT_FOUND:
                    return []
            return [Leftover(planned, region, foreign=True)]
        if kind in ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"):
            return [Leftover(planned, r) for r in table_regions(self.templates, planned)
                    if _exists(lambda r=r: self._client(account, "dynamodb", r).describe_table(TableName=name))]
        if kind == "AWS::Logs::LogGroup":
            # The directory of the name ("/shop/prod/lambda-edge/"), unless that is too wide a search.
            prefix = name[:name.rfind("/") + 1]
            prefix = prefix if prefix.count("/") >= 3 else name
            if (account, region, prefix) not in self._log_groups:
                groups = pages(self._client(account, "logs", region).describe_log_groups, "logGroups",
                               logGroupNamePrefix=prefix)
                self._log_groups[(account, region, prefix)] = {g["logGroupName"] for g in groups}
            return [Leftover(planned, region)] if name in self._log_groups[(account, region, prefix)] else []
        if kind == "AWS::Lambda::Function":
            found = _exists(lambda: self._client(account, "lambda", region).get_function(FunctionName=name))
            return [Leftover(planned, region)] if found else []
        if kind == "AWS::IAM::Role":
            found = _exists(lambda: self._client(account, "iam", EDGE_REGION).get_role(RoleName=name))
            return [Leftover(planned, region)] if found else []
        if kind == "AWS::KMS::Alias":
            aliases = pages(self._client(account, "kms", region).list_aliases, "Aliases")
            return [Leftover(planned, region)] if any(a["AliasName"] == name for a in aliases) else []
        return []

    def _alias_conflicts(self, accounts: list[str], claims: dict[str, list[tuple[str, str]]],
                         live: dict[tuple[str, str], set[tuple[str, str]]]) -> list[AliasConflict]:
        managed = {account: {p for t, p in live.get((account, EDGE_REGION), set()) if t == DISTRIBUTION}
                   for account in self.env.deploy.accounts}
        holders: dict[str, list[tuple[str, str]]] = {}
        for account in self.env.deploy.accounts:
            cloudfront = self._client(account, "cloudfront", EDGE_REGION)
            marker = None
            while True:
                page = cloudfront.list_distributions(**({"Marker": marker} if marker else {}))["DistributionList"]
                for distribution in page.get("Items") or []:
                    for alias in (distribution.get("Aliases") or {}).get("Items") or []:
                        holders.setdefault(alias.lower(), []).append((account, distribution["Id"]))
                marker = page.get("NextMarker")
                if not page.get("IsTruncated") or not marker:
                    break
        conflicts = []
        for account in accounts:
            for alias, _ in claims.get(account, []):
                for holder_account, distribution_id in holders.get(alias, []):
                    if holder_account == account and distribution_id in managed[account]:
                        continue
                    owner = next((a for a, ids in managed.items() if distribution_id in ids), "")
                    conflicts.append(AliasConflict(alias, account, holder_account, distribution_id, owner))
        return conflicts


# --- deploy's pre-flight ----------------------------------------------------------------------


def preflight(templates: TemplateSet, clients: Clients, console: Console) -> None:
    """Refuse (InputError, exit 2) before any change when a planned name is taken outside live stacks."""
    env = templates.env
    try:
        findings = Finder(templates, clients, console).find()
    except RolloutFailed as exc:  # an account without the execution role: bootstrap has not run for it
        raise InputError(f"cannot look into the target accounts before deploying: {exc}") from exc
    for note in findings.unresolved:
        console.line(f"Note: cannot tell the name of {note}; it is not checked before the deploy.")
    if not findings:
        return
    lines = [f"{len(findings.leftovers) + len(findings.alias_conflicts)} name(s) that this deploy would create "
             "are taken; CloudFormation would fail on them part-way through the rollout:"]
    lines += [f"  {leftover.text()}" for leftover in findings.leftovers]
    lines += [f"  {conflict.text()}" for conflict in findings.alias_conflicts]
    if findings.leftovers:
        lines.append(HOW_TO.format(env=env.environment))
    else:
        lines.append("Nothing was changed.")
    raise InputError("\n".join(lines))
