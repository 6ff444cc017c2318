"""Fixes to moto 5.2.5's CloudFormation engine that nested stacks and stack sets need.

Each fix makes moto do what CloudFormation documents; none changes what a template means.

- `GetAtt Child.Outputs.X` on an AWS::CloudFormation::Stack resolves to the child's output.
- A nested stack whose TemplateURL or parameters change is updated in place (moto deleted and
  re-created it, losing every resource in it), and `${Param}` inside Fn::Sub counts as a use
  of that parameter when moto decides which resources a parameter change touches.
- Template Rules are evaluated when a stack is created or updated, as CloudFormation does before
  it creates anything (moto ignored them): a failed assertion fails the call with its
  AssertDescription. Rules using functions not implemented here are not evaluated.
- Updates run as CloudFormation runs them: new and changed resources in dependency order (moto
  removed, then added, then modified, each in template order, so a nested stack could read a
  sibling's outputs before that sibling was updated), then removed resources are deleted unless
  their DeletionPolicy is Retain (moto deleted them regardless).
- A stack delete keeps RetainExceptOnCreate resources as it keeps Retain ones.
- Updates respect Conditions: moto updated every changed resource of the template, including
  the ones whose Condition is false in the stack's region (never created), and crashed.
- A resource that fails while a sibling reads it (Fn::GetAtt) reports its own error: moto's
  lookup turned any KeyError raised inside the creation into "references undefined resource".
- Stack sets: instance parameter overrides are merged over the stack set's parameters (moto
  replaced them); UpdateStackSet and UpdateStackInstances update the instances' stacks (moto
  only recorded the new values); instances created after an update get the current template; a
  stack instance reports the id of its real stack; a service error while an instance's stack
  is created or updated is reported as the operation's error (moto returned another service's
  error document, which boto3 could not parse).
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.utils import get_stack_from_s3_url
from moto.utilities.utils import get_partition

from rollout.naming import RETAINING_POLICIES

_installed = False

_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_:]+)\}")


def _stack_get_cfn_attribute(self: cfn_models.Stack, attribute_name: str) -> Any:
    if attribute_name.startswith("Outputs."):
        key = attribute_name[len("Outputs."):]
        declared = self.output_map._output_json_map or {}
        output = self.output_map[key] if key in declared else None
        if output is None:
            # What CloudFormation reports when a parent reads an output the child lacks (or
            # whose Condition is false in this region).
            raise ValidationError(message=f"Template error: resource {self.name} does not have "
                                          f"an output named {key}, read by Fn::GetAtt Outputs.{key}")
        return output.value
    raise parsing.UnformattedGetAttTemplateException()


def _stack_update_in_place(
    cls: type, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
    account_id: str, region_name: str,
) -> cfn_models.Stack:
    properties = cloudformation_json["Properties"]
    template_body = get_stack_from_s3_url(
        properties["TemplateURL"], account_id=account_id, partition=get_partition(region_name))
    parameters = {k: str(v) if not isinstance(v, list) else ",".join(map(str, v))
                  for k, v in (properties.get("Parameters") or {}).items()}
    original_resource.update(template_body, parameters=parameters)
    return original_resource


_original_references = parsing.get_references_from_template


def _references_with_sub(template: Any) -> list[str]:
    references = list(_original_references(template))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::Sub":
                    text = value[0] if isinstance(value, list) else value
                    if isinstance(text, str):
                        references.extend(_SUB_REFERENCE.findall(text))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(template)
    return references


_original_update_resource = parsing.parse_and_update_resource


def _update_resource(logical_id: str, resource_json: dict[str, Any], resources_map: parsing.ResourceMap,
                     account_id: str, region_name: str) -> Any:
    condition = resource_json.get("Condition")
    existing = resources_map._parsed_resources.get(logical_id)
    if condition and not resources_map.lazy_condition_map[condition]:
        if existing is not None:
            # The condition turned false: CloudFormation deletes the resource.
            resources_map._delete_resource(existing, resource_json)
            resources_map._parsed_resources.pop(logical_id, None)
        return None
    if existing is None:
        # Not created before (its condition was false): CloudFormation creates it now.
        return resources_map[logical_id]
    return _original_update_resource(logical_id, resource_json, resources_map, account_id, region_name)


class _RuleNotEvaluable(Exception):
    pass


def _rule_value(node: Any, resources: parsing.ResourceMap) -> Any:
    if isinstance(node, list):
        return [_rule_value(item, resources) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        raise _RuleNotEvaluable(str(node))
    (function, argument), = node.items()
    if function == "Ref":
        if argument not in resources._parsed_resources:
            raise _RuleNotEvaluable(argument)
        return resources._parsed_resources[argument]
    if function == "Fn::Equals":
        left, right = (_rule_value(a, resources) for a in argument)
        return str(left) == str(right)
    if function == "Fn::Not":
        return not _rule_value(argument[0], resources)
    if function == "Fn::And":
        return all(_rule_value(a, resources) for a in argument)
    if function == "Fn::Or":
        return any(_rule_value(a, resources) for a in argument)
    if function == "Fn::Contains":
        values, value = _rule_value(argument[0], resources), _rule_value(argument[1], resources)
        return str(value) in [str(v) for v in values]
    raise _RuleNotEvaluable(function)


def check_rules(resources: parsing.ResourceMap) -> None:
    """Raise ValidationError for the first failed assertion of a rule whose condition holds."""
    for name, rule in (resources._template.get("Rules") or {}).items():
        try:
            if "RuleCondition" in rule and not _rule_value(rule["RuleCondition"], resources):
                continue
            for assertion in rule.get("Assertions", []):
                if not _rule_value(assertion["Assert"], resources):
                    raise ValidationError(message=f"Template rule {name} failed: "
                                                  f"{assertion.get('AssertDescription', 'assertion failed')}")
        except _RuleNotEvaluable:
            continue


_original_load = parsing.ResourceMap.load
def _load_with_rules(self: parsing.ResourceMap) -> None:
    _original_load(self)
    check_rules(self)


def _update_with_rules(self: parsing.ResourceMap, template: dict[str, Any],
                       parameters: dict[str, Any] | None = None) -> None:
    # Evaluate the new template's rules with the new parameters before anything changes.
    probe = parsing.ResourceMap(self.stack_id, self["AWS::StackName"], parameters or self.input_parameters,
                                self.tags, self._region_name, self._account_id, template,
                                self.cross_stack_resources)
    probe.load_mapping()
    probe.load_parameters()
    check_rules(probe)
    _update_resources(self, template, parameters)


def _update_resources(self: parsing.ResourceMap, template: dict[str, Any],
                      parameters: dict[str, Any] | None) -> None:
    """A stack update as CloudFormation runs it: new and changed resources in dependency order,
    then the cleanup of removed ones, which keeps those whose DeletionPolicy retains them.

    moto removed first (an edge function's old version, while the distribution still used it,
    even when retained), then added, then modified (a new version published before the
    function's new code).
    """
    diff = self.build_resource_diff(template, parameters)
    previous = self._resource_json_map
    self._template = template
    if parameters:
        self.input_parameters = parameters
    self.load_mapping()
    self.load_parameters()
    self.load_conditions()
    self._resource_json_map = template["Resources"]
    resources = template["Resources"]
    changing = list(dict.fromkeys(diff["Add"] + diff["Modify"]))
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in ordered or name in path:
            return
        for dependency in sorted(_referenced(resources.get(name, {}))):
            if dependency in changing:
                visit(dependency, path + (name,))
        ordered.append(name)

    for name in changing:
        visit(name)
    for name in ordered:
        if name in diff["Add"]:
            _ = self[name]
            continue
        updated = parsing.parse_and_update_resource(name, resources[name], self, account_id=self._account_id,
                                                    region_name=self._region_name)
        if updated is None:
            self._parsed_resources.pop(name, None)
        else:
            self._parsed_resources[name] = updated
    for name in diff["Remove"]:
        resource = self._parsed_resources.pop(name, None)
        if resource is None or previous[name].get("DeletionPolicy") in RETAINING_POLICIES:
            continue
        self._delete_resource(resource, previous[name])


def _referenced(node: Any) -> set[str]:
    """Logical ids a resource definition refers to: Ref, Fn::GetAtt, ${X} in Fn::Sub, DependsOn."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    found.update(name.split(".")[0] for name in _SUB_REFERENCE.findall(text))
            elif key == "DependsOn":
                found.update([value] if isinstance(value, str) else value)
            found |= _referenced(value)
    elif isinstance(node, list):
        for item in node:
            found |= _referenced(item)
    return found


def _resource_map_get(self: parsing.ResourceMap, key: str, default: Any = None) -> Any:
    if key not in self._parsed_resources and key not in self._resource_json_map:
        return default
    return self[key]


# --- stack sets ------------------------------------------------------------------------------


def _as_dict(parameters: Any) -> dict[str, str]:
    if isinstance(parameters, dict):
        return dict(parameters)
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in parameters or []}


