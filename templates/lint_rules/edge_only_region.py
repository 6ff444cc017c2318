"""E9106: an edge-only resource must not be created outside us-east-1.

cfn-lint runs every template for us-east-1 and for the primary region. Edge-only
resources are:

* edge functions (see ``_edge.py``: edge-trusting role, associated by a distribution
  in the template, or ``Metadata.EdgeEventType``);
* ``AWS::WAFv2::WebACL`` (and ``IPSet``, ``RegexPatternSet``, ``RuleGroup``) with
  ``Scope: CLOUDFRONT``;
* ``AWS::CertificateManager::Certificate`` in a template that has an
  ``AWS::CloudFront::Distribution`` (which covers a certificate referenced by a
  distribution's ``ViewerCertificate.AcmCertificateArn``);
* ``AWS::CloudWatch::Alarm`` on the ``AWS/CloudFront`` namespace, directly or in
  ``Metrics[*].MetricStat.Metric.Namespace`` (metric-math alarms);
* any resource whose Metadata has ``EdgeOnly: true`` (builders use it for a
  certificate outside the distribution's template, alarms on CLOUDFRONT-scope WAF
  metrics, and the like).

Such a resource is accepted when the template's ``Rules`` pin ``AWS::Region`` to
us-east-1, or when the resource's ``Condition`` is ``Fn::Equals [Ref AWS::Region,
"us-east-1"]`` (either order, possibly inside ``Fn::And`` or through a
``{"Condition": ...}`` reference); see ``_edge.py``. Otherwise it is reported, on
the resource path, whenever a linted region is not us-east-1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

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

_WAF_SCOPED = ("AWS::WAFv2::WebACL", "AWS::WAFv2::IPSet", "AWS::WAFv2::RegexPatternSet", "AWS::WAFv2::RuleGroup")
_CLOUDFRONT_NAMESPACE = "AWS/CloudFront"


class EdgeOnlyRegion(CloudFormationLintRule):
    """Edge-only resources must be guarded to us-east-1."""

    id = "E9106"
    shortdesc = "Edge-only resource can be created outside us-east-1"
    description = (
        "Lambda@Edge functions, CLOUDFRONT-scope WAF resources, CloudFront certificates and "
        "alarms on AWS/CloudFront metrics only work in us-east-1: pin the template's region with "
        "a Rules assertion or give the resource a Condition on AWS::Region equal to us-east-1"
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html"
    tags = ["resources", "cloudfront", "edge", "regions"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        other_regions = [r for r in cfn.regions if r != _edge.EDGE_REGION]
        if not other_regions or _edge.template_pins_edge_region(cfn.template):
            return []
        matches: list[RuleMatch] = []
        all_resources = _edge.resources(cfn.template)
        for name, what in edge_only_resources(cfn.template).items():
            if _edge.resource_pins_edge_region(cfn.template, all_resources[name]):
                continue
            matches.append(RuleMatch(
                ["Resources", name],
                f"{name} ({what}) must only be created in {_edge.EDGE_REGION}, but this template is linted "
                f"for {', '.join(other_regions)}: add a Rules assertion pinning AWS::Region to "
                f"{_edge.EDGE_REGION} or a Condition Fn::Equals [Ref AWS::Region, {_edge.EDGE_REGION}]",
            ))
        return matches


def edge_only_resources(template: Mapping[str, Any]) -> dict[str, str]:
    """Edge-only resources by logical id, with what makes them edge-only."""
    all_resources = _edge.resources(template)
    has_distribution = any(_edge.resource_type(r) == _edge.DISTRIBUTION for r in all_resources.values())
    found: dict[str, str] = {name: "Lambda@Edge function" for name in _edge.edge_functions(template)}
    for name, resource in all_resources.items():
        if name in found:
            continue
        kind = _edge.resource_type(resource)
        props = _edge.properties(resource)
        if _edge.metadata(resource).get(_edge.METADATA_EDGE_ONLY) is True:
            found[name] = f"Metadata {_edge.METADATA_EDGE_ONLY}"
        elif kind in _WAF_SCOPED and any(v == "CLOUDFRONT" for v, _ in _edge.branches(props.get("Scope"), [])):
            found[name] = f"{kind} with Scope CLOUDFRONT"
        elif kind == "AWS::CertificateManager::Certificate" and has_distribution:
            found[name] = "certificate of a CloudFront distribution"
        elif kind == "AWS::CloudWatch::Alarm" and _alarm_on_cloudfront(props):
            found[name] = f"alarm on {_CLOUDFRONT_NAMESPACE} metrics"
    return found


def _alarm_on_cloudfront(props: Mapping[str, Any]) -> bool:
    if props.get("Namespace") == _CLOUDFRONT_NAMESPACE:
        return True
    metrics = props.get("Metrics")
    if not isinstance(metrics, list):
        return False
    for query in metrics:
        stat = query.get("MetricStat") if isinstance(query, dict) else None
        metric = stat.get("Metric") if isinstance(stat, dict) else None
        if isinstance(metric, dict) and metric.get("Namespace") == _CLOUDFRONT_NAMESPACE:
            return True
    return False
