"""Stack sets for moto 5.2.5 as StackSets runs them: operations with per-instance results.

What moto did, and what StackSets does (and this module makes moto do):

- moto ran each instance's stack inside the API call and returned a failure as the call's error,
  so an operation never FAILED and every instance said CURRENT. StackSets accepts the call and runs
  an operation: each account and region ends SUCCEEDED, FAILED or CANCELLED. Once more accounts
  than FailureToleranceCount have failed in a region, the rest of that region and every later
  region of RegionOrder are CANCELLED and the operation ends FAILED (regions run one after the
  other here; accounts of a region run one at a time, as with MaxConcurrentCount 1). With
  RegionConcurrencyType PARALLEL every region has started, so a region that fails cancels only
  its own remaining accounts ("CloudFormation stops the operation in that Region").
  DescribeStackSetOperation returns the operation's OperationPreferences, as StackSets does
  (moto kept none).
- A failed instance is OUTDATED, DetailedStatus FAILED, with StackSets' StatusReason
  ("ResourceLogicalId:..., ResourceType:..., ResourceStatusReason:..."); a cancelled one OUTDATED
  and CANCELLED; a succeeded one CURRENT.
- A stack whose creation failed rolls back and StackSets then deletes it: "view the events for the
  stack, which will have a status of DELETED (for failed create operations)" (StackSets user
  guide, Troubleshooting, "Retrying failed stack creation or update operations"). The instance
  stays, without a live stack; the next update operation (UpdateStackSet, as the guide's retry
  procedure does, or UpdateStackInstances) creates the stack again.
- Instance parameter overrides are merged over the stack set's parameters (moto replaced them);
  UpdateStackSet and UpdateStackInstances reach the instances' stacks (moto only recorded the new
  values); a stack instance reports the id of its real stack.
- One operation at a time per stack set: a call that would start one while another runs fails with
  OperationInProgressException, and an OperationId the stack set has already used fails with
  OperationIdAlreadyExistsException, as StackSets does. Here an operation runs inside the call, so
  a client that times out and retries the call (same OperationId) meets exactly these errors.
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from typing import Any, Callable

from moto.cloudformation import models as cfn_models
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import CloudFormationError, StackInstanceNotFound

from rollout.moto_models import lifecycle

_installed = False

# The OperationPreferences and OperationId of the request being served (moto's responses do not
# pass them to the backend).
_PREFERENCES: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("preferences", default={})
_OPERATION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("operation_id", default=None)


def _as_dict(parameters: Any) -> dict[str, str]:
    if isinstance(parameters, dict):
        return dict(parameters)
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in parameters or []}


def _effective_parameters(stack_set: cfn_models.StackSet, overrides: Any) -> dict[str, str]:
    values = _as_dict(stack_set.parameters)
    values.update(_as_dict(overrides))
    return values


class EmulatedStackInstance(cfn_models.StackInstance):
    """A stack instance: exists from CreateStackInstances on, with or without a live stack."""

    def __init__(self, stack_set: cfn_models.StackSet, account: str, region: str, overrides: list[dict[str, Any]]):
        self.account_id = account
        self.region_name = region
        self.stackset_id = stack_set.id
        self.stack_set_name = stack_set.name
        self.name = stack_set.name
        self.stack_name = ""
        self.template = stack_set.template
        self.parameters = overrides  # what the instance reports: only its overrides, as on AWS
        self.permission_model = stack_set.permission_model
        self.stack: cfn_models.Stack | None = None
        self.status = "OUTDATED"
        self.detailed_status = "PENDING"
        self.status_reason = ""

    def backend(self) -> Any:
        return cfn_models.cloudformation_backends[self.account_id][self.region_name]

    @property
    def live_stack(self) -> cfn_models.Stack | None:
        return self.stack if self.stack is not None and self.stack.status != "DELETE_COMPLETE" else None

    def delete(self) -> None:
        if self.live_stack is not None:
            self.backend().delete_stack(self.stack.stack_id)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "StackSetId": self.stackset_id,
            "Region": self.region_name,
            "Account": self.account_id,
            "Status": self.status,
            "StackInstanceStatus": {"DetailedStatus": self.detailed_status},
            "ParameterOverrides": list(self.parameters or []),
        }
        if self.stack is not None:
            result["StackId"] = self.stack.stack_id
        if self.status_reason:
            result["StatusReason"] = self.status_reason
        return result


def _status_reason(stack: cfn_models.Stack) -> str:
    """StackSets' StatusReason for a failed stack: its first failed resource and why."""
    for event in stack.events:
        if event.resource_status.endswith("_FAILED") and event.logical_resource_id != stack.name:
            reason = str(event.resource_status_reason or "").rstrip(".")
            return (f"ResourceLogicalId:{event.logical_resource_id}, ResourceType:{event.resource_type}, "
                    f"ResourceStatusReason:{reason}.")
    return f"Stack {stack.stack_id} ended {stack.status}."


