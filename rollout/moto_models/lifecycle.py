"""A stack's life as CloudFormation runs it, for moto 5.2.5: resource events, rollback, deletion policies.

What moto did, and what CloudFormation does (and this module makes moto do):

- moto wrote no resource events. CloudFormation writes CREATE_IN_PROGRESS, CREATE_COMPLETE or
  CREATE_FAILED (with the reason) for each resource; deploy finds the failing resource there.
- When a resource failed, moto returned the service's raw error from CreateStack and left what it
  had created in place (a half-built stack, CREATE_IN_PROGRESS forever). CloudFormation stops and
  rolls back: ROLLBACK_IN_PROGRESS, every resource this operation created is deleted in reverse
  order unless its DeletionPolicy is Retain (Delete and RetainExceptOnCreate resources are deleted),
  then ROLLBACK_COMPLETE. A nested stack that fails ends CREATE_FAILED; its parent's resource
  fails with "Embedded stack ... was not successfully created", and the parent's rollback deletes it.
- moto deleted RetainExceptOnCreate resources with the stack. On stack deletion CloudFormation keeps
  both Retain and RetainExceptOnCreate resources (DELETE_SKIPPED) and deletes the others.
- moto updated a stack in ROLLBACK_COMPLETE. CloudFormation refuses: such a stack can only be deleted.
- A failed update left moto's stack half-updated. CloudFormation rolls the stack back to its
  previous template (UPDATE_ROLLBACK_COMPLETE), deleting what the failed update created unless its
  DeletionPolicy is Retain.
- A resource whose name is taken (a bucket of any account, a table, log group, function, role,
  KMS alias or topic of the account) failed with the service's raw error; CloudFormation's resource
  handlers answer "already exists" (HandlerErrorCode AlreadyExists).
- A change of a named resource's name replaces it: the new one is created, and the old one is
  deleted unless UpdateReplacePolicy is Retain (moto's models deleted or renamed it in place).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError

from rollout.moto_models.base import ResourceFailed

_installed = False

# Set while a parent stack creates a nested stack (the parent's stack id); a nested stack that
# fails does not roll itself back: its parent's rollback deletes it.
_PARENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("parent_stack", default=None)
# Set while a failed update is rolled back: nested stacks restored by it roll back too.
_ROLLING_BACK: contextvars.ContextVar[bool] = contextvars.ContextVar("rolling_back", default=False)

# Stack statuses from which UpdateStack is refused (CloudFormation: "... is in ROLLBACK_COMPLETE
# state and can not be updated"; a stack whose creation failed can only be deleted).
NOT_UPDATABLE = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS", "CREATE_FAILED",
                           "CREATE_IN_PROGRESS", "DELETE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED"})

# Service error codes meaning "a resource of that name exists" (S3 shares one namespace across
# every account; the others are per account and region).
ALREADY_EXISTS_CODES = frozenset({
    "BucketAlreadyExists", "BucketAlreadyOwnedByYou", "ResourceInUseException",
    "ResourceAlreadyExistsException", "EntityAlreadyExists", "AlreadyExistsException",
    "ResourceConflictException", "WafV2DuplicateItem", "WAFDuplicateItemException", "AlreadyExists",
})

# Types whose physical id is their name: a new name means a replacement (CloudFormation creates
# the new resource, then deletes the old one unless UpdateReplacePolicy is Retain).
NAMED_TYPES = frozenset({
    "AWS::S3::Bucket", "AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup",
    "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::KMS::Alias", "AWS::SNS::Topic",
})


class CreateFailed(Exception):
    """A resource could not be created: the stack operation stops and rolls back."""

    def __init__(self, logical_id: str, resource_type: str, reason: str):
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


class UpdateFailed(CreateFailed):
    """A resource could not be updated: the stack update stops and rolls back."""


class NestedStackFailed(Exception):
    """A nested stack's operation failed: its parent's resource fails and the parent rolls back."""

    def __init__(self, stack: cfn_models.Stack, reason: str):
        super().__init__(reason)
        self.stack = stack
        self.reason = reason


@dataclass
class StackState:
    """What the engine tracks for one stack beyond moto's resource map."""

    created: list[str] = field(default_factory=list)     # live resources, in creation order
    operation: list[str] = field(default_factory=list)   # created by the current (or failed) operation

    def track(self, logical_id: str) -> None:
        if logical_id in self.created:
            self.created.remove(logical_id)
        self.created.append(logical_id)
        self.operation.append(logical_id)

    def forget(self, logical_id: str) -> None:
        if logical_id in self.created:
            self.created.remove(logical_id)


