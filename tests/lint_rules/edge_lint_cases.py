"""Builders of small CloudFormation templates and a runner for the edge lint-rule tests."""

from __future__ import annotations

import copy
import json
from typing import Any

from templates.lint_rules import RULE_IDS, lint_template

BOTH_REGIONS: list[str] = ["us-east-1", "us-west-2"]

Found = set[tuple[str, str]]
"""(rule id, "/"-joined path) of the findings of the edge rules."""

EDGE_TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}

REGION_RULE: dict[str, Any] = {
    "EdgeRegionOnly": {
        "Assertions": [
            {
                "Assert": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                "AssertDescription": "Edge resources must be deployed in us-east-1",
            }
        ]
    }
}

CODE = "def handler(event, context):\n    return event['Records'][0]['cf']['request']\n"


def edge_role() -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": copy.deepcopy(EDGE_TRUST),
            "ManagedPolicyArns": [
                {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
            ],
        },
    }


def function(
    event_type: str | None = "viewer-request",
    role: str | None = "EdgeRole",
    metadata: dict[str, Any] | None = None,
    **props: Any,
) -> dict[str, Any]:
    """A Lambda function (an edge function with the defaults); ``props`` override properties."""
    properties: dict[str, Any] = {
        "Runtime": "python3.12",
        "Handler": "index.handler",
        "Code": {"ZipFile": CODE},
        "MemorySize": 128,
        "Timeout": 5,
    }
    if role is not None:
        properties["Role"] = {"Fn::GetAtt": [role, "Arn"]}
    else:
        properties["Role"] = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/plain"}
    for key, value in props.items():
        if value is None:
            properties.pop(key, None)
        else:
            properties[key] = value
    resource: dict[str, Any] = {"Type": "AWS::Lambda::Function", "Properties": properties}
    meta = dict(metadata or {})
    if event_type is not None:
        meta["EdgeEventType"] = event_type
    if meta:
        resource["Metadata"] = meta
    return resource


def version(function_name: str = "EdgeFunction", **props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Version",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {"FunctionName": {"Ref": function_name}, **props},
    }


def association(arn: Any, event_type: str = "viewer-request") -> dict[str, Any]:
    return {"EventType": event_type, "LambdaFunctionARN": arn}


def distribution(
    associations: list[dict[str, Any]] | None = None,
    cache_behavior_associations: list[dict[str, Any]] | None = None,
    certificate: Any = None,
) -> dict[str, Any]:
    default_behavior: dict[str, Any] = {
        "TargetOriginId": "origin",
        "ViewerProtocolPolicy": "redirect-to-https",
        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
    }
    if associations is not None:
        default_behavior["LambdaFunctionAssociations"] = associations
    config: dict[str, Any] = {
        "Enabled": True,
        "Origins": [{"Id": "origin", "DomainName": "example.com", "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"}}],
        "DefaultCacheBehavior": default_behavior,
    }
    if cache_behavior_associations is not None:
        config["CacheBehaviors"] = [
            {**default_behavior, "PathPattern": "/api/*", "LambdaFunctionAssociations": cache_behavior_associations}
        ]
    if certificate is not None:
        config["ViewerCertificate"] = {
            "AcmCertificateArn": certificate,
            "SslSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021",
        }
    return {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": config}}


def template(resources: dict[str, Any], pinned: bool = True, **sections: Any) -> dict[str, Any]:
    """A template; ``pinned`` adds a Rules assertion pinning the region to us-east-1."""
    body: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09"}
    if pinned:
        body["Rules"] = copy.deepcopy(REGION_RULE)
    body.update(sections)
    body["Resources"] = resources
    return body


def edge_template(**function_props: Any) -> dict[str, Any]:
    """Role + edge function (viewer-request) in a region-pinned template."""
    return template({"EdgeRole": edge_role(), "EdgeFunction": function(**function_props)})


def lint(body: dict[str, Any] | str, regions: list[str] | None = None) -> list[Any]:
    text = body if isinstance(body, str) else json.dumps(body, indent=2)
    return lint_template(text, regions or BOTH_REGIONS)


LOG_GROUP_RULE = "E9108"
FUNCTION_RULES: frozenset[str] = frozenset(RULE_IDS) - {LOG_GROUP_RULE}
"""The edge rules whose fixtures leave log groups out (E9108 has its own tables)."""


def edge_findings(body: dict[str, Any] | str, regions: list[str] | None = None,
                  rules: frozenset[str] | tuple[str, ...] = FUNCTION_RULES) -> Found:
    """Findings of the edge rules ``rules`` only, as (rule id, path string).

    A rule that raises shows up as cfn-lint's E0002 (rule error), which would make a
    good case pass silently: it fails the test instead.
    """
    matches = lint(body, regions)
    crashes = [m.message for m in matches if m.rule.id == "E0002"]
    assert not crashes, crashes
    return {
        (m.rule.id, "/".join(str(p) for p in getattr(m, "path", [])))
        for m in matches
        if m.rule.id in rules
    }