def _error_reason(exc: BaseException) -> str:
    code, message = lifecycle.service_error(exc)
    return f"{code}: {message}" if code and code not in message else message


def deploy_instance(stack_set: cfn_models.StackSet, instance: EmulatedStackInstance) -> str:
    """Bring the instance's stack to the stack set's template; "" on success, else the reason."""
    parameters = _effective_parameters(stack_set, instance.parameters)
    instance.template = stack_set.template
    stack = instance.live_stack
    if stack is None:
        # No stack yet, or its creation failed and StackSets deleted it: create it (again).
        name = f"StackSet-{stack_set.name}-{uuid.uuid4()}"
        try:
            stack = instance.backend().create_stack(name=name, template=stack_set.template, parameters=parameters,
                                                    tags=dict(stack_set.tags or {}))
        except Exception as exc:  # template errors (Rules, parameters) fail before any stack exists
            return _error_reason(exc)
        instance.stack = stack
        instance.stack_name = name
        if stack.status == "CREATE_COMPLETE":
            return ""
        reason = _status_reason(stack)
        instance.backend().delete_stack(stack.stack_id)
        return reason
    try:
        stack.update(stack_set.template, parameters=parameters)
    except Exception as exc:
        return _error_reason(exc)
    return "" if stack.status == "UPDATE_COMPLETE" else _status_reason(stack)


def delete_instance(stack_set: cfn_models.StackSet, instance: EmulatedStackInstance) -> str:
    stack = instance.live_stack
    if stack is not None:
        instance.backend().delete_stack(stack.stack_id)
        if stack.status != "DELETE_COMPLETE":
            return _status_reason(stack)
    stack_set.instances.stack_instances.remove(instance)
    return ""


def _region_order(preferences: dict[str, Any], regions: list[str]) -> list[str]:
    order = [r for r in preferences.get("RegionOrder") or [] if r in regions]
    return order + sorted(r for r in set(regions) if r not in order)


def run_operation(stack_set: cfn_models.StackSet, action: str, targets: list[EmulatedStackInstance],
                  work: Callable[[cfn_models.StackSet, EmulatedStackInstance], str],
                  operation_id: str | None = None) -> dict[str, Any]:
    """Run `work` on each target, region by region, with the request's failure tolerance."""
    preferences = _PREFERENCES.get()
    tolerance = int(preferences.get("FailureToleranceCount") or 0)
    parallel = preferences.get("RegionConcurrencyType") == "PARALLEL"
    # Listed from the start, RUNNING, as StackSets lists an operation it has accepted.
    operation = stack_set._create_operation(
        operation_id=operation_id or _OPERATION_ID.get() or str(uuid.uuid4()), action=action, status="RUNNING",
        accounts=sorted({t.account_id for t in targets}), regions=sorted({t.region_name for t in targets}))
    operation["OperationPreferences"] = {k: v for k, v in preferences.items() if v not in (None, [], "")}
    results = operation["Results"] = []
    stopped = failed = False
    for region in _region_order(preferences, [t.region_name for t in targets]):
        if parallel:
            stopped = False  # every region is under way: one's failure does not cancel another
        failures = 0
        for instance in [t for t in targets if t.region_name == region]:
            result = {"Account": instance.account_id, "Region": region}
            if stopped:
                result.update(Status="CANCELLED", StatusReason="Cancelled since failure tolerance has exceeded")
                instance.status, instance.detailed_status = "OUTDATED", "CANCELLED"
                instance.status_reason = result["StatusReason"]
                results.append(result)
                continue
            reason = work(stack_set, instance)
            if reason:
                failures += 1
                result.update(Status="FAILED", StatusReason=reason)
                instance.status, instance.detailed_status, instance.status_reason = "OUTDATED", "FAILED", reason
            else:
                result["Status"] = "SUCCEEDED"
                instance.status, instance.detailed_status, instance.status_reason = "CURRENT", "SUCCEEDED", ""
            results.append(result)
            if failures > tolerance:
                stopped = failed = True
    operation["Status"] = "FAILED" if failed else "SUCCEEDED"
    return operation


def _create_stack_instances(
    self: cfn_models.StackSet, accounts: list[str], regions: list[str],
    deployment_targets: dict[str, Any] | None, parameters: list[dict[str, Any]],
) -> str:
    self.instances.template = self.template
    overrides = list(parameters or [])
    new = []
    for region in regions:
        for account in accounts:
            if self.instances.get_instance(account, region) is None:
                instance = EmulatedStackInstance(self, account, region, overrides)
                self.instances.stack_instances.append(instance)
                new.append(instance)
    return run_operation(self, "CREATE", new, deploy_instance)["OperationId"]