def state(resources: parsing.ResourceMap) -> StackState:
    """The engine's state of a resource map (kept on it, so moto's reset discards it)."""
    return resources.__dict__.setdefault("_lifecycle", StackState())


def _owner(resources: parsing.ResourceMap) -> cfn_models.Stack | None:
    return resources.__dict__.get("_owner")


def service_error(exc: BaseException) -> tuple[str, str]:
    """(code, message) of a moto service exception, or ("", text) for anything else."""
    code = str(getattr(exc, "error_type", None) or getattr(exc, "code", None) or "")
    if code.isdigit():
        code = ""
    message = getattr(exc, "message", None) or str(exc)
    return code.split("#")[-1], str(message)


def failure_reason(exc: BaseException, resource_type: str, physical_name: str) -> str:
    """What CloudFormation writes as the reason of a resource that failed."""
    if isinstance(exc, ResourceFailed):
        return exc.reason
    code, message = service_error(exc)
    if code in ALREADY_EXISTS_CODES:
        return (f"Resource handler returned message: \"Resource of type '{resource_type}' with identifier "
                f"'{physical_name}' already exists.\" (HandlerErrorCode: AlreadyExists)")
    return f"{code}: {message}" if code else message


# --- events -----------------------------------------------------------------------------------


def resource_event(stack: cfn_models.Stack | None, logical_id: str, resource_type: str, status: str,
                   reason: str | None = None, physical_id: str = "") -> None:
    if stack is None:
        return
    stack.events.append(cfn_models.Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id, resource_type=resource_type, resource_status=status,
        resource_status_reason=reason, resource_properties=None))


def stack_event(stack: cfn_models.Stack, status: str, reason: str | None = None) -> None:
    stack.status = status
    stack._add_stack_event(status, resource_status_reason=reason)


def _identifier(resource_class: Any, resolved_json: dict[str, Any], physical_name: str) -> str:
    """The name a resource handler reports: the name property when the template sets it."""
    properties = resolved_json.get("Properties") or {}
    for key in (resource_class.cloudformation_name_type(), "AliasName"):
        if key and isinstance(properties.get(key), str):
            return properties[key]
    return physical_name


def _physical_id(resource: Any) -> str:
    try:
        return str(resource.physical_resource_id or "")
    except Exception:
        return ""


# --- creating resources -----------------------------------------------------------------------


