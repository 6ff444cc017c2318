"""E9105: a CloudFront Lambda@Edge association must name a numbered function version.

Checked: ``DistributionConfig.DefaultCacheBehavior`` and ``CacheBehaviors[*]``
``LambdaFunctionAssociations[*].LambdaFunctionARN`` of every
``AWS::CloudFront::Distribution`` (``Fn::If`` branches are followed). Accepted:

* ``Ref`` to an ``AWS::Lambda::Version`` (in CloudFormation it returns the version ARN);
* ``Fn::GetAtt [<Version>, FunctionArn]``;
* a literal ARN ending in ``:<digits>``;
* ``Fn::Sub`` / ``Fn::Join`` whose literal end is ``:<digits>``, or ``Fn::Sub`` ending
  in ``:${<Version>.Version}``;
* ``Ref`` to a template parameter whose ``AllowedPattern`` forces a numbered version:
  under Python ``re.search`` semantics it must reject an unqualified ARN, ``$LATEST``
  and alias-like qualifiers, and accept a numbered version ARN. A pattern ending in
  ``:[0-9]+$`` (for example ``^arn:aws:lambda:us-east-1:[0-9]{12}:function:[A-Za-z0-9_-]+:[0-9]+$``) passes.

Everything else is reported: a Ref/GetAtt of an ``AWS::Lambda::Function`` or
``AWS::Lambda::Alias``, ``GetAtt <Version>.Version`` (a bare number), ``$LATEST`` or
alias ARNs, unconstrained parameters and values that cannot be verified (imports,
nested-stack outputs).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

try:  # imported as part of the templates.lint_rules package
    from . import _edge
except ImportError:  # loaded by cfn-lint's rules-directory loader as a top-level module
    import importlib.util
    import sys

    if "cfn_lint_edge_rules_helpers" not in sys.modules:
        _spec = importlib.util.spec_from_file_location("cfn_lint_edge_rules_helpers", Path(__file__).with_name("_edge.py"))
        assert _spec is not None and _spec.loader is not None
        sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules[_spec.name])
    _edge = sys.modules["cfn_lint_edge_rules_helpers"]  # type: ignore[assignment]

_NUMBERED = re.compile(r":[0-9]+$")
_SUB_VERSION = re.compile(r":\$\{([A-Za-z0-9]+)\.Version\}$")
_ARN = "arn:aws:lambda:us-east-1:123456789012:function:edge-fn"
PATTERN_MUST_REJECT: tuple[str, ...] = (
    _ARN,
    f"{_ARN}:$LATEST",
    f"{_ARN}:live",
    f"{_ARN}:v1",
    f"{_ARN}:1a",
    f"{_ARN}:",
    "",
)
PATTERN_MUST_ACCEPT = f"{_ARN}:12"


class EdgeAssociationVersion(CloudFormationLintRule):
    """Lambda@Edge associations must use a numbered version ARN."""

    id = "E9105"
    shortdesc = "Lambda@Edge association must use a numbered version"
    description = (
        "LambdaFunctionARN in a CloudFront LambdaFunctionAssociation must be a numbered "
        "version ARN (AWS::Lambda::Version, a literal ending in :<n>, or a parameter whose "
        "AllowedPattern forces one), never a function, $LATEST or an alias"
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html"
    tags = ["resources", "cloudfront", "lambda", "edge"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for association in _edge.associations(cfn.template):
            problem = self._problem(cfn.template, association.arn)
            if problem:
                matches.append(RuleMatch(
                    association.path,
                    f"LambdaFunctionARN of distribution {association.distribution} must be a numbered version: {problem}",
                ))
        return matches

    @staticmethod
    def _problem(template: Any, value: Any) -> str | None:
        all_resources = _edge.resources(template)
        parameters = template.get("Parameters")
        parameters = parameters if isinstance(parameters, dict) else {}
        if isinstance(value, str):
            return None if _NUMBERED.search(value) else f"{value!r} does not end in :<version number>"

        target = _edge.ref_target(value)
        if target is not None:
            if target in all_resources:
                kind = _edge.resource_type(all_resources[target])
                return None if kind == _edge.LAMBDA_VERSION else f"Ref {target} is a {kind}, not an {_edge.LAMBDA_VERSION}"
            if target in parameters:
                return _pattern_problem(target, parameters[target])
            return f"Ref {target} is not a function version"

        getatt = _edge.getatt_target(value)
        if getatt is not None:
            name, attribute = getatt
            kind = _edge.resource_type(all_resources.get(name, {}))
            if kind == _edge.LAMBDA_VERSION and attribute == "FunctionArn":
                return None
            if kind == _edge.LAMBDA_VERSION:
                return f"GetAtt {name}.{attribute} is not the version ARN (use FunctionArn or Ref)"
            return f"GetAtt {name}.{attribute} of a {kind} is not a verifiable numbered version"

        if isinstance(value, dict) and "Fn::Sub" in value:
            args = value["Fn::Sub"]
            text = args[0] if isinstance(args, list) and args else args
            if isinstance(text, str):
                if _NUMBERED.search(text):
                    return None
                sub = _SUB_VERSION.search(text)
                if sub and _edge.resource_type(all_resources.get(sub.group(1), {})) == _edge.LAMBDA_VERSION:
                    return None
            return "Fn::Sub does not end in :<version number>"

        if isinstance(value, dict) and "Fn::Join" in value:
            args = value["Fn::Join"]
            if isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], list) and args[1]:
                last = args[1][-1]
                if isinstance(last, str):
                    tail = (args[0] + last) if len(args[1]) > 1 else last
                    if _NUMBERED.search(tail):
                        return None
            return "Fn::Join does not end in :<version number>"

        return "the value cannot be verified to be a numbered version"


def _pattern_problem(name: str, parameter: Any) -> str | None:
    """Why a parameter does not force a numbered version ARN (None when it does)."""
    pattern = parameter.get("AllowedPattern") if isinstance(parameter, dict) else None
    if not isinstance(pattern, str):
        return f"parameter {name} has no AllowedPattern forcing a numbered version (e.g. ending in :[0-9]+$)"
    try:
        compiled = re.compile(pattern)
    except re.error:
        return f"parameter {name} AllowedPattern {pattern!r} cannot be evaluated"
    accepted = [s for s in PATTERN_MUST_REJECT if compiled.search(s)]
    if accepted:
        return f"parameter {name} AllowedPattern {pattern!r} accepts {accepted[0]!r}; it must end in something like :[0-9]+$"
    if not compiled.search(PATTERN_MUST_ACCEPT):
        return f"parameter {name} AllowedPattern {pattern!r} rejects a numbered version ARN"
    return None