def _merge_overrides(current: list[dict[str, Any]], incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """UpdateStackInstances semantics: a list replaces the overrides (UsePreviousValue keeps one)."""
    if not incoming:
        # moto cannot tell an omitted ParameterOverrides from an empty one; omitted (keep all
        # overrides) is what the rollout sends.
        return current
    previous = _as_dict(current)
    merged = []
    for parameter in incoming:
        if parameter.get("UsePreviousValue"):
            if parameter["ParameterKey"] in previous:
                merged.append({"ParameterKey": parameter["ParameterKey"],
                               "ParameterValue": previous[parameter["ParameterKey"]]})
        else:
            merged.append({"ParameterKey": parameter["ParameterKey"],
                           "ParameterValue": parameter.get("ParameterValue", "")})
    return merged


def _update_instances(
    self: cfn_models.StackSet, accounts: list[str], regions: list[str], parameters: list[dict[str, Any]],
) -> dict[str, Any]:
    targets = []
    for region in regions:
        for account in accounts:
            instance = self.instances.get_instance(account, region)
            if instance is None:
                raise StackInstanceNotFound()
            targets.append(instance)
    for instance in targets:
        instance.parameters = _merge_overrides(instance.parameters, parameters)
    return run_operation(self, "UPDATE", targets, deploy_instance)


def _update_stack_set(
    self: cfn_models.StackSet, template: str, description: str, parameters: dict[str, str],
    tags: dict[str, str], admin_role: str, execution_role: str, accounts: list[str],
    regions: list[str], operation_id: str,
) -> dict[str, Any]:
    self.template = template or self.template
    self.instances.template = self.template
    self.description = description if description is not None else self.description
    self.parameters = parameters or self.parameters
    self.tags = tags or self.tags
    self.administration_role_arn = admin_role or self.administration_role_arn
    self.execution_role_name = execution_role or self.execution_role_name
    # Without Accounts/Regions, an update reaches every instance.
    targets = [i for i in self.instances.stack_instances
               if (not accounts or i.account_id in accounts) and (not regions or i.region_name in regions)]
    return run_operation(self, "UPDATE", targets, deploy_instance, operation_id)


def _delete_stack_instances(self: cfn_models.StackSet, accounts: list[str], regions: list[str]) -> None:
    targets = [i for i in self.instances.stack_instances if i.account_id in accounts and i.region_name in regions]
    run_operation(self, "DELETE", targets, delete_instance)


class OperationInProgress(CloudFormationError):
    code = "OperationInProgressException"


class OperationIdAlreadyExists(CloudFormationError):
    code = "OperationIdAlreadyExistsException"


# The stack sets (by id) whose operation is running now, in any of the server's request threads.
_RUNNING: dict[str, str] = {}
_RUNNING_LOCK = threading.Lock()


def _with_preferences(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def serve(self: Any) -> Any:
        preferences = self._get_params().get("OperationPreferences") or {}
        operation_id = self._get_param("OperationId")
        stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
        running = f"{self.current_account}/{self.region}/{stack_set.id}"
        with _RUNNING_LOCK:
            if operation_id and (operation_id == _RUNNING.get(running)
                                 or any(op["OperationId"] == operation_id for op in stack_set.operations)):
                raise OperationIdAlreadyExists(f"The operation ID {operation_id} already exists.")
            if running in _RUNNING:
                raise OperationInProgress(f"Another Operation on StackSet {stack_set.id} is in progress: "
                                          f"{_RUNNING[running]}.")
            _RUNNING[running] = operation_id or "(no id)"
        tokens = (_PREFERENCES.set(preferences), _OPERATION_ID.set(operation_id))
        try:
            return method(self)
        finally:
            _PREFERENCES.reset(tokens[0])
            _OPERATION_ID.reset(tokens[1])
            with _RUNNING_LOCK:
                del _RUNNING[running]
    serve.__name__ = method.__name__
    return serve


def _list_operation_results(self: Any) -> Any:
    from moto.core.responses import ActionResult

    operation = self.cloudformation_backend.list_stack_set_operation_results(
        self._get_param("StackSetName"), self._get_param("OperationId"))
    return ActionResult({"Summaries": [dict(r) for r in operation.get("Results", [])]})


def install() -> None:
    """Apply the stack-set behaviour (idempotent)."""
    global _installed
    if _installed:
        return
    cfn_models.StackSet.create_stack_instances = _create_stack_instances
    cfn_models.StackSet.update_instances = _update_instances
    cfn_models.StackSet.update = _update_stack_set
    cfn_models.StackSet.delete_stack_instances = _delete_stack_instances
    response = cfn_responses.CloudFormationResponse
    for name in ("create_stack_instances", "update_stack_instances", "update_stack_set", "delete_stack_instances"):
        setattr(response, name, _with_preferences(getattr(response, name)))
    response.list_stack_set_operation_results = _list_operation_results
    original_dto = cfn_responses.StackSetOperationDTO.__init__

    def operation_dto(self: Any, operation: dict[str, Any], stack_set: cfn_models.StackSet) -> None:
        original_dto(self, operation, stack_set)
        self.operation_preferences = operation.get("OperationPreferences") or None

    cfn_responses.StackSetOperationDTO.__init__ = operation_dto
    _installed = True
