"""Stack-set operations: start one safely, wait for it with progress, explain a failure from events."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import botocore.exceptions

from rollout import naming
from rollout.aws import Access, Backoff, Clients, error_code, error_message, pages
from rollout.console import Console, Row, format_elapsed
from rollout.errors import RolloutFailed
from templates.config import EnvConfig

# Polling: the first look is immediate, then 1, 2, 4, 8 s, then every 15 s. A stack-set
# operation on moto ends at once; on AWS a CloudFront distribution takes minutes, and a steady
# 15 s keeps describe calls far below the CloudFormation API limits.
POLL = Backoff(initial=1.0, factor=2.0, cap=15.0)

ACTIVE_STATUSES = frozenset({"RUNNING", "QUEUED", "STOPPING"})
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})

# StackSets answers this when another operation is running; botocore does not retry it.
IN_PROGRESS_CODE = "OperationInProgressException"
# The answer to a call whose OperationId the stack set has already used. The ids are fresh UUIDs,
# so it only comes back when the SDK retried our own call (a read timeout, a dropped connection)
# after StackSets had accepted it: the operation is ours and running.
ID_TAKEN_CODE = "OperationIdAlreadyExistsException"

# How many times a call that met OperationInProgressException waits and tries again: each time
# someone else's operation ran to completion first.
MAX_CONFLICTS = 10


def operation_preferences(env: EnvConfig, regions: list[str], parallel: bool = False) -> dict[str, Any]:
    """Failure tolerance and concurrency (per region) from config; the regions one after the other
    in the given order, or all at once when their order does not matter (`parallel`)."""
    if parallel:
        order: dict[str, Any] = {"RegionConcurrencyType": "PARALLEL"}
    else:
        order = {"RegionConcurrencyType": "SEQUENTIAL", "RegionOrder": list(regions)}
    return {
        **order,
        "FailureToleranceCount": env.deploy.failure_tolerance_count,
        "MaxConcurrentCount": env.deploy.max_concurrent_count,
    }


def accounts_by_regions(regions_of: dict[str, tuple[str, ...]]) -> list[tuple[tuple[str, ...], list[str]]]:
    """Accounts grouped by the regions an operation must reach for them (accounts with none left
    out): one operation serves every account that needs the same regions, normally all of them."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for account, regions in regions_of.items():
        if regions:
            groups.setdefault(regions, []).append(account)
    return list(groups.items())


@dataclass(frozen=True)
class FailedResource:
    """The resource at the root of an instance's failure, found in its stack's events."""

    path: str
    resource_type: str
    status: str
    reason: str

    def text(self) -> str:
        return f"{self.path} ({self.resource_type}) {self.status}: {self.reason}"


@dataclass
class InstanceFailure:
    account: str
    region: str
    status: str
    reason: str
    resource: FailedResource | None = None

    def text(self) -> str:
        where = f"account {self.account} region {self.region}"
        if self.resource:
            return f"{where}: {self.resource.text()}"
        return f"{where}: {self.status}: {self.reason or 'no reason given'}"


@dataclass
class OperationOutcome:
    operation_id: str
    action: str
    status: str
    results: list[dict[str, Any]]
    failures: list[InstanceFailure] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


def _ts(value: Any) -> float | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    return None


