"""Shared template analysis for the Lambda@Edge / us-east-1 cfn-lint rules.

This module is not a rule (cfn-lint's directory loader only imports files whose
name starts with a letter or digit, so ``_edge.py`` is skipped); the rule modules
import it. It answers three questions about a template:

* Which ``AWS::Lambda::Function`` resources are **edge functions**, and with which
  CloudFront triggers (event types) they run. A function is an edge function when

  1. its ``Role`` is ``Fn::GetAtt [<role>, Arn]`` of an ``AWS::IAM::Role`` in the
     same template whose ``AssumeRolePolicyDocument`` allows
     ``edgelambda.amazonaws.com``; or
  2. an ``AWS::CloudFront::Distribution`` in the same template associates it in
     ``LambdaFunctionAssociations`` (through an ``AWS::Lambda::Version`` of it, or -
     wrongly - directly); or
  3. its resource ``Metadata`` has ``EdgeEventType`` (one of ``viewer-request``,
     ``viewer-response``, ``origin-request``, ``origin-response``). Builders set
     this on every edge function, because the association usually lives in
     another nested template.

  The triggers of a function are its ``Metadata.EdgeEventType`` plus the
  ``EventType`` of every association of it in the same template.

* Which distribution associations there are (``DefaultCacheBehavior`` and
  ``CacheBehaviors[*]`` ``LambdaFunctionAssociations[*]``), with their paths;
  ``Fn::If`` branches are followed at every level.

* Whether a resource is guarded so that it can only be created in us-east-1:
  either the template's ``Rules`` section has an unconditional rule (no
  ``RuleCondition``) with an assertion pinning ``AWS::Region`` to us-east-1
  (``Fn::Equals [Ref AWS::Region, "us-east-1"]`` in either order,
  ``Fn::Contains [["us-east-1"], Ref AWS::Region]``, or an ``Fn::And`` holding one
  of those), or the resource's ``Condition`` is such an ``Fn::Equals`` (or an
  ``Fn::And`` containing one, or a ``{"Condition": ...}`` reference to one).

Helpers take the parsed template as plain mappings and lists, which is what
cfn-lint's ``Template.template`` holds (its node types subclass ``dict``/``str``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

EDGE_REGION = "us-east-1"

REGIONAL_EDGE_CACHE_REGIONS: tuple[str, ...] = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "eu-central-1", "eu-west-1", "eu-west-2",
    "sa-east-1",
)
"""Regions of CloudFront's regional edge caches, where Lambda@Edge runs and writes its logs
(the same list as ``templates.config``; this module must load without the templates package)."""

METADATA_EVENT_TYPE = "EdgeEventType"
"""Resource Metadata key naming an edge function's CloudFront trigger."""

METADATA_EDGE_ONLY = "EdgeOnly"
"""Resource Metadata key (value ``true``) marking any resource as us-east-1 only."""

EVENT_TYPES: tuple[str, ...] = (
    "viewer-request",
    "viewer-response",
    "origin-request",
    "origin-response",
)
VIEWER_EVENT_TYPES: frozenset[str] = frozenset({"viewer-request", "viewer-response"})
ORIGIN_EVENT_TYPES: frozenset[str] = frozenset({"origin-request", "origin-response"})

EDGE_PRINCIPAL = "edgelambda.amazonaws.com"

LAMBDA_FUNCTION = "AWS::Lambda::Function"
LAMBDA_VERSION = "AWS::Lambda::Version"
LAMBDA_ALIAS = "AWS::Lambda::Alias"
DISTRIBUTION = "AWS::CloudFront::Distribution"
IAM_ROLE = "AWS::IAM::Role"

Path = list[str | int]


@dataclass
class Association:
    """One ``LambdaFunctionAssociations`` entry of a distribution (one Fn::If branch)."""

    distribution: str
    path: Path
    """Path of the ``LambdaFunctionARN`` value."""
    arn: Any
    event_type: str | None


@dataclass
class EdgeFunction:
    """An ``AWS::Lambda::Function`` that runs at CloudFront edge locations."""

    name: str
    properties: Mapping[str, Any]
    metadata_event_type: Any = None
    """Raw ``Metadata.EdgeEventType`` value (None when absent)."""
    associated_event_types: set[str] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)

    @property
    def event_types(self) -> set[str]:
        """Known, valid CloudFront triggers of the function."""
        known = {e for e in self.associated_event_types if e in EVENT_TYPES}
        if self.metadata_event_type in EVENT_TYPES:
            known.add(self.metadata_event_type)
        return known

    @property
    def path(self) -> Path:
        return ["Resources", self.name]

    @property
    def properties_path(self) -> Path:
        return ["Resources", self.name, "Properties"]


