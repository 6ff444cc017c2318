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
  retained (DeletionPolicy Retain or RetainExceptOnCreate; moto deleted them regardless). A named
  resource whose name changes is replaced, the old one kept when UpdateReplacePolicy is Retain.
- Updates respect Conditions: moto updated every changed resource of the template, including
  the ones whose Condition is false in the stack's region (never created), and crashed.
- A resource that fails while a sibling reads it (Fn::GetAtt) reports its own error: moto's
  lookup turned any KeyError raised inside the creation into "references undefined resource".

Resource events, rollbacks and deletion policies are in `lifecycle`; stack sets in `stacksets`.
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.utils import get_stack_from_s3_url
from moto.utilities.utils import get_partition

from rollout.moto_models import lifecycle

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
            lifecycle.delete_one(resources_map, logical_id, resource_json, lifecycle.rolling_back())
        return None
    if existing is None:
        # Not created before (its condition was false): CloudFormation creates it now.
        return resources_map[logical_id]
    resource_type = resource_json["Type"]
    stack = resources_map.__dict__.get("_owner")
    try:
        _, _, new_name = parsing.parse_resource_and_generate_name(logical_id, resource_json, resources_map)
    except lifecycle.CreateFailed:
        raise
    except Exception as exc:
        reason = lifecycle.failure_reason(exc, resource_type, logical_id)
        lifecycle.resource_event(stack, logical_id, resource_type, "UPDATE_FAILED", reason)
        raise lifecycle.UpdateFailed(logical_id, resource_type, reason) from exc
    if lifecycle.replaces(resource_type, existing, new_name):
        return _replace(logical_id, resource_json, resources_map, existing, account_id, region_name)
    lifecycle.resource_event(stack, logical_id, resource_type, "UPDATE_IN_PROGRESS")
    try:
        updated = _original_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
    except lifecycle.NestedStackFailed as nested:
        reason = (f"Embedded stack {nested.stack.stack_id} was not successfully updated. Currently in "
                  f"UPDATE_ROLLBACK_IN_PROGRESS with reason: {nested.reason}")
        lifecycle.resource_event(stack, logical_id, resource_type, "UPDATE_FAILED", reason, nested.stack.stack_id)
        raise lifecycle.UpdateFailed(logical_id, resource_type, reason) from nested
    except lifecycle.CreateFailed:
        raise
    except Exception as exc:
        reason = lifecycle.failure_reason(exc, resource_type, new_name)
        lifecycle.resource_event(stack, logical_id, resource_type, "UPDATE_FAILED", reason)
        raise lifecycle.UpdateFailed(logical_id, resource_type, reason) from exc
    lifecycle.resource_event(stack, logical_id, resource_type, "UPDATE_COMPLETE",
                             physical_id=str(getattr(updated, "physical_resource_id", "") or ""))
    return updated


def _replace(logical_id: str, resource_json: dict[str, Any], resources_map: parsing.ResourceMap, existing: Any,
             account_id: str, region_name: str) -> Any:
    """A named resource whose name changed: create the new one, then delete the old one unless
    UpdateReplacePolicy is Retain (CloudFormation's order, so the new one exists before the old goes)."""
    resources_map._parsed_resources.pop(logical_id, None)
    try:
        new = lifecycle.create_resource(logical_id, resource_json, resources_map, account_id, region_name)
    except lifecycle.CreateFailed:
        resources_map._parsed_resources[logical_id] = existing
        raise
    if resource_json.get("UpdateReplacePolicy", "Delete") != "Retain":
        resources_map._delete_resource(existing, resource_json)
    return new


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
    then the cleanup of removed ones, which keeps the retained ones (see lifecycle.kept).

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
        if name in self._parsed_resources:
            lifecycle.delete_one(self, name, previous[name], lifecycle.rolling_back())


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
    parsing.parse_and_update_resource = _update_resource
    _installed = True