def _effective_parameters(stack_set: cfn_models.StackSet, overrides: Any) -> dict[str, str]:
    values = _as_dict(stack_set.parameters)
    values.update(_as_dict(overrides))
    return values


def _stack_failure(exc: Exception) -> ValidationError:
    if isinstance(exc, ValidationError):
        return exc
    code = str(getattr(exc, "error_type", None) or getattr(exc, "code", None) or type(exc).__name__)
    message = getattr(exc, "message", None) or str(exc)
    return ValidationError(message=f"{code.split('#')[-1]}: {message}")


def _apply_to_instance(stack_set: cfn_models.StackSet, instance: cfn_models.StackInstance) -> None:
    instance.template = stack_set.template
    try:
        instance.stack.update(stack_set.template, parameters=_effective_parameters(stack_set, instance.parameters))
    except Exception as exc:
        raise _stack_failure(exc) from exc


def _create_stack_instances(
    self: cfn_models.StackSet, accounts: list[str], regions: list[str],
    deployment_targets: dict[str, Any] | None, parameters: list[dict[str, Any]],
) -> str:
    import uuid

    self.instances.template = self.template
    overrides = list(parameters or [])
    new_instances = []
    for region in regions:
        for account in accounts:
            if self.instances.get_instance(account, region) is not None:
                continue
            try:
                instance = cfn_models.StackInstance(
                    account_id=account, region_name=region, stackset_id=self.id,
                    stack_name=self.instances.stack_name, name=self.name, template=self.template,
                    parameters=_effective_parameters(self, overrides),
                    permission_model=self.permission_model,
                )
            except Exception as exc:
                raise _stack_failure(exc) from exc
            # What the instance reports is only its overrides, as on AWS.
            instance.parameters = overrides
            new_instances.append(instance)
    self.instances.stack_instances += new_instances
    operation_id = str(uuid.uuid4())
    self._create_operation(operation_id=operation_id, action="CREATE", status="SUCCEEDED",
                           accounts=accounts, regions=regions)
    return operation_id


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
    import uuid

    from moto.cloudformation.exceptions import StackInstanceNotFound

    targets = []
    for account in accounts:
        for region in regions:
            instance = self.instances.get_instance(account, region)
            if instance is None:
                raise StackInstanceNotFound()
            targets.append(instance)
    for instance in targets:
        instance.parameters = _merge_overrides(instance.parameters, parameters)
        _apply_to_instance(self, instance)
    return self._create_operation(operation_id=str(uuid.uuid4()), action="UPDATE", status="SUCCEEDED",
                                  accounts=accounts, regions=regions)


