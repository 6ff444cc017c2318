"""The rehearsal's scenarios: how rollouts go on AWS beyond the first clean one, run against moto.

Each scenario brings the environment up its own way (with its own checks); the rehearsal then
reads the outputs, deploys again (no change expected) and runs its checks of every account.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rollout import naming
from rollout.aws import Access
from rollout.destroy import destroy
from rollout.errors import InputError, RolloutFailed
from rollout.inputs import TemplateSet
from rollout.leftovers import Finder, planned_resources
from rollout.retained import Retained
from rollout.stackset import StackSetOps, failed_resource
from rollout.template_values import Scope
from templates.common import origin_bucket_name_sub
from templates.config import EDGE_REGION, EnvConfig

if TYPE_CHECKING:
    from rollout.rehearse import Rehearsal

# What `rehearse` runs without --scenario.
DEFAULT_SCENARIO = "rollout"

# An account outside every environment: the owner of what the environment collides with.
OUTSIDE_ACCOUNT = "999999999999"


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    bring_up: Callable[["Rehearsal"], None]
    unfit: Callable[[EnvConfig], str] = lambda env: ""  # why the environment cannot run it, or ""


def templates_for(env: EnvConfig) -> TemplateSet:
    """The templates generate.py would write for `env`, in memory."""
    from templates.build import render_environment

    return TemplateSet(env=env, directory=Path(f"(generated in memory for {env.environment})"),
                       files=render_environment(env))


def without_last_account(env: EnvConfig) -> EnvConfig:
    """The environment before its last account was added."""
    accounts = env.deploy.accounts[:-1]
    return dataclasses.replace(env, deploy=dataclasses.replace(env.deploy, accounts=accounts),
                               account_domains=tuple((a, d) for a, d in env.account_domains if a in accounts))


# --- rollout -----------------------------------------------------------------------------------


def _rollout(r: "Rehearsal") -> None:
    r.bootstrap()
    r.publish()
    r.deploy()


# --- a first create that fails part-way, then succeeds after the fix ----------------------------


def _inject_failure(r: "Rehearsal", account: str) -> tuple[str, str, Callable[[], None]]:
    """Something users meet: (what, the error it causes, how it is fixed)."""
    domain = r.env.domain_for(account)
    if domain is not None and domain.aliases:
        # Another AWS account's distribution holds one of the account's aliases (CloudFront allows
        # an alias on one distribution across all of AWS).
        alias = domain.aliases[0]
        from rollout.moto_models.assume_role import seed_role  # the rehearsal's moto only

        # The other account lets this one in, as the environment's accounts do (STS checks the trust).
        seed_role(OUTSIDE_ACCOUNT, r.clients.bootstrap_role_name, r.clients.account, "another team's access")
        cloudfront = r.clients.target(OUTSIDE_ACCOUNT, "cloudfront", EDGE_REGION, Access.BOOTSTRAP)
        held = cloudfront.create_distribution(DistributionConfig={
            "CallerReference": "holds-an-alias", "Comment": "another team's distribution", "Enabled": True,
            "Aliases": {"Quantity": 1, "Items": [alias]},
            "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "other.s3.us-east-1.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})

        def release() -> None:
            cloudfront.delete_distribution(Id=held["Distribution"]["Id"], IfMatch=held["ETag"])

        return (f"alias {alias} is held by a distribution of account {OUTSIDE_ACCOUNT}", "CNAMEAlreadyExists",
                release)
    # Without a domain: an origin access control of the same name left in the account (OAC names
    # are unique per account; deploy's pre-flight does not look for them).
    cloudfront_template = r.templates.template("cloudfront.json")
    scope = Scope(cloudfront_template, account, EDGE_REGION)
    control = next(res for res in cloudfront_template["Resources"].values()
                   if res["Type"] == "AWS::CloudFront::OriginAccessControl")
    name = scope.value(control["Properties"]["OriginAccessControlConfig"]["Name"])
    cloudfront = r.clients.target(account, "cloudfront", EDGE_REGION, Access.BOOTSTRAP)
    left = cloudfront.create_origin_access_control(OriginAccessControlConfig={
        "Name": name, "SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"})

    def remove() -> None:
        cloudfront.delete_origin_access_control(Id=left["OriginAccessControl"]["Id"], IfMatch=left["ETag"])

    return f"an origin access control named {name} already exists", "OriginAccessControlAlreadyExists", remove


def _failed_first_create(r: "Rehearsal") -> None:
    env = r.env
    account = env.deploy.accounts[0]
    r.bootstrap()
    r.publish()
    cause, error_code, fix = _inject_failure(r, account)
    r.console.line(f"  injected: {cause}")
    error = r.deploy_refused("deploy (first create, fails)")
    r.check(isinstance(error, RolloutFailed),
            f"the first deploy stopped part-way ({cause}): {str(error).splitlines()[0] if error else 'it succeeded'}")
    instance = StackSetOps(env, r.clients, r.console).instances().get((account, EDGE_REGION), {})
    detailed = (instance.get("StackInstanceStatus") or {}).get("DetailedStatus")
    r.check(instance.get("Status") == "OUTDATED" and detailed == "FAILED",
            f"{account} {EDGE_REGION}: the instance is OUTDATED, FAILED ({instance.get('Status')}, {detailed})")
    cfn = r.clients.target(account, "cloudformation", EDGE_REGION, Access.READ)
    stack = cfn.describe_stacks(StackName=instance["StackId"])["Stacks"][0] if instance.get("StackId") else {}
    cause_found = failed_resource(cfn, instance["StackId"]) if instance.get("StackId") else None
    r.check(stack.get("StackStatus") == "DELETE_COMPLETE" and cause_found is not None
            and error_code in cause_found.reason,
            f"{account} {EDGE_REGION}: the stack rolled back and StackSets deleted it "
            f"({stack.get('StackStatus')}); its events name the cause: "
            f"{cause_found.text() if cause_found else '(none found)'}")
    left = Finder(r.templates, r.clients, r.console).find([account])
    r.check(not left.leftovers, f"{account}: the rollback left no named resource behind (RetainExceptOnCreate"
            f" deletes what a failed create made): {[l.planned.name for l in left.leftovers] or 'none'}")
    fix()
    r.console.line("  fixed: the cause is gone; deploy again")
    r.deploy()


# --- destroy, then deploy again -------------------------------------------------------------------


def _use(r: "Rehearsal") -> None:
    """What a running environment gains: site content in each origin bucket, an edge configuration."""
    env = r.env
    for account in env.deploy.accounts:
        origin = origin_bucket_name_sub(env).replace("${AWS::AccountId}", account)
        r.clients.target(account, "s3", env.primary_region, Access.BOOTSTRAP).put_object(
            Bucket=origin, Key="index.html", Body=b"<h1>site</h1>")
        dynamodb = r.clients.target(account, "dynamodb", env.primary_region, Access.BOOTSTRAP)
        table = dynamodb.describe_table(TableName=env.edge_config_table_name)["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        item = {key["AttributeName"]: {types[key["AttributeName"]]: "1" if types[key["AttributeName"]] == "N" else "site"}
                for key in table["KeySchema"]}
        dynamodb.put_item(TableName=env.edge_config_table_name, Item={**item, "config": {"S": json.dumps({})}})


def _retained_names(r: "Rehearsal") -> list[str]:
    """The names of every resource the templates retain on delete, in every account and region."""
    names = []
    for account in r.env.deploy.accounts:
        for region in r.env.regions:
            for planned in planned_resources(r.templates, account, region)[0]:
                file, logical = planned.where.rsplit("/", 1)
                policy = r.templates.template(file)["Resources"][logical].get("DeletionPolicy")
                if policy in naming.RETAINING_POLICIES:
                    names.append(planned.name)
    return names


def _redeploy_after_destroy(r: "Rehearsal") -> None:
    env = r.env
    r.bootstrap()
    r.publish()
    r.deploy()
    r._phase("use (site content, edge config)", lambda: _use(r))
    r._phase("destroy", lambda: destroy(env, r.clients, r.console))
    refused = r.deploy_refused("deploy after destroy (refused)")
    text = str(refused or "")
    missing = [name for name in _retained_names(r) if name not in text]
    r.check(isinstance(refused, InputError) and not missing and "deploy.py retained" in text,
            "deploy after destroy is refused before any change (exit 2), naming every retained resource "
            f"and the way out{'; not named: ' + ', '.join(missing) if missing else ''}")
    retained = Retained(r.templates, r.clients, r.console)
    status = r._phase("retained --delete-empty", lambda: retained.run(delete_empty=True, delete_data=False))
    left = Finder(r.templates, r.clients, r.console).find()
    kinds = sorted({l.planned.kind for l in left.leftovers})
    r.check(status == 1 and kinds == ["bucket", "table"],
            f"--delete-empty deleted what held nothing and kept what holds data: {len(left.leftovers)} kept "
            f"({', '.join(kinds)})")
    refused = r.deploy_refused("deploy, data still retained (refused)")
    r.check(isinstance(refused, InputError), "deploy is still refused while retained data is in the way")
    status = r._phase("retained --delete-data", lambda: Retained(r.templates, r.clients, r.console).run(
        delete_empty=False, delete_data=True))
    r.check(status == 0, f"--delete-data deleted the rest (exit {status})")
    r.deploy("deploy after the cleanup")


# --- an account added to a running environment -------------------------------------------------


def _distribution_ids(r: "Rehearsal", accounts: tuple[str, ...]) -> dict[str, list[str]]:
    ids = {}
    for account in accounts:
        items = r.clients.target(account, "cloudfront", EDGE_REGION, Access.BOOTSTRAP).list_distributions()[
            "DistributionList"].get("Items") or []
        ids[account] = sorted(d["Id"] for d in items)
    return ids


def _add_account_unfit(env: EnvConfig) -> str:
    if len(env.deploy.accounts) >= 2:
        return ""
    return (f"needs an environment with two accounts or more ({env.source.name} has "
            f"{len(env.deploy.accounts)}): it deploys every account but the last, then adds the last one")


def _add_account(r: "Rehearsal") -> None:
    env = r.env
    before = without_last_account(env)
    added = env.deploy.accounts[-1]
    smaller = templates_for(before)
    r.bootstrap(before)
    r.publish(smaller)
    r.deploy("deploy", smaller)
    distributions = _distribution_ids(r, before.deploy.accounts)
    r.bootstrap(name="bootstrap (account added)")
    r.publish(name="publish (account added)")
    r.deploy("deploy (account added)")
    template_changed = smaller.digest != r.templates.digest
    expected = int(template_changed) + (1 if env.single_region else 2)
    operations = r.report.phase("deploy (account added)").operations
    r.check(operations == expected,
            f"adding account {added} took {operations} stack-set operation(s) (expected {expected}: "
            f"{'an UpdateStackSet for the template that now names it, then ' if template_changed else ''}"
            f"one create in every region but the primary, all at once"
            f"{'' if env.single_region else ', then the primary one after the distribution ARN is known'})")
    r.check(_distribution_ids(r, before.deploy.accounts) == distributions,
            f"the accounts already running kept their distributions ({distributions})")


# --- an environment already running gains the regions the edge touches -------------------------


def covering_only_table_regions(env: EnvConfig) -> EnvConfig:
    """The environment before it covered every region its edge functions run in: log groups only in
    us-east-1 and the table's regions (where it has instances anyway)."""
    kept = {EDGE_REGION, *env.table_regions}
    return dataclasses.replace(env, edge_log_regions=tuple(r for r in env.edge_log_regions if r in kept))


