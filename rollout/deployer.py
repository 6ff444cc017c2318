"""`deploy`: bring the stack set and its instances to output/<env>/, edge region first.

The plan is always derived from what AWS reports, never from local state, so a deploy run after
an interruption (or after someone else's operation) continues from where the rollout stands.

Operations: an update of the stack set reaches every instance, all regions at once; the instances
outside the primary region (us-east-1, the edge log regions, the replica regions) are created in
one operation, all regions at once, since none of them needs another's output; then one operation
per account creates or updates its primary-region instance with the DistributionArn of its
us-east-1 stack. A first rollout is 1 + N operations (N accounts) however many regions there are.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from rollout import naming
from rollout.aws import Clients
from rollout.bootstrap import Bootstrapper
from rollout.console import Console
from rollout.edge_logs import LegacyLogGroup, expire_legacy_log_groups, find_legacy_log_groups, report_legacy
from rollout.errors import RolloutFailed
from rollout.inputs import TemplateSet
from rollout.leftovers import preflight
from rollout.publish import Publication, publish_templates, require_bootstrap
from rollout.stackset import (
    OperationOutcome,
    StackSetOps,
    accounts_by_regions,
    operation_preferences,
    report_failures,
    stack_outputs,
)
from templates.common import tags
from templates.config import EDGE_REGION


def stack_set_parameters(templates: TemplateSet, administration_account: str) -> dict[str, str]:
    """Stack-set level values: the edge region's bucket, the start of every region's bucket name,
    the set's prefix, the deploying account.

    One operation gives every region the same values: RegionalTemplatesBucketPrefix lets each
    stack complete its own region's bucket name (a nested TemplateURL must be in the stack's
    region). DistributionArn is declared at stack-set level (empty) because instance overrides can
    only set parameters the stack set has; the primary instances override it.
    """
    env = templates.env
    parameters = {
        naming.PARAM_TEMPLATES_BUCKET: naming.template_bucket_name(env.project, administration_account,
                                                                  naming.STACK_SET_REGION),
        naming.PARAM_TEMPLATES_PREFIX: templates.prefix,
    }
    if naming.PARAM_REGIONAL_TEMPLATES_BUCKET_PREFIX in templates.root_parameters:
        parameters[naming.PARAM_REGIONAL_TEMPLATES_BUCKET_PREFIX] = naming.template_bucket_prefix(
            env.project, administration_account)
    if templates.has_distribution_parameter:
        parameters[naming.PARAM_DISTRIBUTION_ARN] = ""
    if naming.PARAM_SITE_PUBLISHER_ACCOUNT in templates.root_parameters:
        # The role `deploy.py site` uploads through trusts the account deploy.py runs from.
        parameters[naming.PARAM_SITE_PUBLISHER_ACCOUNT] = administration_account
    return parameters


def primary_overrides(templates: TemplateSet, administration_account: str, distribution_arn: str) -> dict[str, str]:
    """What a primary-region instance sets for itself: its region's bucket (for templates without
    RegionalTemplatesBucketPrefix), the edge distribution."""
    env = templates.env
    return {naming.PARAM_TEMPLATES_BUCKET: naming.template_bucket_name(env.project, administration_account,
                                                                      env.primary_region),
            naming.PARAM_DISTRIBUTION_ARN: distribution_arn}



def _parameter_list(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())]


def stack_set_tags(templates: TemplateSet) -> list[dict[str, str]]:
    """Tags of the stack set, which StackSets propagates to every stack and resource it creates."""
    return tags(templates.env).to_dict()  # the same tags the templates give their resources


class Deployer:
    """One deploy run."""

    def __init__(
        self,
        templates: TemplateSet,
        clients: Clients,
        console: Console,
        clock: Callable[[], float] = time.time,
        expire_legacy_edge_logs: bool = False,
    ):
        self.templates = templates
        self.expire_legacy_edge_logs = expire_legacy_edge_logs
        self.env = templates.env
        self.clients = clients
        self.console = console
        self.clock = clock
        self.ops = StackSetOps(self.env, clients, console, clock=clock)
        self.regions = list(self.env.regions)
        self.accounts = list(self.env.deploy.accounts)
        self.outcomes: list[OperationOutcome] = []
        self._stack_set: dict[str, Any] | None = None

    def run(self) -> int:
        start_mark = self.clients.log.mark()
        began = self.clock()
        name = self.ops.name
        bucketless = require_bootstrap(self.templates, self.clients)
        self.ops.wait_for_others()
        legacy = self._before_any_change()
        if bucketless:
            # Regions added to the environment since bootstrap: their template buckets, in this
            # (the administration) account, as bootstrap makes them; the roles exist already.
            self.console.line(f"Template buckets for the region(s) added since bootstrap: {', '.join(bucketless)}")
            Bootstrapper(self.env, self.clients, self.console).ensure_template_buckets(bucketless)
        publication = publish_templates(self.templates, self.clients, buckets_checked=True)
        if publication.changed:
            for region, p in publication.regions.items():
                if p.uploaded or p.copied:
                    self.console.line(f"Published {len(p.uploaded)} new and {len(p.copied)} copied "
                                      f"template(s) to s3://{p.bucket}/{p.prefix}")
        self._sync_stack_set(publication)
        self._sync_regional_instances()
        if not self.env.single_region:
            self._sync_primary_instances()
        instances = self.ops.instances()
        wanted = {(a, r) for a in self.accounts for r in self.regions}
        extra = sorted(set(instances) - wanted)
        for account, region in extra:
            self.console.line(f"Note: instance {account} {region} is not in {self.env.source.name} any more; "
                              "it is left as it is (delete it with the console or the CLI if intended).")
        not_current = [f"{a} {r} {instances[(a, r)].get('Status', '?')}"
                       for a, r in sorted(wanted) if instances.get((a, r), {}).get("Status") != "CURRENT"]
        if not_current:
            raise RolloutFailed(f"stack set {name}: instances not CURRENT after the rollout: "
                                + "; ".join(not_current))
        if self.expire_legacy_edge_logs and legacy:
            expire_legacy_log_groups(self.env, legacy, self.clients, self.console)
        mutating = len(self.clients.log.since(start_mark).mutating)
        summary = (f"{len(wanted)} instance(s) CURRENT ({len(self.accounts)} account(s) x "
                   f"{len(self.regions)} region(s): {', '.join(self.regions)})")
        if mutating == 0:
            self.console.line(f"Nothing to do: stack set {name} already runs set "
                              f"{self.templates.digest[:16]}; {summary}. No changes were made.")
        else:
            self.console.line(f"Deployed stack set {name} (set {self.templates.digest[:16]}) in "
                              f"{self.clock() - began:.1f}s with {len(self.ops.started)} stack-set "
                              f"operation(s); {summary}.")
        return 0

    # --- stack set ----------------------------------------------------------------------------

    def _before_any_change(self) -> list[LegacyLogGroup]:
        """The pre-flight (when something will change): a name the templates use that is taken
        would fail the rollout part-way (InputError, exit 2). Then the edge functions' old default
        log groups, reported, and returned to be expired when asked."""
        changes_ahead = self._changes_ahead()
        if changes_ahead:
            preflight(self.templates, self.clients, self.console)
        if not (changes_ahead or self.expire_legacy_edge_logs):
            return []
        legacy = find_legacy_log_groups(self.env, self.clients)
        report_legacy(self.env, legacy, self.console, self.expire_legacy_edge_logs)
        return legacy

    def _changes_ahead(self) -> bool:
        """Whether this deploy will create or update anything (read-only): the stack set is missing
        or differs, or an instance is missing or not CURRENT. A deploy with none skips the pre-flight."""
        current = self._stack_set = self.ops.describe()
        if current is None or self._stack_set_changes(
                current, stack_set_parameters(self.templates, self.clients.account)):
            return True
        instances = self.ops.instances()
        return any(instances.get((a, r), {}).get("Status") != "CURRENT" for a in self.accounts for r in self.regions)

    def _sync_stack_set(self, publication: Publication) -> None:
        name = self.ops.name
        desired = stack_set_parameters(self.templates, self.clients.account)
        current = self._stack_set  # read by _changes_ahead, after any other operation ended
        common: dict[str, Any] = {
            "StackSetName": name,
            "Description": self.templates.description,
            "TemplateURL": publication.root_url,
            "Parameters": _parameter_list(desired),
            "Capabilities": self.templates.capabilities,
            "AdministrationRoleARN": naming.administration_role_arn(self.clients.account),
            "ExecutionRoleName": naming.EXECUTION_ROLE_NAME,
            "Tags": stack_set_tags(self.templates),
        }
        if current is None:
            # Nested stacks need SELF_MANAGED: SERVICE_MANAGED stack sets reject them.
            self.ops.cfn.create_stack_set(PermissionModel="SELF_MANAGED", **common)
            self.console.line(f"Created stack set {name} (SELF_MANAGED, in {naming.STACK_SET_REGION}).")
            return
        changes = self._stack_set_changes(current, desired)
        if not changes:
            return
        self.console.line(f"Stack set {name} changes: {'; '.join(changes)}")
        # Every region at once: an instance's update needs nothing from another region (the
        # DistributionArn override of the primary instances persists, and is refreshed after).
        preferences = operation_preferences(self.env, self.regions, parallel=True)
        outcome = self.ops.run(
            f"update stack set {name} (all instances, {len(self.regions)} region(s) in parallel)",
            lambda op_id: self.ops.cfn.update_stack_set(
                OperationId=op_id, OperationPreferences=preferences, **common),
        )
        self._check(outcome, f"update of stack set {name}")

    def _stack_set_changes(self, current: dict[str, Any], desired: dict[str, str]) -> list[str]:
        changes = []
        try:
            running = json.loads(current.get("TemplateBody") or "{}")
        except ValueError:
            running = None
        if running != self.templates.root:
            changes.append(f"{naming.ROOT_TEMPLATE} differs")
        params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in current.get("Parameters", [])}
        for key, value in desired.items():
            if params.get(key) != value:
                changes.append(f"{key} {params.get(key, '(unset)')!r} -> {value!r}")
        # Capabilities are not compared: they follow from the template, compared above.
        current_tags = {t["Key"]: t["Value"] for t in current.get("Tags") or []}
        if current_tags != {t["Key"]: t["Value"] for t in stack_set_tags(self.templates)}:
            changes.append("tags differ")
        return changes

    # --- instances ----------------------------------------------------------------------------

    def _sync_regional_instances(self) -> None:
        """The instances outside the primary region: us-east-1, edge log and replica regions.

        None needs another region's output, so each operation runs its regions in parallel; the
        accounts that need the same regions share one operation (normally all of them).
        """
        regions = [r for r in self.regions if self.env.single_region or r != self.env.primary_region]
        instances = self.ops.instances()
        missing = {a: tuple(r for r in regions if (a, r) not in instances) for a in self.accounts}
        stale = {a: tuple(r for r in regions if (a, r) in instances and instances[(a, r)].get("Status") != "CURRENT")
                 for a in self.accounts}
        for targets, accounts in accounts_by_regions(missing):
            self._run_in_regions(
                f"create instance(s) for account(s) {', '.join(accounts)} in {len(targets)} region(s) "
                f"in parallel: {', '.join(targets)}",
                self.ops.cfn.create_stack_instances, accounts, targets)
        for targets, accounts in accounts_by_regions(stale):
            # An earlier operation failed or was stopped: apply the stack set's template again
            # (no ParameterOverrides: the instances keep their overrides).
            self._run_in_regions(
                f"update outdated instance(s) of account(s) {', '.join(accounts)} in {', '.join(targets)}",
                self.ops.cfn.update_stack_instances, accounts, targets)

    def _run_in_regions(self, what: str, call: Callable[..., Any], accounts: list[str],
                        targets: tuple[str, ...]) -> None:
        """One operation of `call` (create or update instances) for `accounts` in `targets`, all regions at once."""
        name = self.ops.name
        outcome = self.ops.run(what, lambda op_id: call(
            StackSetName=name, Accounts=accounts, Regions=list(targets),
            OperationPreferences=operation_preferences(self.env, list(targets), parallel=True), OperationId=op_id))
        self._check(outcome, f"instances in {', '.join(targets)}")

    def _sync_primary_instances(self) -> None:
        region = self.env.primary_region
        name = self.ops.name
        instances = self.ops.instances()
        preferences = operation_preferences(self.env, [region])
        # One operation per account: the override differs per account (each account has its own
        # distribution), and one operation applies one set of overrides.
        for account in self.accounts:
            edge = instances.get((account, EDGE_REGION))
            if edge is None or not edge.get("StackId"):
                raise RolloutFailed(f"account {account}: no {EDGE_REGION} stack to read "
                                    f"{naming.OUTPUT_DISTRIBUTION_ARN} from")
            outputs = stack_outputs(self.clients, account, EDGE_REGION, edge["StackId"])
            distribution_arn = outputs.get(naming.OUTPUT_DISTRIBUTION_ARN)
            if not distribution_arn:
                raise RolloutFailed(f"account {account}: the {EDGE_REGION} stack has no "
                                    f"{naming.OUTPUT_DISTRIBUTION_ARN} output (outputs: "
                                    f"{', '.join(sorted(outputs)) or 'none'})")
            desired = primary_overrides(self.templates, self.clients.account, distribution_arn)
            instance = instances.get((account, region))
            if instance is None:
                what = f"create {region} instance for account {account} ({naming.PARAM_DISTRIBUTION_ARN} {distribution_arn})"
                call = self.ops.cfn.create_stack_instances
            else:
                current = self.ops.overrides(account, region)
                if current == desired and instance.get("Status") == "CURRENT":
                    continue
                reason = "overrides changed" if current != desired else f"instance {instance.get('Status')}"
                what = f"update {region} instance of account {account} ({reason})"
                call = self.ops.cfn.update_stack_instances
            outcome = self.ops.run(
                what,
                lambda op_id, call=call: call(
                    StackSetName=name, Accounts=[account], Regions=[region],
                    ParameterOverrides=_parameter_list(desired),
                    OperationPreferences=preferences, OperationId=op_id),
            )
            self._check(outcome, f"{region} instance of account {account}")

    def _check(self, outcome: OperationOutcome, what: str) -> None:
        self.outcomes.append(outcome)
        if outcome.succeeded:
            return
        report_failures(self.console, what, outcome)
        raise RolloutFailed(f"the rollout of {self.ops.name} stopped: {what} failed; "
                            "fix the cause above and run deploy again (it resumes from here)")


def deploy(templates: TemplateSet, clients: Clients, console: Console, expire_legacy_edge_logs: bool = False) -> int:
    """The `deploy` command."""
    return Deployer(templates, clients, console, expire_legacy_edge_logs=expire_legacy_edge_logs).run()
