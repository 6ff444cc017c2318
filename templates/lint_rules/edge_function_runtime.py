"""E9103: an edge function must use a runtime the project allows at the edge.

Lambda@Edge runs Node.js and Python only (the latest versions of each). Project
policy (DESIGN.md): python3.12 or python3.13 (3.9 and 3.10 are end-of-life, 3.11 is
below the policy), or a Node.js LTS that Lambda has not deprecated (nodejs22.x,
nodejs24.x; nodejs20.x was deprecated on 2026-04-30). Update ``ALLOWED_RUNTIMES``
when the policy changes.
The runtime is checked when it is a literal, or a ``Ref`` to a template parameter
(its ``Default`` and ``AllowedValues`` are checked; an unconstrained parameter is
reported). Other intrinsic functions are not evaluated. A missing ``Runtime`` is
left to cfn-lint's own rules. Edge functions are found as described in ``_edge.py``.
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

ALLOWED_RUNTIMES: tuple[str, ...] = ("python3.12", "python3.13", "nodejs22.x", "nodejs24.x")


class EdgeFunctionRuntime(CloudFormationLintRule):
    """Edge functions must use python3.12/python3.13 or a supported Node.js runtime."""

    id = "E9103"
    shortdesc = "Lambda@Edge function runtime not allowed"
    description = "Lambda@Edge functions must use one of: " + ", ".join(ALLOWED_RUNTIMES)
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html"
    tags = ["resources", "lambda", "cloudfront", "edge", "runtime"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        parameters: Any = cfn.template.get("Parameters", {})
        for function in _edge.edge_functions(cfn.template).values():
            base = [*function.properties_path, "Runtime"]
            for value, path in _edge.branches(function.properties.get("Runtime"), base):
                for runtime, problem in self._candidates(value, parameters):
                    if problem:
                        matches.append(RuleMatch(path, f"Lambda@Edge function {function.name}: {problem}"))
                    elif runtime not in ALLOWED_RUNTIMES:
                        matches.append(RuleMatch(
                            path,
                            f"Lambda@Edge function {function.name} uses runtime {runtime!r}; "
                            f"allowed at the edge: {', '.join(ALLOWED_RUNTIMES)}",
                        ))
        return matches

    @staticmethod
    def _candidates(value: Any, parameters: Any) -> list[tuple[Any, str | None]]:
        """Runtime values the property can take, or a problem description."""
        if isinstance(value, str):
            return [(value, None)]
        name = _edge.ref_target(value)
        if name is None or not isinstance(parameters, dict) or not isinstance(parameters.get(name), dict):
            return []  # other intrinsic functions are not evaluated
        parameter = parameters[name]
        allowed = parameter.get("AllowedValues")
        if isinstance(allowed, list) and allowed:
            values = list(allowed)
            if "Default" in parameter:
                values.append(parameter["Default"])
            return [(v, None) for v in values]
        return [(None, f"Runtime parameter {name} must have AllowedValues limited to edge runtimes")]