def seed_legacy_log_groups(r: "Rehearsal", regions: list[str]) -> dict[tuple[str, str, str], int]:
    """What Lambda@Edge wrote while the functions logged under their default name: in each region,
    `/aws/lambda/us-east-1.<function>` created by Lambda itself (no retention, no key) with events.
    Returns {(account, region, name): number of events}."""
    from rollout.edge_logs import legacy_names

    seeded = {}
    for account in r.env.deploy.accounts:
        for region in regions:
            logs = r.clients.target(account, "logs", region, Access.BOOTSTRAP)
            for name in legacy_names(r.env):
                logs.create_log_group(logGroupName=name)
                logs.create_log_stream(logGroupName=name, logStreamName="2026/01/01/[1]abcdef")
                # CloudWatch Logs refuses events older than 14 days: these are from the last hour.
                now = int(time.time() * 1000) - 3_600_000
                events = [{"timestamp": now + i, "message": f"START RequestId: {i}"} for i in range(3)]
                logs.put_log_events(logGroupName=name, logStreamName="2026/01/01/[1]abcdef", logEvents=events)
                seeded[(account, region, name)] = len(events)
    return seeded


def _events_kept(r: "Rehearsal", seeded: dict[tuple[str, str, str], int]) -> list[str]:
    """The seeded groups that lost events (or are gone), as text."""
    lost = []
    for (account, region, name), count in sorted(seeded.items()):
        logs = r.clients.target(account, "logs", region, Access.BOOTSTRAP)
        try:
            found = len(logs.get_log_events(logGroupName=name, logStreamName="2026/01/01/[1]abcdef",
                                            startFromHead=True)["events"])
        except Exception as exc:  # a missing group is what this looks for
            found = 0
            name = f"{name} ({type(exc).__name__})"
        if found != count:
            lost.append(f"{account} {region} {name}: {found} of {count} events")
    return lost