# --------------------------------------------------------------------------- basics


def resources(template: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The template's resources that are mappings, by logical id."""
    section = template.get("Resources")
    if not isinstance(section, Mapping):
        return {}
    return {k: v for k, v in section.items() if isinstance(v, Mapping)}


def resource_type(resource: Mapping[str, Any]) -> str | None:
    value = resource.get("Type")
    return value if isinstance(value, str) else None


def properties(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    value = resource.get("Properties")
    return value if isinstance(value, Mapping) else {}


def metadata(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    value = resource.get("Metadata")
    return value if isinstance(value, Mapping) else {}


def is_no_value(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("Ref") == "AWS::NoValue"


def ref_target(value: Any) -> str | None:
    """Logical id (or parameter / pseudo parameter) of ``{"Ref": X}``."""
    if isinstance(value, Mapping) and len(value) == 1 and "Ref" in value:
        target = value["Ref"]
        return target if isinstance(target, str) else None
    return None


def getatt_target(value: Any) -> tuple[str, str] | None:
    """``(logical id, attribute)`` of ``Fn::GetAtt`` in list or dotted-string form."""
    if not (isinstance(value, Mapping) and len(value) == 1 and "Fn::GetAtt" in value):
        return None
    args = value["Fn::GetAtt"]
    if isinstance(args, str) and "." in args:
        name, attribute = args.split(".", 1)
        return name, attribute
    if isinstance(args, list) and len(args) == 2:
        name, attribute = args
        if isinstance(name, str) and isinstance(attribute, str):
            return name, attribute
    return None


def branches(value: Any, path: Path) -> Iterator[tuple[Any, Path]]:
    """Yield ``(value, path)`` for each ``Fn::If`` branch, skipping ``AWS::NoValue``."""
    if value is None or is_no_value(value):
        return
    if isinstance(value, Mapping) and len(value) == 1 and "Fn::If" in value:
        args = value["Fn::If"]
        if isinstance(args, list) and len(args) == 3:
            yield from branches(args[1], [*path, "Fn::If", 1])
            yield from branches(args[2], [*path, "Fn::If", 2])
        return
    yield value, path


def as_int(value: Any) -> int | None:
    """An integer literal (CloudFormation also accepts numeric strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    return None


# ------------------------------------------------------------------- associations


def associations(template: Mapping[str, Any]) -> list[Association]:
    """Every Lambda@Edge association of every distribution in the template."""
    found: list[Association] = []
    for name, resource in resources(template).items():
        if resource_type(resource) != DISTRIBUTION:
            continue
        base: Path = ["Resources", name, "Properties", "DistributionConfig"]
        for config, config_path in branches(properties(resource).get("DistributionConfig"), base):
            if not isinstance(config, Mapping):
                continue
            behaviors: list[tuple[Any, Path]] = list(
                branches(config.get("DefaultCacheBehavior"), [*config_path, "DefaultCacheBehavior"])
            )
            for items, items_path in branches(config.get("CacheBehaviors"), [*config_path, "CacheBehaviors"]):
                if isinstance(items, list):
                    for index, item in enumerate(items):
                        behaviors.extend(branches(item, [*items_path, index]))
            for behavior, behavior_path in behaviors:
                if isinstance(behavior, Mapping):
                    found.extend(_behavior_associations(name, behavior, behavior_path))
    return found


def _behavior_associations(distribution: str, behavior: Mapping[str, Any], path: Path) -> Iterator[Association]:
    key = "LambdaFunctionAssociations"
    for items, items_path in branches(behavior.get(key), [*path, key]):
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            for entry, entry_path in branches(item, [*items_path, index]):
                if not isinstance(entry, Mapping):
                    continue
                event_type = entry.get("EventType")
                for arn, arn_path in branches(entry.get("LambdaFunctionARN"), [*entry_path, "LambdaFunctionARN"]):
                    yield Association(
                        distribution=distribution,
                        path=arn_path,
                        arn=arn,
                        event_type=event_type if isinstance(event_type, str) else None,
                    )


def function_of(template: Mapping[str, Any], value: Any) -> str | None:
    """The ``AWS::Lambda::Function`` a Ref/GetAtt points at, directly or via a Version/Alias."""
    all_resources = resources(template)
    target = ref_target(value)
    if target is None:
        attribute = getatt_target(value)
        target = attribute[0] if attribute else None
    if target is None or target not in all_resources:
        return None
    kind = resource_type(all_resources[target])
    if kind == LAMBDA_FUNCTION:
        return target
    if kind in (LAMBDA_VERSION, LAMBDA_ALIAS):
        inner = properties(all_resources[target]).get("FunctionName")
        inner_target = ref_target(inner) or (getatt_target(inner) or (None, None))[0]
        if inner_target in all_resources and resource_type(all_resources[inner_target]) == LAMBDA_FUNCTION:
            return inner_target
    return None


# ------------------------------------------------------------------ edge functions


def trusts_edgelambda(role_properties: Mapping[str, Any]) -> bool:
    """Whether a role's trust policy allows ``edgelambda.amazonaws.com``."""
    document = role_properties.get("AssumeRolePolicyDocument")
    if not isinstance(document, Mapping):
        return False
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return False
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") == "Deny":
            continue
        principal = statement.get("Principal")
        if not isinstance(principal, Mapping):
            continue
        services = principal.get("Service")
        if isinstance(services, str):
            services = [services]
        if isinstance(services, list) and EDGE_PRINCIPAL in services:
            return True
    return False


def edge_functions(template: Mapping[str, Any]) -> dict[str, EdgeFunction]:
    """The template's edge functions by logical id (see the module docstring)."""
    all_resources = resources(template)
    edge_roles = {
        name
        for name, resource in all_resources.items()
        if resource_type(resource) == IAM_ROLE and trusts_edgelambda(properties(resource))
    }
    found: dict[str, EdgeFunction] = {}

    def entry(name: str) -> EdgeFunction:
        if name not in found:
            resource = all_resources[name]
            found[name] = EdgeFunction(
                name=name,
                properties=properties(resource),
                metadata_event_type=metadata(resource).get(METADATA_EVENT_TYPE),
            )
        return found[name]

    for name, resource in all_resources.items():
        if resource_type(resource) != LAMBDA_FUNCTION:
            continue
        role = getatt_target(properties(resource).get("Role"))
        if role and role[0] in edge_roles and role[1] == "Arn":
            entry(name).reasons.append(f"its role {role[0]} trusts {EDGE_PRINCIPAL}")
        if METADATA_EVENT_TYPE in metadata(resource):
            entry(name).reasons.append(f"it has Metadata {METADATA_EVENT_TYPE}")

    for association in associations(template):
        name = function_of(template, association.arn)
        if name is None:
            continue
        function = entry(name)
        function.reasons.append(f"distribution {association.distribution} associates it")
        if association.event_type:
            function.associated_event_types.add(association.event_type)
    return found


# ------------------------------------------------------------------ region guards


def pins_edge_region(expression: Any, conditions: Mapping[str, Any] | None = None, _seen: frozenset[str] = frozenset()) -> bool:
    """Whether a condition / rule-assertion expression is true only in us-east-1."""
    if not isinstance(expression, Mapping) or len(expression) != 1:
        return False
    (function, args), = expression.items()
    if function == "Fn::Equals" and isinstance(args, list) and len(args) == 2:
        first, second = args
        return (ref_target(first) == "AWS::Region" and second == EDGE_REGION) or (
            ref_target(second) == "AWS::Region" and first == EDGE_REGION
        )
    if function == "Fn::Contains" and isinstance(args, list) and len(args) == 2:
        allowed, value = args
        return (
            isinstance(allowed, list)
            and len(allowed) > 0
            and all(item == EDGE_REGION for item in allowed)
            and ref_target(value) == "AWS::Region"
        )
    if function == "Fn::And" and isinstance(args, list):
        return any(pins_edge_region(item, conditions, _seen) for item in args)
    if function == "Condition" and isinstance(args, str) and conditions is not None and args not in _seen:
        return pins_edge_region(conditions.get(args), conditions, _seen | {args})
    return False


def template_pins_edge_region(template: Mapping[str, Any]) -> bool:
    """Whether an unconditional ``Rules`` assertion pins the region to us-east-1."""
    rules = template.get("Rules")
    if not isinstance(rules, Mapping):
        return False
    for rule in rules.values():
        if not isinstance(rule, Mapping) or "RuleCondition" in rule:
            continue
        assertions = rule.get("Assertions")
        if not isinstance(assertions, list):
            continue
        for assertion in assertions:
            if isinstance(assertion, Mapping) and pins_edge_region(assertion.get("Assert")):
                return True
    return False


def resource_pins_edge_region(template: Mapping[str, Any], resource: Mapping[str, Any]) -> bool:
    """Whether the resource's ``Condition`` is only true in us-east-1."""
    name = resource.get("Condition")
    conditions = template.get("Conditions")
    if not isinstance(name, str) or not isinstance(conditions, Mapping):
        return False
    return pins_edge_region({"Condition": name}, conditions)


# ------------------------------------------------------------------ conditions by region


def condition_in_region(expression: Any, region: str, conditions: Mapping[str, Any] | None = None,
                        _seen: frozenset[str] = frozenset()) -> bool | None:
    """Whether a condition expression holds in ``region``: True, False, or None when it also
    depends on something else (an account id, a parameter) or cannot be read.

    Follows ``Fn::Equals`` of ``Ref AWS::Region`` and a string, ``Fn::And``, ``Fn::Or``,
    ``Fn::Not`` and ``{"Condition": name}`` references into ``conditions``.
    """
    if not isinstance(expression, Mapping) or len(expression) != 1:
        return None
    (function, args), = expression.items()
    if function == "Condition":
        if not isinstance(args, str) or conditions is None or args in _seen or args not in conditions:
            return None
        return condition_in_region(conditions[args], region, conditions, _seen | {args})
    if function == "Fn::Equals" and isinstance(args, list) and len(args) == 2:
        values = [region if ref_target(arg) == "AWS::Region" else arg for arg in args]
        if all(isinstance(value, str) for value in values) and any(ref_target(a) == "AWS::Region" for a in args):
            return values[0] == values[1]
        return None
    if function in ("Fn::And", "Fn::Or") and isinstance(args, list) and args:
        results = [condition_in_region(item, region, conditions, _seen) for item in args]
        decisive = function == "Fn::Or"  # True decides an Or, False decides an And
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    if function == "Fn::Not" and isinstance(args, list) and len(args) == 1:
        result = condition_in_region(args[0], region, conditions, _seen)
        return None if result is None else not result
    return None


def created_in_region(template: Mapping[str, Any], resource: Mapping[str, Any], region: str) -> bool | None:
    """Whether a resource is created in ``region``: its ``Condition`` holds there (True when it
    has none), False when it does not, None when that depends on more than the region."""
    name = resource.get("Condition")
    if name is None:
        return True
    conditions = template.get("Conditions")
    return condition_in_region({"Condition": name}, region, conditions if isinstance(conditions, Mapping) else None)


def admitted_regions(template: Mapping[str, Any], regions: list[str]) -> list[str]:
    """The regions of ``regions`` where the template's unconditional ``Rules`` assertions allow a
    stack: an assertion ``Fn::Contains [[...], Ref AWS::Region]`` or a region ``Fn::Equals``
    excludes the regions it does not name; other assertions exclude nothing."""
    rules = template.get("Rules")
    if not isinstance(rules, Mapping):
        return list(regions)
    admitted = list(regions)
    for rule in rules.values():
        if not isinstance(rule, Mapping) or "RuleCondition" in rule:
            continue
        assertions = rule.get("Assertions")
        for assertion in assertions if isinstance(assertions, list) else []:
            allowed = _asserted_regions(assertion.get("Assert") if isinstance(assertion, Mapping) else None)
            if allowed is not None:
                admitted = [region for region in admitted if region in allowed]
    return admitted


def _asserted_regions(expression: Any) -> set[str] | None:
    if not isinstance(expression, Mapping) or len(expression) != 1:
        return None
    (function, args), = expression.items()
    if function == "Fn::Contains" and isinstance(args, list) and len(args) == 2:
        allowed, value = args
        if ref_target(value) == "AWS::Region" and isinstance(allowed, list) \
                and all(isinstance(item, str) for item in allowed):
            return set(allowed)
    if function == "Fn::Equals" and isinstance(args, list) and len(args) == 2:
        first, second = args
        if ref_target(first) == "AWS::Region" and isinstance(second, str):
            return {second}
        if ref_target(second) == "AWS::Region" and isinstance(first, str):
            return {first}
    if function == "Fn::And" and isinstance(args, list):
        found = [r for r in (_asserted_regions(item) for item in args) if r is not None]
        return set.intersection(*found) if found else None
    return None
