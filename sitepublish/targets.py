"""Where a site goes: each deployed account's origin bucket, distribution and site publisher role.

Everything is read from the stack set's instance stacks (their outputs), in each account through the
execution role with a read-only session policy, before anything is uploaded anywhere: an environment
or account that is not deployed is bad input (exit 2). Uploads then go through the site publisher
role of each account, never through the StackSets roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rollout import naming
from rollout.aws import Clients
from rollout.console import Console
from rollout.errors import InputError
from rollout.stackset import StackSetOps, stack_outputs
from templates.config import EDGE_REGION, EnvConfig

PUBLISHER_SESSION_NAME = "edgecdn-site-publish"


@dataclass(frozen=True)
class SiteTarget:
    """One account's origin bucket (primary region), its distribution and the role that may publish."""

    account: str
    region: str
    bucket: str
    distribution_id: str
    role_arn: str


def resolve_targets(env: EnvConfig, clients: Clients, console: Console, account: str | None = None) -> list[SiteTarget]:
    """The targets of every account of the environment (or only `account`), all checked first."""
    accounts = list(env.deploy.accounts)
    if account is not None:
        if account not in accounts:
            raise InputError(f"--account {account}: not an account of environment {env.environment} "
                             f"({env.source.name} deploy.accounts: {', '.join(accounts)})")
        accounts = [account]
    ops = StackSetOps(env, clients, console)
    if ops.describe() is None:
        raise InputError(f"environment {env.environment} is not deployed: stack set {ops.name} does not exist in "
                         f"{naming.STACK_SET_REGION} of account {clients.account} (run `python deploy.py deploy "
                         f"--env {env.environment}` first)")
    instances = ops.instances()
    targets = []
    for name in accounts:
        outputs: dict[str, dict[str, str]] = {}
        for region in env.regions:
            instance = instances.get((name, region)) or {}
            if not instance.get("StackId"):
                raise InputError(f"account {name} is not deployed in {region} (stack set {ops.name} has no stack "
                                 f"there; run `python deploy.py deploy --env {env.environment}`)")
            outputs[region] = stack_outputs(clients, name, region, instance["StackId"])
        edge, primary = outputs[EDGE_REGION], outputs[env.primary_region]
        wanted = [(edge, EDGE_REGION, naming.OUTPUT_DISTRIBUTION_ID),
                  (primary, env.primary_region, naming.OUTPUT_ORIGIN_BUCKET_NAME),
                  (primary, env.primary_region, naming.OUTPUT_SITE_PUBLISHER_ROLE_ARN)]
        missing = [f"{output} ({region})" for values, region, output in wanted if not values.get(output)]
        if missing:
            raise InputError(f"account {name}: the stacks of stack set {ops.name} lack the output(s) "
                             f"{', '.join(missing)}: they predate `site` or their last deploy failed; run "
                             f"`python deploy.py deploy --env {env.environment}`")
        targets.append(SiteTarget(
            account=name, region=env.primary_region, bucket=primary[naming.OUTPUT_ORIGIN_BUCKET_NAME],
            distribution_id=edge[naming.OUTPUT_DISTRIBUTION_ID],
            role_arn=primary[naming.OUTPUT_SITE_PUBLISHER_ROLE_ARN]))
    return targets


@dataclass
class PublisherClients:
    """S3 (the bucket's region) and CloudFront clients acting as one account's site publisher role."""

    target: SiteTarget
    s3: Any
    cloudfront: Any


def publisher_clients(clients: Clients, target: SiteTarget, concurrency: int) -> PublisherClients:
    """Assume the target's site publisher role; its S3 client keeps `concurrency` connections."""
    return PublisherClients(
        target=target,
        s3=clients.assumed(target.role_arn, "s3", target.region, PUBLISHER_SESSION_NAME, pool=concurrency),
        cloudfront=clients.assumed(target.role_arn, "cloudfront", EDGE_REGION, PUBLISHER_SESSION_NAME),
    )