def _update_stack_set(
    self: cfn_models.StackSet, template: str, description: str, parameters: dict[str, str],
    tags: dict[str, str], admin_role: str, execution_role: str, accounts: list[str],
    regions: list[str], operation_id: str,
) -> dict[str, Any]:
    import uuid

    self.template = template or self.template
    self.instances.template = self.template
    self.description = description if description is not None else self.description
    self.parameters = parameters or self.parameters
    self.tags = tags or self.tags
    self.administration_role_arn = admin_role or self.administration_role_arn
    self.execution_role_name = execution_role or self.execution_role_name
    # Without Accounts/Regions, an update with a new template or parameters reaches every instance.
    targets = [i for i in self.instances.stack_instances
               if (not accounts or i.account_id in accounts) and (not regions or i.region_name in regions)]
    for instance in targets:
        _apply_to_instance(self, instance)
    return self._create_operation(
        operation_id=operation_id or str(uuid.uuid4()), action="UPDATE", status="SUCCEEDED",
        accounts=sorted({i.account_id for i in targets}), regions=sorted({i.region_name for i in targets}))


_original_instance_to_dict = cfn_models.StackInstance.to_dict


def _instance_to_dict(self: cfn_models.StackInstance) -> dict[str, Any]:
    result = _original_instance_to_dict(self)
    result["StackId"] = self.stack.stack_id
    result["ParameterOverrides"] = list(self.parameters or [])
    return result


_original_delete = parsing.ResourceMap.delete


def _delete_keeping_retained(self: parsing.ResourceMap) -> None:
    """A stack delete keeps every resource whose DeletionPolicy retains it (moto knew only Retain)."""
    declared = self._resource_json_map
    self._resource_json_map = {
        name: {**resource, "DeletionPolicy": "Retain"}
        if resource.get("DeletionPolicy") in RETAINING_POLICIES else resource
        for name, resource in declared.items()
    }
    try:
        _original_delete(self)
    finally:
        self._resource_json_map = declared


def install() -> None:
    """Apply the fixes (idempotent)."""
    global _installed
    if _installed:
        return
    cfn_models.Stack.get_cfn_attribute = _stack_get_cfn_attribute
    cfn_models.Stack.update_from_cloudformation_json = classmethod(_stack_update_in_place)
    parsing.get_references_from_template = _references_with_sub
    parsing.ResourceMap.get = _resource_map_get
    parsing.ResourceMap.load = _load_with_rules
    parsing.ResourceMap.update = _update_with_rules
    parsing.ResourceMap.delete = _delete_keeping_retained
    parsing.parse_and_update_resource = _update_resource
    cfn_models.StackSet.create_stack_instances = _create_stack_instances
    cfn_models.StackSet.update_instances = _update_instances
    cfn_models.StackSet.update = _update_stack_set
    cfn_models.StackInstance.to_dict = _instance_to_dict
    _installed = True
