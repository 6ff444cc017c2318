"""E9107: an edge function's ``Metadata.EdgeEventType`` must be valid and consistent.

Convention for builders: every edge function carries
``Metadata: {"EdgeEventType": "<event type>"}`` with one of ``viewer-request``,
``viewer-response``, ``origin-request``, ``origin-response`` (a single string),
because the CloudFront association usually lives in another nested template and the
trigger limits (E9104) depend on it. When a distribution in the same template
associates the function, the metadata must name one of the associated event types.
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


class EdgeEventTypeMetadata(CloudFormationLintRule):
    """Metadata.EdgeEventType must be a valid CloudFront event type."""

    id = "E9107"
    shortdesc = "Invalid Metadata.EdgeEventType on a Lambda@Edge function"
    description = (
        "Metadata.EdgeEventType must be one of " + ", ".join(_edge.EVENT_TYPES)
        + " and match the function's association in the same template"
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-cloudfront-trigger-events.html"
    tags = ["resources", "lambda", "cloudfront", "edge", "metadata"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for function in _edge.edge_functions(cfn.template).values():
            value = function.metadata_event_type
            if value is None:
                continue
            path = [*function.path, "Metadata", _edge.METADATA_EVENT_TYPE]
            if value not in _edge.EVENT_TYPES:
                matches.append(RuleMatch(
                    path,
                    f"Metadata {_edge.METADATA_EVENT_TYPE} of {function.name} is {value!r}; "
                    f"expected one of {', '.join(_edge.EVENT_TYPES)}",
                ))
            elif function.associated_event_types and value not in function.associated_event_types:
                matches.append(RuleMatch(
                    path,
                    f"Metadata {_edge.METADATA_EVENT_TYPE} of {function.name} is {value!r} but the distribution "
                    f"associates it as {', '.join(sorted(function.associated_event_types))}",
                ))
        return matches