def create_resource(logical_id: str, resource_json: dict[str, Any], resources: parsing.ResourceMap,
                    account_id: str, region_name: str) -> Any:
    """moto's parse_and_create_resource, with events, "already exists" and a CreateFailed on failure."""
    condition = resource_json.get("Condition")
    if condition and not resources.lazy_condition_map[condition]:
        return None
    resource_type = resource_json["Type"]
    stack = _owner(resources)
    try:
        # Resolving the properties creates what they refer to first; if one of those fails,
        # this resource never starts (its CreateFailed passes through).
        resolved = parsing.parse_resource_and_generate_name(logical_id, resource_json, resources)
    except CreateFailed:
        raise
    except Exception as exc:
        reason = failure_reason(exc, resource_type, logical_id)
        resource_event(stack, logical_id, resource_type, "CREATE_FAILED", reason)
        raise CreateFailed(logical_id, resource_type, reason) from exc
    if not resolved:
        return None
    resource_class, resolved_json, physical_name = resolved
    resource_event(stack, logical_id, resource_type, "CREATE_IN_PROGRESS")
    try:
        resource = resource_class.create_from_cloudformation_json(
            physical_name, resolved_json, account_id, region_name,
            LogicalId=logical_id, StackId=resources.stack_id, ResourceType=resource_type)
    except NestedStackFailed as nested:
        # The failed nested stack stays a resource of this stack, so the rollback deletes it.
        nested.stack.logical_resource_id = logical_id
        nested.stack.cf_resource_type = resource_type
        resources._parsed_resources[logical_id] = nested.stack
        state(resources).track(logical_id)
        reason = f"Embedded stack {nested.stack.stack_id} was not successfully created: {nested.reason}"
        resource_event(stack, logical_id, resource_type, "CREATE_FAILED", reason, nested.stack.stack_id)
        raise CreateFailed(logical_id, resource_type, reason) from nested
    except CreateFailed:
        raise
    except Exception as exc:
        reason = failure_reason(exc, resource_type, _identifier(resource_class, resolved_json, physical_name))
        resource_event(stack, logical_id, resource_type, "CREATE_FAILED", reason)
        raise CreateFailed(logical_id, resource_type, reason) from exc
    resource.cf_resource_type = resource_type
    resource.logical_resource_id = logical_id
    state(resources).track(logical_id)
    resource_event(stack, logical_id, resource_type, "CREATE_COMPLETE", physical_id=_physical_id(resource))
    return resource


def replaces(resource_type: str, existing: Any, new_name: str) -> bool:
    """A named resource whose name changes is replaced, not updated."""
    return resource_type in NAMED_TYPES and bool(new_name) and _physical_id(existing) not in ("", new_name)


_original_create_nested = cfn_models.Stack.create_from_cloudformation_json.__func__


