"""E9101: an edge function uses a Lambda feature that Lambda@Edge does not support.

Lambda@Edge rejects functions with environment variables, a VPC configuration,
layers, a dead-letter queue, active X-Ray tracing, reserved concurrency,
provisioned concurrency (on a Version or Alias of the function), a container
image package, or a runtime management mode other than Auto. Edge functions are
found as described in ``_edge.py`` (edge-trusting role, association by a
distribution in the template, or ``Metadata.EdgeEventType``). A property whose value
is ``Ref AWS::NoValue`` (in every ``Fn::If`` branch) counts as absent.
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

_UNSUPPORTED: dict[str, str] = {
    "Environment": "environment variables",
    "VpcConfig": "a VPC configuration",
    "Layers": "layers",
    "DeadLetterConfig": "a dead-letter queue",
    "ReservedConcurrentExecutions": "reserved concurrency",
}


class EdgeFunctionUnsupportedFeatures(CloudFormationLintRule):
    """Edge functions must not use features Lambda@Edge does not support."""

    id = "E9101"
    shortdesc = "Lambda@Edge function uses an unsupported feature"
    description = (
        "Lambda@Edge functions cannot have environment variables, VpcConfig, Layers, "
        "DeadLetterConfig, active X-Ray tracing, reserved or provisioned concurrency, "
        "PackageType Image, or RuntimeManagementConfig other than Auto"
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html"
    tags = ["resources", "lambda", "cloudfront", "edge"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        functions = _edge.edge_functions(cfn.template)
        for function in functions.values():
            props = function.properties
            base = function.properties_path
            for key, what in _UNSUPPORTED.items():
                if any(True for _ in _edge.branches(props.get(key), [])):
                    matches.append(RuleMatch([*base, key], f"Lambda@Edge function {function.name} must not have {what} ({key})"))
            for tracing, path in _edge.branches(props.get("TracingConfig"), [*base, "TracingConfig"]):
                if isinstance(tracing, dict) and tracing.get("Mode") == "Active":
                    matches.append(RuleMatch([*path, "Mode"], f"Lambda@Edge function {function.name} does not support X-Ray tracing (TracingConfig.Mode Active)"))
            for runtime_management, path in _edge.branches(props.get("RuntimeManagementConfig"), [*base, "RuntimeManagementConfig"]):
                mode = runtime_management.get("UpdateRuntimeOn") if isinstance(runtime_management, dict) else None
                if mode not in (None, "Auto"):
                    matches.append(RuleMatch([*path, "UpdateRuntimeOn"], f"Lambda@Edge function {function.name} only supports runtime management mode Auto, not {mode!r}"))
            for package_type, path in _edge.branches(props.get("PackageType"), [*base, "PackageType"]):
                if package_type == "Image":
                    matches.append(RuleMatch(path, f"Lambda@Edge function {function.name} cannot be a container image (PackageType Image)"))

        for name, resource in _edge.resources(cfn.template).items():
            if _edge.resource_type(resource) not in (_edge.LAMBDA_VERSION, _edge.LAMBDA_ALIAS):
                continue
            props = _edge.properties(resource)
            target = _edge.function_of(cfn.template, props.get("FunctionName"))
            if target in functions and any(True for _ in _edge.branches(props.get("ProvisionedConcurrencyConfig"), [])):
                matches.append(RuleMatch(
                    ["Resources", name, "Properties", "ProvisionedConcurrencyConfig"],
                    f"{name} sets provisioned concurrency on Lambda@Edge function {target}, which is not supported",
                ))
        return matches
