"""Good and bad LambdaFunctionARN values for E9105 (numbered version in the association)."""

from __future__ import annotations

from typing import Any

import pytest

from .edge_lint_cases import association, distribution, edge_findings, edge_role, function, template, version

DEFAULT = "Resources/Distribution/Properties/DistributionConfig/DefaultCacheBehavior/LambdaFunctionAssociations/0/LambdaFunctionARN"
BEHAVIOR = "Resources/Distribution/Properties/DistributionConfig/CacheBehaviors/0/LambdaFunctionAssociations/0/LambdaFunctionARN"

ARN = "arn:aws:lambda:us-east-1:123456789012:function:edge-viewer-request"
NUMBERED_PATTERN = r"^arn:aws:lambda:us-east-1:[0-9]{12}:function:[A-Za-z0-9_-]+:[0-9]+$"


def stack(arn: Any, parameters: dict[str, Any] | None = None, in_cache_behavior: bool = False, **extra: Any) -> dict[str, Any]:
    """Edge function, version, alias and a distribution associating ``arn``."""
    resources: dict[str, Any] = {
        "EdgeRole": edge_role(),
        "EdgeFunction": function(),
        "EdgeVersion": version(),
        "EdgeAlias": {
            "Type": "AWS::Lambda::Alias",
            "Properties": {
                "FunctionName": {"Ref": "EdgeFunction"},
                "FunctionVersion": {"Fn::GetAtt": ["EdgeVersion", "Version"]},
                "Name": "live",
            },
        },
        "Distribution": (
            distribution([association({"Ref": "EdgeVersion"})], cache_behavior_associations=[association(arn)])
            if in_cache_behavior
            else distribution([association(arn)])
        ),
        **extra,
    }
    sections: dict[str, Any] = {}
    if parameters:
        sections["Parameters"] = parameters
    return template(resources, **sections)


def parameter(pattern: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"Type": "String", "Default": f"{ARN}:1"}
    if pattern is not None:
        body["AllowedPattern"] = pattern
    return {"VersionArn": body}


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("Ref version", stack({"Ref": "EdgeVersion"})),
    ("GetAtt version FunctionArn", stack({"Fn::GetAtt": ["EdgeVersion", "FunctionArn"]})),
    ("GetAtt version FunctionArn dotted", stack({"Fn::GetAtt": "EdgeVersion.FunctionArn"})),
    ("literal numbered ARN", stack(f"{ARN}:12")),
    ("parameter with numbered pattern", stack({"Ref": "VersionArn"}, parameter(NUMBERED_PATTERN))),
    ("parameter with short numbered pattern", stack({"Ref": "VersionArn"}, parameter(r"^arn:aws:lambda:.+:\d+$"))),
    ("Sub ending in a number", stack({"Fn::Sub": "${EdgeFunction.Arn}:3"})),
    ("Sub ending in the version number", stack({"Fn::Sub": "${EdgeFunction.Arn}:${EdgeVersion.Version}"})),
    ("Join ending in a number", stack({"Fn::Join": [":", [{"Fn::GetAtt": ["EdgeFunction", "Arn"]}, "4"]]})),
    ("Ref version in a cache behavior", stack({"Ref": "EdgeVersion"}, in_cache_behavior=True)),
]

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("Ref function", stack({"Ref": "EdgeFunction"}), DEFAULT),
    ("GetAtt function Arn", stack({"Fn::GetAtt": ["EdgeFunction", "Arn"]}), DEFAULT),
    ("Ref alias", stack({"Ref": "EdgeAlias"}), DEFAULT),
    ("GetAtt version Version (a bare number)", stack({"Fn::GetAtt": ["EdgeVersion", "Version"]}), DEFAULT),
    ("literal $LATEST", stack(f"{ARN}:$LATEST"), DEFAULT),
    ("literal alias", stack(f"{ARN}:live"), DEFAULT),
    ("literal unqualified", stack(ARN), DEFAULT),
    ("parameter without pattern", stack({"Ref": "VersionArn"}, parameter(None)), DEFAULT),
    ("parameter with any-ARN pattern", stack({"Ref": "VersionArn"}, parameter(r"^arn:aws:lambda:.*$")), DEFAULT),
    ("parameter with unanchored pattern", stack({"Ref": "VersionArn"}, parameter(r".*:[0-9]+")), DEFAULT),
    ("parameter pattern allowing aliases", stack({"Ref": "VersionArn"}, parameter(r"^arn:aws:lambda:.+:[A-Za-z0-9]+$")), DEFAULT),
    ("ImportValue", stack({"Fn::ImportValue": "edge-version-arn"}), DEFAULT),
    ("Sub without a version", stack({"Fn::Sub": "${EdgeFunction.Arn}"}), DEFAULT),
    ("Join ending in an alias", stack({"Fn::Join": [":", [{"Fn::GetAtt": ["EdgeFunction", "Arn"]}, "live"]]}), DEFAULT),
    ("Ref function in a cache behavior", stack({"Ref": "EdgeFunction"}, in_cache_behavior=True), BEHAVIOR),
    (
        "Ref function in an Fn::If branch",
        stack({"Fn::If": ["IsMain", {"Ref": "EdgeVersion"}, {"Ref": "EdgeFunction"}]})
        | {"Conditions": {"IsMain": {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "123456789012"]}}},
        f"{DEFAULT}/Fn::If/2",
    ),
]


@pytest.mark.parametrize("body", [case[1] for case in GOOD], ids=[case[0] for case in GOOD])
def test_numbered_versions_pass(body: dict[str, Any]) -> None:
    assert edge_findings(body) == set()


@pytest.mark.parametrize(("body", "path"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_other_values_fail_on_the_arn_path(body: dict[str, Any], path: str) -> None:
    assert edge_findings(body) == {("E9105", path)}
