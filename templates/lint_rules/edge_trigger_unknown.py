"""W9101: an edge function's CloudFront trigger is unknown.

An edge function found through its role (or another way) that has no
``Metadata.EdgeEventType`` and no association in the same template cannot have its
trigger limits checked (E9104). Builders set ``Metadata.EdgeEventType`` on every
edge function.
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


class EdgeTriggerUnknown(CloudFormationLintRule):
    """Edge functions should declare their trigger in Metadata.EdgeEventType."""

    id = "W9101"
    shortdesc = "Lambda@Edge function without a known trigger"
    description = (
        "Set Metadata.EdgeEventType on each edge function (viewer-request, viewer-response, "
        "origin-request or origin-response) so its memory and timeout limits can be checked"
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-cloudfront-trigger-events.html"
    tags = ["resources", "lambda", "cloudfront", "edge", "metadata"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for function in _edge.edge_functions(cfn.template).values():
            if function.metadata_event_type is None and not function.associated_event_types:
                matches.append(RuleMatch(
                    function.path,
                    f"Lambda@Edge function {function.name} ({'; '.join(function.reasons)}) has no "
                    f"Metadata {_edge.METADATA_EVENT_TYPE} and no association in this template",
                ))
        return matches
