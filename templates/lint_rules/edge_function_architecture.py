"""E9102: an edge function must run on x86_64.

Lambda@Edge does not support arm64. ``Architectures`` must be absent (the default is
x86_64) or exactly ``["x86_64"]``. Edge functions are found as described in ``_edge.py``.
"""

from __future__ import annotations

from pathlib import Path

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


class EdgeFunctionArchitecture(CloudFormationLintRule):
    """Edge functions must use the x86_64 architecture."""

    id = "E9102"
    shortdesc = "Lambda@Edge function must use x86_64"
    description = "Architectures of a Lambda@Edge function must be absent or exactly [x86_64]"
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html"
    tags = ["resources", "lambda", "cloudfront", "edge"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for function in _edge.edge_functions(cfn.template).values():
            base = [*function.properties_path, "Architectures"]
            for value, path in _edge.branches(function.properties.get("Architectures"), base):
                if value != ["x86_64"]:
                    matches.append(RuleMatch(
                        path,
                        f"Lambda@Edge function {function.name} must have Architectures absent or [x86_64], not {value!r}",
                    ))
        return matches
