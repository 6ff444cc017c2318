"""`deploy`: bring the stack set and its instances to output/<env>/, edge region first.

The plan is always derived from what AWS reports, never from local state, so a deploy run after
an interruption (or after someone else's operation) continues from where the rollout stands.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from rollout import naming
from rollout.aws import Clients
from rollout.console import Console
from rollout.errors import RolloutFailed
from rollout.inputs import TemplateSet
from rollout.leftovers import preflight
from rollout.publish import Publication, publish_templates, require_bootstrap
from rollout.stackset import OperationOutcome, StackSetOps, operation_preferences, report_failures, stack_outputs
from templates.common import tags
from templates.config import EDGE_REGION


def stack_set_parameters(templates: TemplateSet, publication: Publication,
                         administration_account: str) -> dict[str, str]:
    """Stack-set level values: the edge region's bucket, the set's prefix, the deploying account.

    DistributionArn is declared at stack-set level (empty) because instance overrides can only
    set parameters the stack set has; the primary instances override it.
    """
    parameters = {
        naming.PARAM_TEMPLATES_BUCKET: publication.bucket(naming.STACK_SET_REGION),
        naming.PARAM_TEMPLATES_PREFIX: publication.prefix,
    }
    if templates.has_distribution_parameter:
        parameters[naming.PARAM_DISTRIBUTION_ARN] = ""
    if naming.PARAM_SITE_PUBLISHER_ACCOUNT in templates.root_parameters:
        # The role `deploy.py site` uploads through trusts the account deploy.py runs from.
        parameters[naming.PARAM_SITE_PUBLISHER_ACCOUNT] = administration_account
    return parameters


def primary_overrides(publication: Publication, region: str, distribution_arn: str) -> dict[str, str]:
    """What a primary-region instance sets for itself: its region's bucket, the edge distribution."""
    return {naming.PARAM_TEMPLATES_BUCKET: publication.bucket(region),
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
    ):
        self.templates = templates
        self.env = templates.env
        self.clients = clients
        self.console = console
        self.clock = clock
        self.ops = StackSetOps(self.env, clients, console, clock=clock)
        self.regions = list(self.env.regions)
        self.accounts = list(self.env.deploy.accounts)
        self.outcomes: list[OperationOutcome] = []

    def run(self) -> int:
        start_mark = self.clients.log.mark()
        began = self.clock()
        name = self.ops.name
        require_bootstrap(self.templates, self.clients)
        self.ops.wait_for_others()
        # Before any change: a name the templates use that is taken would fail the rollout part-way.
        preflight(self.templates, self.clients, self.console)
        publication = publish_templates(self.templates, self.clients)
        if publication.changed:
            for region, p in publication.regions.items():
                self.console.line(f"Published {len(p.uploaded)} new and {len(p.copied)} copied template(s) "
                                  f"to s3://{p.bucket}/{p.prefix}")
        self._sync_stack_set(publication)
        self._sync_edge_instances()
        if not self.env.single_region:
            self._sync_primary_instances(publication)
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
        mutating = len(self.clients.log.since(start_mark).mutating)
        summary = (f"{len(wanted)} instance(s) CURRENT ({len(self.accounts)} account(s) x "
                   f"{', '.join(self.regions)})")
        if mutating == 0:
            self.console.line(f"Nothing to do: stack set {name} already runs set "
                              f"{self.templates.digest[:16]}; {summary}. No changes were made.")
        else:
            self.console.line(f"Deployed stack set {name} (set {self.templates.digest[:16]}) in "
                              f"{self.clock() - began:.1f}s with {len(self.ops.started)} stack-set "
                              f"operation(s); {summary}.")
        return 0

    # --- stack set ----------------------------------------------------------------------------

    def _sync_stack_set(self, publication: Publication) -> None:
        name = self.ops.name
        desired = stack_set_parameters(self.templates, publication, self.clients.account)
        current = self.ops.describe()
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
        preferences = operation_preferences(self.env, self.regions)
        outcome = self.ops.run(
            f"update stack set {name} (all instances, {' then '.join(self.regions)})",
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

    def _sync_edge_instances(self) -> None:
        instances = self.ops.instances()
        missing = [a for a in self.accounts if (a, EDGE_REGION) not in instances]
        stale = [a for a in self.accounts
                 if (a, EDGE_REGION) in instances and instances[(a, EDGE_REGION)].get("Status") != "CURRENT"]
        preferences = operation_preferences(self.env, [EDGE_REGION])
        name = self.ops.name
        if missing:
            outcome = self.ops.run(
                f"create {EDGE_REGION} instance(s) for account(s) {', '.join(missing)}",
                lambda op_id: self.ops.cfn.create_stack_instances(
                    StackSetName=name, Accounts=missing, Regions=[EDGE_REGION],
                    OperationPreferences=preferences, OperationId=op_id),
            )
            self._check(outcome, f"{EDGE_REGION} instances")
        if stale:
            # An earlier operation failed or was stopped: apply the stack set's template again
            # (no ParameterOverrides: the instances keep their overrides).
            outcome = self.ops.run(
                f"update outdated {EDGE_REGION} instance(s) of account(s) {', '.join(stale)}",
                lambda op_id: self.ops.cfn.update_stack_instances(
                    StackSetName=name, Accounts=stale, Regions=[EDGE_REGION],
                    OperationPreferences=preferences, OperationId=op_id),
            )
            self._check(outcome, f"{EDGE_REGION} instances")

    def _sync_primary_instances(self, publication: Publication) -> None:
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
            desired = primary_overrides(publication, region, distribution_arn)
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


def deploy(templates: TemplateSet, clients: Clients, console: Console) -> int:
    """The `deploy` command."""
    return Deployer(templates, clients, console).run()
