"""`destroy`: delete the instances (every other region first, then us-east-1) and then the stack set.

Retained resources (DeletionPolicy Retain or RetainExceptOnCreate: buckets, the table, keys, log
groups, edge functions) stay; they are listed with where they are, and `retained` deletes them
when a deploy again would collide with them. Lambda@Edge replicas are deleted by CloudFront hours after the
distribution goes: an edge function that is not retained cannot be deleted before that, and the
instance delete then fails with "replicated function"; destroy says so and what to run later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from rollout import naming
from rollout.aws import Access, Clients, pages
from rollout.console import Console
from rollout.errors import RolloutFailed
from rollout.stackset import StackSetOps, accounts_by_regions, operation_preferences, report_failures
from templates.config import EDGE_REGION, EnvConfig

REPLICATED_FUNCTION_MARKER = "replicated function"



@dataclass(frozen=True)
class RetainedResource:
    account: str
    region: str
    resource_type: str
    physical_id: str
    path: str

    def text(self) -> str:
        return f"{self.account} {self.region}  {self.resource_type:<32} {self.physical_id}  ({self.path})"


def retained_resources(cfn: Any, stack_id: str, account: str, region: str, path: str = "") -> list[RetainedResource]:
    """Resources of the stack (and its nested stacks) whose DeletionPolicy keeps them on delete."""
    template = cfn.get_template(StackName=stack_id, TemplateStage="Original")["TemplateBody"]
    if isinstance(template, str):
        template = json.loads(template)
    declared = template.get("Resources", {})
    found = []
    for resource in pages(cfn.list_stack_resources, "StackResourceSummaries", StackName=stack_id):
        logical = resource["LogicalResourceId"]
        here = f"{path}/{logical}" if path else logical
        physical = resource.get("PhysicalResourceId", "")
        if resource.get("ResourceType") == "AWS::CloudFormation::Stack" and physical:
            found.extend(retained_resources(cfn, physical, account, region, here))
        elif declared.get(logical, {}).get("DeletionPolicy") in naming.RETAINING_POLICIES and physical:
            found.append(RetainedResource(account, region, resource["ResourceType"], physical, here))
    return found


def _delete_instances(env: EnvConfig, ops: StackSetOps, console: Console, regions: list[str],
                      accounts: list[str]) -> None:
    """One DeleteStackInstances operation over `regions`, all at once; RolloutFailed if it fails."""
    where = ", ".join(regions)
    outcome = ops.run(
        f"delete the instance(s) of account(s) {', '.join(accounts)} in {where}",
        lambda op_id: ops.cfn.delete_stack_instances(
            StackSetName=ops.name, Accounts=accounts, Regions=regions, RetainStacks=False,
            OperationPreferences=operation_preferences(env, regions, parallel=True), OperationId=op_id),
    )
    if outcome.succeeded:
        return
    report_failures(console, f"deleting the instances in {where}", outcome)
    replicas = [f for f in outcome.failures
                if REPLICATED_FUNCTION_MARKER in (f.resource.reason if f.resource else f.reason)]
    if replicas:
        console.line(
            "The edge functions still have replicas: CloudFront removes them a few hours after "
            "the distribution is deleted, and Lambda refuses to delete a function before that. "
            f"Nothing is wrong; run `python deploy.py destroy --env {env.environment}` again in a "
            "few hours to finish (the distribution and the other resources are already gone).")
    raise RolloutFailed(f"destroy of {ops.name} stopped: deleting the instances in {where} failed")


def destroy(env: EnvConfig, clients: Clients, console: Console) -> int:
    """The `destroy` command."""
    ops = StackSetOps(env, clients, console)
    if ops.describe() is None:
        console.line(f"Stack set {ops.name} does not exist: nothing to destroy.")
        return 0
    ops.wait_for_others()
    instances = ops.instances()
    retained: list[RetainedResource] = []
    for (account, region), summary in sorted(instances.items()):
        if summary.get("StackId"):
            try:
                cfn = clients.target(account, "cloudformation", region, Access.READ)
                retained.extend(retained_resources(cfn, summary["StackId"], account, region))
            except (botocore.exceptions.ClientError, RolloutFailed) as exc:
                console.line(f"  (could not list the retained resources of {account} {region}: {exc})")
    # Every other region first, all at once: the primary region's bucket policy names the
    # distribution of the edge region, and the log and replica regions depend on nothing. Then
    # us-east-1. Accounts that have instances in the same regions share an operation.
    waves = [[r for r in env.regions if r != EDGE_REGION], [EDGE_REGION]]
    waves[0] += sorted({r for _, r in instances} - set(env.regions))
    for wave in waves:
        regions_of = {a: tuple(r for r in wave if (a, r) in instances) for a in sorted({a for a, _ in instances})}
        for regions, accounts in accounts_by_regions(regions_of):
            _delete_instances(env, ops, console, list(regions), accounts)
    ops.cfn.delete_stack_set(StackSetName=ops.name)

    console.line(f"Deleted stack set {ops.name}.")
    if retained:
        console.line("Retained (their DeletionPolicy keeps them, with their data):")
        for resource in retained:
            console.line(f"  {resource.text()}")
        functions = [r for r in retained if r.resource_type == "AWS::Lambda::Function"]
        if functions:
            console.line("Edge functions can only be deleted once CloudFront has removed their replicas "
                         "(a few hours after the distribution is gone); then run, with credentials of "
                         "each account:")
            for function in functions:
                console.line(f"  aws lambda delete-function --region {function.region} "
                             f"--function-name {function.physical_id}   # account {function.account}")
        console.line(f"A deploy of {ops.name} refuses to start while these names are taken: "
                     f"`python deploy.py retained --env {env.environment}` lists them with what they hold, "
                     "`--delete-empty` deletes the empty ones, `--delete-data` also the others.")
    return 0