class StackSetOps:
    """The environment's stack set, as seen from the administration account."""

    def __init__(
        self,
        env: EnvConfig,
        clients: Clients,
        console: Console,
        clock: Callable[[], float] = time.time,
        poll: Backoff = POLL,
    ):
        self.env = env
        self.clients = clients
        self.console = console
        self.clock = clock
        self.poll = poll
        self.name = naming.stack_set_name(env)
        self.cfn = clients.admin("cloudformation", naming.STACK_SET_REGION)
        self.started: list[str] = []
        self._failed: dict[tuple[str, str, str], FailedResource | None] = {}

    # --- reading ------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any] | None:
        try:
            return self.cfn.describe_stack_set(StackSetName=self.name)["StackSet"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "StackSetNotFoundException":
                return None
            raise

    def instances(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Instance summaries by (account, region)."""
        return {(s["Account"], s["Region"]): s
                for s in pages(self.cfn.list_stack_instances, "Summaries", StackSetName=self.name)}

    def overrides(self, account: str, region: str) -> dict[str, str]:
        instance = self.cfn.describe_stack_instance(
            StackSetName=self.name, StackInstanceAccount=account, StackInstanceRegion=region)["StackInstance"]
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in instance.get("ParameterOverrides", [])}

    def active_operations(self) -> list[dict[str, Any]]:
        # Operations are listed newest first; a running one is always among the latest.
        try:
            response = self.cfn.list_stack_set_operations(StackSetName=self.name, MaxResults=100)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "StackSetNotFoundException":
                return []
            raise
        return [op for op in response.get("Summaries", []) if op.get("Status") in ACTIVE_STATUSES]

    # --- operations ---------------------------------------------------------------------------

    def wait_for_others(self) -> None:
        """Wait for operations someone else started (another terminal, CI, an interrupted run)."""
        for op in self.active_operations():
            started = _ts(op.get("CreationTimestamp"))
            ago = f", started {format_elapsed(self.clock() - started)} ago" if started else ""
            self.console.line(
                f"Operation {op['OperationId']} ({op.get('Action', '?')}{ago}) is already running on "
                f"stack set {self.name} (another terminal, a CI job or an interrupted run); "
                "waiting for it to finish.")
            outcome = self.wait(op["OperationId"], f"{op.get('Action', 'operation')} (started elsewhere)")
            self.console.line(f"That operation ended {outcome.status}; continuing from the state it left.")

    def start(self, what: str, call: Callable[[str], Any]) -> str:
        """Start an operation; when another one is running, wait for it and start again."""
        for _ in range(MAX_CONFLICTS):
            operation_id = str(uuid.uuid4())
            try:
                response = call(operation_id)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == ID_TAKEN_CODE:
                    self.started.append(operation_id)
                    return operation_id
                if error_code(exc) != IN_PROGRESS_CODE:
                    raise
                self.console.line(f"Cannot {what} yet: {error_message(exc)}")
                self.wait_for_others()
                continue
            operation_id = response.get("OperationId", operation_id)
            self.started.append(operation_id)
            return operation_id
        raise RolloutFailed(f"gave up trying to {what}: other operations kept starting on {self.name}")

    def run(self, what: str, call: Callable[[str], Any]) -> OperationOutcome:
        """Start an operation, wait for it and explain any failure."""
        operation_id = self.start(what, call)
        self.console.line(f"Started operation {operation_id}: {what}")
        outcome = self.wait(operation_id, what)
        if not outcome.succeeded:
            outcome.failures = self.diagnose(outcome)
        return outcome

    def wait(self, operation_id: str, title: str) -> OperationOutcome:
        """Poll an operation until it ends, showing each instance's status and elapsed time."""
        begin = self.clock()
        delays = self.poll.delays()
        first = True
        while True:
            if not first:
                self.clients.sleep(next(delays))
            first = False
            operation = self.cfn.describe_stack_set_operation(
                StackSetName=self.name, OperationId=operation_id)["StackSetOperation"]
            status = operation["Status"]
            results = list(pages(self.cfn.list_stack_set_operation_results, "Summaries",
                                 StackSetName=self.name, OperationId=operation_id))
            now = self.clock()
            started = _ts(operation.get("CreationTimestamp"))
            elapsed = now - (started if started is not None and started <= now else begin)
            rows = [Row(r["Account"], r["Region"], r.get("Status", "?"), elapsed,
                        self._failure_detail(operation_id, r))
                    for r in sorted(results, key=lambda r: (r["Region"] != naming.STACK_SET_REGION,
                                                           r["Region"], r["Account"]))]
            self.console.progress(f"{title} [{status}]", rows)
            if status in TERMINAL_STATUSES:
                self.console.end_progress()
                return OperationOutcome(operation_id, operation.get("Action", ""), status, results)

    # --- failures -----------------------------------------------------------------------------

    def _failure_detail(self, operation_id: str, result: dict[str, Any]) -> str:
        """For a FAILED instance, its failing resource and reason (read once, from the events)."""
        if result.get("Status") != "FAILED":
            return ""
        resource = self._failed_resource_of(operation_id, result["Account"], result["Region"])
        return resource.text() if resource else result.get("StatusReason", "")

    def _failed_resource_of(self, operation_id: str, account: str, region: str) -> FailedResource | None:
        key = (operation_id, account, region)
        if key not in self._failed:
            self._failed[key] = self._failed_resource(account, region)
        return self._failed[key]

    def diagnose(self, outcome: OperationOutcome) -> list[InstanceFailure]:
        """For each failed instance, the failing resource and its reason from the stack events."""
        failures = []
        for result in outcome.results:
            if result.get("Status") not in ("FAILED", "CANCELLED"):
                continue
            failure = InstanceFailure(result["Account"], result["Region"], result["Status"],
                                      result.get("StatusReason", ""))
            if result.get("Status") == "FAILED":
                failure.resource = self._failed_resource_of(outcome.operation_id, result["Account"],
                                                            result["Region"])
            failures.append(failure)
        if not failures:
            failures.append(InstanceFailure("-", "-", outcome.status,
                                            f"operation {outcome.operation_id} ended {outcome.status}"))
        return failures

    def _failed_resource(self, account: str, region: str) -> FailedResource | None:
        try:
            instance = self.cfn.describe_stack_instance(
                StackSetName=self.name, StackInstanceAccount=account,
                StackInstanceRegion=region)["StackInstance"]
            stack_id = instance.get("StackId")
            if not stack_id:
                return None
            cfn = self.clients.target(account, "cloudformation", region, Access.READ)
            return failed_resource(cfn, stack_id)
        except (botocore.exceptions.ClientError, RolloutFailed) as exc:
            self.console.line(f"  (could not read the stack events of {account} {region}: {exc})")
            return None


# A failure in one resource makes CloudFormation cancel the siblings in flight ("Resource
# creation cancelled"): those are consequences, not the cause.
_CANCELLED = "cancelled"
_ATTEMPT_STARTS = frozenset({"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS",
                             "IMPORT_IN_PROGRESS"})
# Stack states a failed attempt leaves behind. A delete that follows one is cleanup, not a new
# attempt: StackSets deletes a stack whose creation failed, and a parent's rollback deletes its
# failed nested stack; the cause is in the attempt before that delete.
_FAILED_STATES = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "UPDATE_FAILED"})