def _create_nested_stack(cls: type, resource_name: str, cloudformation_json: Any, account_id: str,
                         region_name: str, **kwargs: Any) -> cfn_models.Stack:
    token = _PARENT.set(str(kwargs.get("StackId") or "parent"))
    try:
        return _original_create_nested(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    finally:
        _PARENT.reset(token)


_original_create_resource_map = cfn_models.Stack._create_resource_map


def _create_resource_map(self: cfn_models.Stack) -> parsing.ResourceMap:
    resources = _original_create_resource_map(self)
    resources.__dict__["_owner"] = self
    return resources


def _create_resources(self: cfn_models.Stack) -> None:
    """Create every resource; on a failure, roll back (or, nested, fail and let the parent roll back)."""
    self.status = "CREATE_IN_PROGRESS"
    self.__dict__["parent_stack_id"] = _PARENT.get()
    token = _PARENT.set(None)
    try:
        state(self.resource_map).operation = []
        ready = self.resource_map.create(self.template_dict)
    except CreateFailed as failure:
        reason = f"The following resource(s) failed to create: [{failure.logical_id}]."
        if self.__dict__["parent_stack_id"]:
            stack_event(self, "CREATE_FAILED", reason)
            raise NestedStackFailed(self, reason) from failure
        rollback_create(self, reason)
        return
    finally:
        _PARENT.reset(token)
    self.description = self.template_dict.get("Description")
    if ready:
        self.mark_creation_complete()


# --- deleting resources -----------------------------------------------------------------------


def kept(definition: dict[str, Any], logical_id: str, resources: parsing.ResourceMap, rolling_back: bool) -> bool:
    """Whether CloudFormation keeps a resource it would delete.

    Retain always keeps; RetainExceptOnCreate keeps unless the operation that created the resource
    is the one being rolled back; Delete (the default) and Snapshot delete.
    """
    policy = definition.get("DeletionPolicy", "Delete")
    if policy == "Retain":
        return True
    if policy == "RetainExceptOnCreate":
        return not (rolling_back and logical_id in state(resources).operation)
    return False


def delete_one(resources: parsing.ResourceMap, logical_id: str, definition: dict[str, Any],
               rolling_back: bool) -> bool:
    """Delete (or skip, when retained) one resource with its events; False when the delete failed."""
    stack = _owner(resources)
    resource = resources._parsed_resources.get(logical_id)
    resource_type = definition.get("Type", "")
    physical = _physical_id(resource)
    if kept(definition, logical_id, resources, rolling_back):
        resource_event(stack, logical_id, resource_type, "DELETE_SKIPPED", physical_id=physical)
    else:
        resource_event(stack, logical_id, resource_type, "DELETE_IN_PROGRESS", physical_id=physical)
        try:
            if isinstance(resource, cfn_models.Stack):
                delete_nested_stack(resource, rolling_back)
            elif resource is not None:
                resources._delete_resource(resource, definition)
        except Exception as exc:
            resource_event(stack, logical_id, resource_type, "DELETE_FAILED",
                           failure_reason(exc, resource_type, physical), physical)
            return False
        resource_event(stack, logical_id, resource_type, "DELETE_COMPLETE", physical_id=physical)
    resources._parsed_resources.pop(logical_id, None)
    state(resources).forget(logical_id)
    return True


def delete_resources(stack: cfn_models.Stack, rolling_back: bool) -> list[str]:
    """Delete the stack's resources, newest first; the logical ids whose delete failed."""
    resources = stack.resource_map
    definitions = resources._resource_json_map
    failed = []
    for logical_id in reversed(list(state(resources).created)):
        if logical_id not in resources._parsed_resources:
            state(resources).forget(logical_id)
            continue
        if not delete_one(resources, logical_id, definitions.get(logical_id, {}), rolling_back):
            failed.append(logical_id)
    return failed


def rollback_create(stack: cfn_models.Stack, reason: str) -> None:
    stack_event(stack, "ROLLBACK_IN_PROGRESS", f"{reason} Rollback requested by user.")
    failed = delete_resources(stack, rolling_back=True)
    if failed:
        stack_event(stack, "ROLLBACK_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}].")
    else:
        stack_event(stack, "ROLLBACK_COMPLETE")


def delete_stack(stack: cfn_models.Stack, rolling_back: bool = False) -> bool:
    """Delete a stack's resources as CloudFormation does; False when the stack ends DELETE_FAILED."""
    stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
    failed = delete_resources(stack, rolling_back)
    if failed:
        stack_event(stack, "DELETE_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}].")
        return False
    stack_event(stack, "DELETE_COMPLETE")
    return True


def _backend(stack: cfn_models.Stack) -> Any:
    return cfn_models.cloudformation_backends[stack.account_id][stack.region_name]


def delete_nested_stack(stack: cfn_models.Stack, rolling_back: bool) -> None:
    """A nested stack deleted by its parent (stack delete, or the rollback of the parent's create)."""
    backend = _backend(stack)
    if not delete_stack(stack, rolling_back):
        raise ValidationError(message=f"Embedded stack {stack.stack_id} was not successfully deleted: "
                                      f"{stack.events[-1].resource_status_reason}")
    backend.stacks.pop(stack.stack_id, None)
    backend.deleted_stacks[stack.stack_id] = stack


def _backend_delete_stack(self: Any, name_or_stack_id: str) -> None:
    """DeleteStack: a stack that fails to delete stays, DELETE_FAILED (moto lost track of it)."""
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
    if stack is None:
        return  # deleting a stack that does not exist succeeds, as on AWS
    if not delete_stack(stack):
        return
    self.stacks.pop(stack.stack_id, None)
    self.deleted_stacks[stack.stack_id] = stack
    for name in [name for name, export in self.exports.items() if export.exporting_stack_id == stack.stack_id]:
        self.exports.pop(name)


def _stack_delete(self: cfn_models.Stack) -> None:
    delete_stack(self)


# --- updates ----------------------------------------------------------------------------------


def _update_stack(self: cfn_models.Stack, template: str, role_arn: str | None = None,
                  parameters: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> None:
    """UpdateStack: refused in a terminal failed state; rolled back to the previous template on failure."""
    if self.status in NOT_UPDATABLE:
        raise ValidationError(message=f"Stack:{self.stack_id} is in {self.status} state and can not be updated.")
    rolling_back = _ROLLING_BACK.get()
    resources = self.resource_map
    if not rolling_back:
        state(resources).operation = []
    previous_template, previous_dict = self.template, self.template_dict
    previous_parameters = dict(resources.input_parameters or {})
    previous_status, previous_events = self.status, len(self.events)
    stack_event(self, "UPDATE_ROLLBACK_IN_PROGRESS" if rolling_back else "UPDATE_IN_PROGRESS", "User Initiated")
    self.template = template
    self._parse_template()
    try:
        resources.update(self.template_dict, parameters)
    except (CreateFailed, NestedStackFailed) as failure:
        logical_id = getattr(failure, "logical_id", "")
        verb = "create" if type(failure) is CreateFailed else "update"
        reason = f"The following resource(s) failed to {verb}: [{logical_id}]."
        if self.__dict__.get("parent_stack_id") and not rolling_back:
            stack_event(self, "UPDATE_FAILED", reason)
            raise NestedStackFailed(self, reason) from failure
        _rollback_update(self, reason, previous_template, previous_dict, previous_parameters)
        return
    except Exception:
        # Rules and template errors are found before anything changes: the call itself fails.
        self.template, self.template_dict = previous_template, previous_dict
        self.status = previous_status
        del self.events[previous_events:]
        raise
    self.output_map = self._create_output_map()
    stack_event(self, "UPDATE_ROLLBACK_COMPLETE" if rolling_back else "UPDATE_COMPLETE")
    self.role_arn = role_arn
    if parameters:
        self.parameters = parameters
    if tags is not None:
        self.tags = tags


def _rollback_update(stack: cfn_models.Stack, reason: str, template: Any, template_dict: dict[str, Any],
                     parameters: dict[str, Any]) -> None:
    stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
    token = _ROLLING_BACK.set(True)
    try:
        stack.template = template
        stack.template_dict = template_dict
        stack.resource_map.update(template_dict, parameters)
        stack.output_map = stack._create_output_map()
    except Exception as exc:
        stack_event(stack, "UPDATE_ROLLBACK_FAILED", f"{reason} The rollback failed: {exc}")
        return
    finally:
        _ROLLING_BACK.reset(token)
    stack_event(stack, "UPDATE_ROLLBACK_COMPLETE")


# Stack states whose outputs CloudFormation reports (a stack that rolled back, failed or was
# deleted has none).
_HAS_OUTPUTS = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
                          "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_FAILED"})
