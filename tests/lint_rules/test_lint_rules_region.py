"""Good and bad templates for E9106 (edge-only resources guarded to us-east-1)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .edge_lint_cases import association, distribution, edge_findings, edge_role, function, template, version

REGION_EQUALS = {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
REGION_EQUALS_REVERSED = {"Fn::Equals": ["us-east-1", {"Ref": "AWS::Region"}]}
IS_PROD = {"Fn::Equals": [{"Ref": "Environment"}, "prod"]}
ENVIRONMENT = {"Environment": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]}}


def web_acl(scope: Any = "CLOUDFRONT") -> dict[str, Any]:
    return {
        "Type": "AWS::WAFv2::WebACL",
        "Properties": {
            "Name": "edge-acl",
            "Scope": scope,
            "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "edge"},
        },
    }


def ip_set() -> dict[str, Any]:
    return {
        "Type": "AWS::WAFv2::IPSet",
        "Properties": {"Name": "blocked", "Scope": "CLOUDFRONT", "IPAddressVersion": "IPV4", "Addresses": ["192.0.2.0/24"]},
    }


def certificate() -> dict[str, Any]:
    return {
        "Type": "AWS::CertificateManager::Certificate",
        "Properties": {"DomainName": "www.example.com", "ValidationMethod": "DNS"},
    }


def alarm(namespace: str = "AWS/CloudFront") -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Namespace": namespace,
            "MetricName": "5xxErrorRate",
            "Dimensions": [{"Name": "DistributionId", "Value": "E123"}, {"Name": "Region", "Value": "Global"}],
            "Statistic": "Average",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 5,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    }


def math_alarm() -> dict[str, Any]:
    metric = {
        "Namespace": "AWS/CloudFront",
        "MetricName": "Requests",
        "Dimensions": [{"Name": "DistributionId", "Value": "E123"}, {"Name": "Region", "Value": "Global"}],
    }
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Metrics": [
                {"Id": "requests", "MetricStat": {"Metric": metric, "Period": 300, "Stat": "Sum"}, "ReturnData": False},
                {"Id": "high", "Expression": "requests / 300", "ReturnData": True},
            ],
            "EvaluationPeriods": 1,
            "Threshold": 1000,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    }


def edge_function() -> dict[str, Any]:
    return {"EdgeRole": edge_role(), "EdgeFunction": function()}


def guarded(resources: dict[str, Any], condition: Any, name: str = "IsEdgeRegion", **conditions: Any) -> dict[str, Any]:
    """Every resource gets ``Condition: <name>``, defined as ``condition``."""
    resources = copy.deepcopy(resources)
    for resource in resources.values():
        resource["Condition"] = name
    return template(resources, pinned=False, Conditions={name: condition, **conditions}, Parameters=ENVIRONMENT)


def rules(assertion: Any, **rule: Any) -> dict[str, Any]:
    return {"EdgeRegion": {**rule, "Assertions": [{"Assert": assertion, "AssertDescription": "us-east-1 only"}]}}


def unpinned(resources: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return template(resources, pinned=False, **sections)


def with_distribution(resources: dict[str, Any]) -> dict[str, Any]:
    return {**resources, "Distribution": distribution(certificate={"Ref": "Certificate"})}


GOOD: list[tuple[str, dict[str, Any], list[str]]] = [
    ("Rules Fn::Equals", unpinned(edge_function(), Rules=rules(REGION_EQUALS)), ["us-east-1", "us-west-2"]),
    ("Rules Fn::Equals reversed", unpinned({"Acl": web_acl()}, Rules=rules(REGION_EQUALS_REVERSED)), ["us-east-1", "us-west-2"]),
    (
        "Rules Fn::Contains",
        unpinned({"Acl": web_acl()}, Rules=rules({"Fn::Contains": [["us-east-1"], {"Ref": "AWS::Region"}]})),
        ["us-east-1", "us-west-2"],
    ),
    (
        "Rules Fn::And with the region",
        unpinned(
            {"Alarm": alarm()},
            Parameters=ENVIRONMENT,
            Rules=rules({"Fn::And": [REGION_EQUALS, {"Fn::Contains": [["dev", "prod"], {"Ref": "Environment"}]}]}),
        ),
        ["us-east-1", "us-west-2"],
    ),
    ("Condition Fn::Equals", guarded(edge_function(), REGION_EQUALS), ["us-east-1", "us-west-2"]),
    ("Condition Fn::Equals reversed", guarded({"Acl": web_acl()}, REGION_EQUALS_REVERSED), ["us-east-1", "us-west-2"]),
    ("Condition Fn::And", guarded({"Alarm": math_alarm()}, {"Fn::And": [IS_PROD, REGION_EQUALS]}), ["us-east-1", "us-west-2"]),
    (
        "Condition referring to a region condition",
        guarded({"Set": ip_set()}, {"Fn::And": [IS_PROD, {"Condition": "InEdgeRegion"}]}, InEdgeRegion=REGION_EQUALS),
        ["us-east-1", "us-west-2"],
    ),
    ("only us-east-1 linted", unpinned({**edge_function(), "Acl": web_acl(), "Alarm": alarm()}), ["us-east-1"]),
    ("REGIONAL web ACL", unpinned({"Acl": web_acl("REGIONAL")}), ["us-east-1", "us-west-2"]),
    ("alarm on another namespace", unpinned({"Alarm": alarm("AWS/DynamoDB")}), ["us-east-1", "us-west-2"]),
    ("certificate without a distribution", unpinned({"Certificate": certificate()}), ["us-east-1", "us-west-2"]),
    ("non-edge function", unpinned({"Plain": function(event_type=None, role=None)}), ["us-east-1", "us-west-2"]),
]

BAD: list[tuple[str, dict[str, Any], set[str]]] = [
    ("edge function", unpinned(edge_function()), {"Resources/EdgeFunction"}),
    (
        "edge function found through its association",
        unpinned(
            {
                "EdgeFunction": function(event_type=None, role=None),
                "EdgeVersion": version(),
                "Distribution": distribution([association({"Ref": "EdgeVersion"})]),
            }
        ),
        {"Resources/EdgeFunction"},
    ),
    ("CLOUDFRONT web ACL", unpinned({"Acl": web_acl()}), {"Resources/Acl"}),
    (
        "CLOUDFRONT web ACL in an Fn::If branch",
        unpinned(
            {"Acl": web_acl({"Fn::If": ["IsProd", "CLOUDFRONT", "REGIONAL"]})},
            Conditions={"IsProd": IS_PROD},
            Parameters=ENVIRONMENT,
        ),
        {"Resources/Acl"},
    ),
    ("CLOUDFRONT IP set", unpinned({"Set": ip_set()}), {"Resources/Set"}),
    ("distribution certificate", unpinned(with_distribution({"Certificate": certificate()})), {"Resources/Certificate"}),
    ("CloudFront alarm", unpinned({"Alarm": alarm()}), {"Resources/Alarm"}),
    ("CloudFront metric-math alarm", unpinned({"Alarm": math_alarm()}), {"Resources/Alarm"}),
    (
        "Metadata EdgeOnly",
        unpinned({"Topic": {"Type": "AWS::SNS::Topic", "Metadata": {"EdgeOnly": True}, "Properties": {}}}),
        {"Resources/Topic"},
    ),
    ("Condition on something else", guarded({"Acl": web_acl()}, IS_PROD), {"Resources/Acl"}),
    ("Condition Fn::Or with the region", guarded({"Acl": web_acl()}, {"Fn::Or": [IS_PROD, REGION_EQUALS]}), {"Resources/Acl"}),
    ("Condition Fn::Not of the region", guarded({"Acl": web_acl()}, {"Fn::Not": [REGION_EQUALS]}), {"Resources/Acl"}),
    (
        "Rules pinning another region",
        unpinned({"Acl": web_acl()}, Rules=rules({"Fn::Equals": [{"Ref": "AWS::Region"}, "us-west-2"]})),
        {"Resources/Acl"},
    ),
    (
        "Rules assertion behind a RuleCondition",
        unpinned(
            {"Acl": web_acl()},
            Parameters=ENVIRONMENT,
            Rules=rules(REGION_EQUALS, RuleCondition={"Fn::Equals": [{"Ref": "Environment"}, "prod"]}),
        ),
        {"Resources/Acl"},
    ),
    (
        "several at once",
        unpinned(with_distribution({**edge_function(), "Acl": web_acl(), "Certificate": certificate(), "Alarm": alarm()})),
        {"Resources/EdgeFunction", "Resources/Acl", "Resources/Certificate", "Resources/Alarm"},
    ),
]


@pytest.mark.parametrize(("body", "regions"), [case[1:] for case in GOOD], ids=[case[0] for case in GOOD])
def test_guarded_or_regional_resources_pass(body: dict[str, Any], regions: list[str]) -> None:
    assert edge_findings(body, regions) == set()


@pytest.mark.parametrize(("body", "paths"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_unguarded_edge_only_resources_fail_on_the_resource(body: dict[str, Any], paths: set[str]) -> None:
    assert edge_findings(body) == {("E9106", path) for path in paths}


def test_only_a_non_edge_region_also_fails() -> None:
    assert edge_findings(unpinned({"Acl": web_acl()}), ["eu-west-1"]) == {("E9106", "Resources/Acl")}