def _attempts(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Events (newest first) grouped by attempt, newest attempt first; each attempt newest first."""
    attempts: list[list[dict[str, Any]]] = [[]]
    for event in events:
        attempts[-1].append(event)
        if event.get("LogicalResourceId") == event.get("StackName") \
                and event.get("ResourceStatus") in _ATTEMPT_STARTS:
            attempts.append([])
    return [a for a in attempts if a]


def _is_cleanup(attempt: list[dict[str, Any]], before: list[dict[str, Any]] | None) -> bool:
    start = attempt[-1]
    return (start.get("ResourceStatus") == "DELETE_IN_PROGRESS" and before is not None
            and any(e.get("LogicalResourceId") == e.get("StackName") and e.get("ResourceStatus") in _FAILED_STATES
                    for e in before))


def failed_resource(cfn: Any, stack_id: str, path: str = "", depth: int = 0) -> FailedResource | None:
    """The first resource that failed in the stack's latest attempt, following nested stacks."""
    attempts = _attempts(list(pages(cfn.describe_stack_events, "StackEvents", StackName=stack_id)))
    attempt: list[dict[str, Any]] = []
    for index, candidate in enumerate(attempts):
        before = attempts[index + 1] if index + 1 < len(attempts) else None
        if _is_cleanup(candidate, before) and not _failures(candidate):
            continue
        attempt = candidate
        break
    failed = _failures(attempt)
    if not failed:
        return None
    causes = [e for e in failed if _CANCELLED not in e.get("ResourceStatusReason", "").lower()]
    event = (causes or failed)[0]
    here = f"{path}/{event['LogicalResourceId']}" if path else event["LogicalResourceId"]
    if event.get("ResourceType") == "AWS::CloudFormation::Stack" and event.get("PhysicalResourceId") \
            and depth < 5:
        try:
            nested = failed_resource(cfn, event["PhysicalResourceId"], here, depth + 1)
        except botocore.exceptions.ClientError:
            nested = None
        if nested is not None:
            return nested
    return FailedResource(here, event.get("ResourceType", ""), event.get("ResourceStatus", ""),
                          event.get("ResourceStatusReason", ""))


def _failures(attempt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The resources (not the stack itself) that failed in an attempt, oldest first."""
    return [e for e in reversed(attempt)
            if e.get("ResourceStatus", "").endswith("_FAILED")
            and e.get("LogicalResourceId") != e.get("StackName")]


def stack_outputs(clients: Clients, account: str, region: str, stack_id: str) -> dict[str, str]:
    """The outputs of an instance's stack, read in its account (execution role, read-only)."""
    cfn = clients.target(account, "cloudformation", region, Access.READ)
    try:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        raise RolloutFailed(f"cannot read the stack of account {account} region {region} "
                            f"({error_code(exc)}: {error_message(exc)})") from exc
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", []) or []}


def report_failures(console: Console, what: str, outcome: OperationOutcome) -> None:
    console.line(f"FAILED: {what} (operation {outcome.operation_id} ended {outcome.status}):")
    for failure in outcome.failures:
        console.line(f"  {failure.text()}")
