"""E9104: an edge function's MemorySize and Timeout must fit its CloudFront triggers.

Viewer triggers (viewer-request, viewer-response): MemorySize <= 128 MB and
Timeout <= 5 s. Origin triggers (origin-request, origin-response): Timeout <= 30 s
and MemorySize <= 10240 MB. The triggers come from ``Metadata.EdgeEventType`` and
from associations in the same template; a function with both kinds gets the viewer
limits. Absent properties use Lambda's defaults (128 MB, 3 s), which fit. Values are
checked when they are literals or a ``Ref`` to a parameter (its ``Default``,
``MaxValue`` and ``AllowedValues`` are checked).
"""

from __future__ import annotations

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

VIEWER_LIMITS: dict[str, int] = {"MemorySize": 128, "Timeout": 5}
ORIGIN_LIMITS: dict[str, int] = {"MemorySize": 10240, "Timeout": 30}


class EdgeFunctionLimits(CloudFormationLintRule):
    """Edge functions must respect the memory and timeout quotas of their triggers."""

    id = "E9104"
    shortdesc = "Lambda@Edge function exceeds trigger memory/timeout limits"
    description = (
        "Viewer-trigger edge functions need MemorySize <= 128 and Timeout <= 5; "
        "origin-trigger edge functions need MemorySize <= 10240 and Timeout <= 30"
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-lambda-at-edge"
    tags = ["resources", "lambda", "cloudfront", "edge", "limits"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        parameters: Any = cfn.template.get("Parameters", {})
        for function in _edge.edge_functions(cfn.template).values():
            events = function.event_types
            if events & _edge.VIEWER_EVENT_TYPES:
                limits, kind = VIEWER_LIMITS, "viewer"
            elif events & _edge.ORIGIN_EVENT_TYPES:
                limits, kind = ORIGIN_LIMITS, "origin"
            else:
                continue  # trigger unknown: see W9101
            triggers = ", ".join(sorted(events))
            for key, limit in limits.items():
                base = [*function.properties_path, key]
                for value, path in _edge.branches(function.properties.get(key), base):
                    for number in _numbers(value, parameters):
                        if number > limit:
                            matches.append(RuleMatch(
                                path,
                                f"Lambda@Edge function {function.name} ({triggers}) has {key} {number}; "
                                f"the {kind}-trigger maximum is {limit}",
                            ))
                            break
        return matches


def _numbers(value: Any, parameters: Any) -> list[int]:
    """Integer values the property can take (literal, or a parameter's bounds)."""
    number = _edge.as_int(value)
    if number is not None:
        return [number]
    name = _edge.ref_target(value)
    if name is None or not isinstance(parameters, dict) or not isinstance(parameters.get(name), dict):
        return []
    parameter = parameters[name]
    candidates: list[Any] = [parameter.get("Default"), parameter.get("MaxValue")]
    allowed = parameter.get("AllowedValues")
    if isinstance(allowed, list):
        candidates.extend(allowed)
    return [n for n in (_edge.as_int(c) for c in candidates) if n is not None]
