"""Good and bad templates for E9108 (edge-function log groups in every linted edge-cache region)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from templates.config import REGIONAL_EDGE_CACHE_REGIONS
from templates.lint_rules import _edge

from .edge_lint_cases import LOG_GROUP_RULE, edge_role, edge_findings, function, template

IS_EDGE_REGION = {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
ONE_ACCOUNT = {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "111111111111"]}
NAME = "/shop/prod/lambda-edge/viewer-request"
DEFAULT_NAME = "/aws/lambda/us-east-1.shop-prod-viewer-request"
FUNCTION_PROPS = "Resources/EdgeFunction/Properties"
CUSTOM = f"{FUNCTION_PROPS}/LoggingConfig/LogGroup"


def log_group(name: Any = NAME, retention: int | None = 30, condition: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"LogGroupName": name}
    if retention is not None:
        properties["RetentionInDays"] = retention
    group: dict[str, Any] = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
                             "UpdateReplacePolicy": "Retain", "Properties": properties}
    if condition:
        group["Condition"] = condition
    return group


def edge_stack(group: dict[str, Any] | None = None, regions: list[str] | None = None, conditions: dict | None = None,
               **function_props: Any) -> dict[str, Any]:
    """A lambda_edge-like template: the function in us-east-1 (Condition), a log group, Rules
    admitting ``regions`` (none: no Rules). ``function_props`` default to LoggingConfig Ref LogGroup."""
    function_props.setdefault("LoggingConfig", {"LogGroup": {"Ref": "LogGroup"}})
    edge_function = function(**function_props)
    edge_function["Condition"] = "IsEdgeRegion"
    role = edge_role()
    role["Condition"] = "IsEdgeRegion"
    resources: dict[str, Any] = {"EdgeRole": role, "EdgeFunction": edge_function}
    if group is not None:
        resources["LogGroup"] = group
    sections: dict[str, Any] = {"Conditions": {"IsEdgeRegion": IS_EDGE_REGION, **(conditions or {})}}
    if regions is not None:
        sections["Rules"] = {"EdgeLogRegion": {"Assertions": [{
            "Assert": {"Fn::Contains": [regions, {"Ref": "AWS::Region"}]}, "AssertDescription": "log regions"}]}}
    return template(resources, pinned=False, **sections)


THREE = ["us-east-1", "us-west-2", "eu-west-1"]

GOOD: list[tuple[str, dict[str, Any], list[str]]] = [
    ("Ref to an unconditional log group", edge_stack(log_group()), THREE),
    ("Rules admitting exactly the linted regions", edge_stack(log_group(), regions=THREE), THREE),
    ("custom name as a string", edge_stack(log_group(), LoggingConfig={"LogGroup": NAME}), THREE),
    (
        "custom name as an Fn::Sub",
        edge_stack(log_group({"Fn::Sub": "/shop/${AWS::Region}/x"}),
                   LoggingConfig={"LogGroup": {"Fn::Sub": "/shop/${AWS::Region}/x"}}),
        THREE,
    ),
    (
        "default name from the FunctionName",
        edge_stack(log_group(DEFAULT_NAME), FunctionName="shop-prod-viewer-request", LoggingConfig=None),
        THREE,
    ),
    (
        "custom name equal to /aws/lambda/<function> gets the us-east-1 prefix",
        edge_stack(log_group(DEFAULT_NAME), FunctionName="shop-prod-viewer-request",
                   LoggingConfig={"LogGroup": "/aws/lambda/shop-prod-viewer-request"}),
        THREE,
    ),
    (
        "log group under a condition true in every linted region",
        edge_stack(log_group(condition="InLogRegion"), conditions={"InLogRegion": {"Fn::Or": [
            {"Fn::Equals": [{"Ref": "AWS::Region"}, r]} for r in THREE]}}),
        THREE,
    ),
    (
        "per-region log groups, each guarded to its region",
        {**edge_stack(LoggingConfig={"LogGroup": NAME}), "Resources": {
            **edge_stack(LoggingConfig={"LogGroup": NAME})["Resources"],
            "LogGroupEast": log_group(condition="InEast"),
            "LogGroupWest": log_group(condition="InWest"),
        }, "Conditions": {"IsEdgeRegion": IS_EDGE_REGION, "InEast": IS_EDGE_REGION,
                          "InWest": {"Fn::Equals": ["us-west-2", {"Ref": "AWS::Region"}]}}},
        ["us-east-1", "us-west-2"],
    ),
    # A region where Lambda@Edge never runs (no regional edge cache) needs no log group.
    ("only us-east-1 and a non-edge-cache region linted", edge_stack(log_group(condition="IsEdgeRegion")),
     ["us-east-1", "ca-central-1"]),
    ("a template without edge functions", template({"LogGroup": log_group()}, pinned=False), THREE),
]


def _custom_ref_to_missing() -> dict[str, Any]:
    body = edge_stack(log_group())
    body["Resources"]["EdgeFunction"]["Properties"]["LoggingConfig"] = {"LogGroup": {"Ref": "Elsewhere"}}
    body["Parameters"] = {"Elsewhere": {"Type": "String"}}
    return body


BAD: list[tuple[str, dict[str, Any], list[str], set[str]]] = [
    ("no log group at all, default name", edge_stack(None, FunctionName="f", LoggingConfig=None), THREE,
     {"Resources/EdgeFunction"}),
    ("log group only in us-east-1", edge_stack(log_group(condition="IsEdgeRegion")), THREE, {CUSTOM}),
    ("log group without retention", edge_stack(log_group(retention=None)), THREE, {"Resources/LogGroup/Properties"}),
    (
        "Rules pinning the template to us-east-1",
        template({"EdgeRole": edge_role(), "EdgeFunction": function(LoggingConfig={"LogGroup": {"Ref": "LogGroup"}}),
                  "LogGroup": log_group()}),
        ["us-east-1", "us-west-2"],
        {CUSTOM},
    ),
    ("Rules leaving out a linted edge-cache region", edge_stack(log_group(), regions=["us-east-1", "us-west-2"]),
     THREE, {CUSTOM}),
    (
        "log group whose condition also depends on the account",
        edge_stack(log_group(condition="ForOneAccount"), conditions={"ForOneAccount": ONE_ACCOUNT}),
        ["us-east-1"],
        {CUSTOM},
    ),
    ("log group of another name", edge_stack(log_group("/shop/prod/other"), LoggingConfig={"LogGroup": NAME}),
     THREE, {CUSTOM}),
    ("no FunctionName and no LoggingConfig", edge_stack(None, LoggingConfig=None), THREE, {FUNCTION_PROPS}),
    ("LoggingConfig.LogGroup refers to a parameter", _custom_ref_to_missing(), THREE, {CUSTOM}),
    ("custom name beginning with aws/", edge_stack(log_group("aws/shop"), LoggingConfig={"LogGroup": "aws/shop"}),
     THREE, {CUSTOM}),
]


@pytest.mark.parametrize(("body", "regions"), [case[1:] for case in GOOD], ids=[case[0] for case in GOOD])
def test_edge_functions_with_their_log_groups_pass(body: dict[str, Any], regions: list[str]) -> None:
    assert edge_findings(body, regions, rules=(LOG_GROUP_RULE,)) == set()


@pytest.mark.parametrize(("body", "regions", "paths"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_missing_log_groups_fail_on_the_function_or_group(body: dict[str, Any], regions: list[str], paths: set[str]) -> None:
    assert edge_findings(body, regions, rules=(LOG_GROUP_RULE,)) == {(LOG_GROUP_RULE, p) for p in paths}


def test_the_message_names_the_regions_without_the_log_group() -> None:
    from .edge_lint_cases import lint

    messages = [m.message for m in lint(edge_stack(log_group(condition="IsEdgeRegion")), THREE)
                if m.rule.id == LOG_GROUP_RULE]
    assert len(messages) == 1
    assert "does not create it in us-west-2, eu-west-1" in messages[0]
    assert "without retention or encryption" in messages[0]


def test_every_region_of_the_lint_run_counts() -> None:
    """The generated lambda_edge template covers each edge log region; drop one and the rule names it."""
    body = edge_stack(log_group(condition="InLogRegion"), conditions={"InLogRegion": {"Fn::Or": [
        {"Fn::Equals": [{"Ref": "AWS::Region"}, r]} for r in REGIONAL_EDGE_CACHE_REGIONS if r != "sa-east-1"]}})
    assert edge_findings(body, list(REGIONAL_EDGE_CACHE_REGIONS), rules=(LOG_GROUP_RULE,)) == {(LOG_GROUP_RULE, CUSTOM)}
    assert edge_findings(body, [r for r in REGIONAL_EDGE_CACHE_REGIONS if r != "sa-east-1"],
                         rules=(LOG_GROUP_RULE,)) == set()


def test_the_rules_copy_of_the_edge_cache_regions_matches_the_configuration() -> None:
    assert _edge.REGIONAL_EDGE_CACHE_REGIONS == REGIONAL_EDGE_CACHE_REGIONS


def test_original_fixture_is_not_modified_by_the_builders() -> None:
    first = edge_stack(log_group())
    second = copy.deepcopy(first)
    edge_findings(first, THREE, rules=(LOG_GROUP_RULE,))
    assert first == second