def _retention_of(r: "Rehearsal", seeded: dict[tuple[str, str, str], int]) -> set[int | None]:
    found = set()
    for account, region, name in seeded:
        groups = r.clients.target(account, "logs", region, Access.BOOTSTRAP).describe_log_groups(
            logGroupNamePrefix=name)["logGroups"]
        found |= {g.get("retentionInDays") for g in groups if g["logGroupName"] == name}
    return found


def _gain_regions_unfit(env: EnvConfig) -> str:
    if set(covering_only_table_regions(env).regions) != set(env.regions):
        return ""
    return (f"needs edge log regions beyond us-east-1 and the table's regions ({env.source.name} has none "
            "to gain)")


def _gain_regions(r: "Rehearsal") -> None:
    from rollout.deployer import Deployer

    env = r.env
    before = covering_only_table_regions(env)
    gained = [region for region in env.regions if region not in before.regions]
    smaller = templates_for(before)
    r.bootstrap(before)
    r.publish(smaller)
    r.deploy("deploy (us-east-1 and the table's regions only)", smaller)
    seeded = seed_legacy_log_groups(r, [EDGE_REGION, *gained])
    r.console.line(f"  existing before the deploy: {len(seeded)} log group(s) Lambda@Edge created under the "
                   f"default name, with events, in {EDGE_REGION} and {', '.join(gained)}")
    deployer = r.deploy("deploy (regions gained)")
    phase = r.report.phase("deploy (regions gained)")
    cfn = r.clients.admin("cloudformation", naming.STACK_SET_REGION)
    actions = [cfn.describe_stack_set_operation(StackSetName=naming.stack_set_name(env), OperationId=op)[
        "StackSetOperation"] for op in deployer.ops.started]
    shape = [f"{a['Action']} {a.get('OperationPreferences', {}).get('RegionConcurrencyType', '?')}" for a in actions]
    r.check(phase.operations == 2 and shape == ["UPDATE PARALLEL", "CREATE PARALLEL"],
            f"gaining {len(gained)} region(s) took one deploy of {phase.operations} stack-set operation(s), "
            f"each with its regions in parallel ({', '.join(shape)}): the update, then the new instances")
    lost = _events_kept(r, seeded)
    r.check(not lost and _retention_of(r, seeded) == {None},
            f"the {len(seeded)} log groups Lambda created under the default name are untouched, every event "
            f"kept{': ' + '; '.join(lost) if lost else ''}")
    console_mark = r.clients.log.mark()
    expiring = Deployer(r.templates, r.clients, r.console, clock=r.clock, expire_legacy_edge_logs=True)
    r._phase("deploy --expire-legacy-edge-logs", expiring.run, lambda: len(expiring.ops.started))
    changed = [op for _, op in r.clients.log.since(console_mark).mutating]
    r.check(_retention_of(r, seeded) == {env.function_log_retention_days}
            and set(changed) == {"PutRetentionPolicy"} and len(changed) == len(seeded) and not _events_kept(r, seeded),
            f"deploy --expire-legacy-edge-logs gave them retention {env.function_log_retention_days} days "
            f"({len(changed)} PutRetentionPolicy calls, nothing else changed; their events stay until they expire)")


SCENARIOS = {s.name: s for s in (
    Scenario("rollout", "bootstrap, publish and a first deploy of every account", _rollout),
    Scenario("failed-first-create",
             "a first deploy that fails part-way on something users meet (an alias that another account's "
             "distribution holds; without a domain, an origin access control name already taken), rolls back "
             "to nothing, then succeeds once the cause is removed", _failed_first_create),
    Scenario("redeploy-after-destroy",
             "deploy, add content, destroy; deploy again is refused (exit 2) while retained resources are in "
             "the way; retained --delete-empty, then --delete-data; then deploy succeeds", _redeploy_after_destroy),
    Scenario("add-account",
             "deploy every account but the last, then add the last one (bootstrap and deploy again)", _add_account,
             _add_account_unfit),
    Scenario("gain-regions",
             "deploy with log groups in us-east-1 and the table's regions only, as before every edge region was "
             "covered; with the functions' default-named log groups (events, no retention) in the regions to "
             "gain, one deploy adds them and keeps those groups as they are; then deploy "
             "--expire-legacy-edge-logs gives them the configured retention", _gain_regions, _gain_regions_unfit),
)}