_original_outputs = cfn_models.Stack.outputs


def _outputs(self: cfn_models.Stack) -> list[dict[str, Any]] | None:
    # moto evaluated outputs lazily, creating the resources they name again in a stack that had
    # rolled back or been deleted.
    if self.status not in _HAS_OUTPUTS:
        return None
    return _original_outputs.fget(self)


def _stack_resources(self: cfn_models.Stack) -> list[Any]:
    """The stack's live resources, without creating any (moto's lazy map created missing ones)."""
    resources = self.resource_map
    return [resources._parsed_resources[name] for name in resources._resource_json_map
            if name in resources._parsed_resources and resources._parsed_resources[name] is not None]


def rolling_back() -> bool:
    """True while a failed update is being rolled back."""
    return _ROLLING_BACK.get()


def install() -> None:
    """Apply the lifecycle to moto's CloudFormation (idempotent)."""
    global _installed
    if _installed:
        return
    parsing.parse_and_create_resource = create_resource
    cfn_models.Stack.create_from_cloudformation_json = classmethod(_create_nested_stack)
    cfn_models.Stack._create_resource_map = _create_resource_map
    cfn_models.Stack.create_resources = _create_resources
    cfn_models.Stack.delete = _stack_delete
    cfn_models.Stack.update = _update_stack
    cfn_models.CloudFormationBackend.delete_stack = _backend_delete_stack
    cfn_models.Stack.outputs = property(_outputs)
    cfn_models.Stack.stack_resources = property(_stack_resources)
    _installed = True
