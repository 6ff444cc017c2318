"""Good and bad templates for the edge-function rules E9101-E9104, E9107 and W9101."""

from __future__ import annotations

from typing import Any

import pytest

from .edge_lint_cases import (
    EDGE_TRUST,
    association,
    distribution,
    edge_findings,
    edge_role,
    edge_template,
    function,
    template,
    version,
)

FN = "Resources/EdgeFunction"
PROPS = f"{FN}/Properties"

ALWAYS_TRUE = {"IsMain": {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "123456789012"]}}


def associated(event_type: str = "viewer-request", **function_args: Any) -> dict[str, Any]:
    """An edge function found only through a distribution association in the template."""
    return template(
        {
            "EdgeFunction": function(event_type=None, role=None, **function_args),
            "EdgeVersion": version(),
            "Distribution": distribution([association({"Ref": "EdgeVersion"}, event_type)]),
        }
    )


def with_version(body: dict[str, Any], **version_props: Any) -> dict[str, Any]:
    body["Resources"]["EdgeVersion"] = version(**version_props)
    return body


def role_only(trust: dict[str, Any] | None = None, **function_args: Any) -> dict[str, Any]:
    """A function whose only edge marker is its role (no metadata, no association)."""
    role = edge_role()
    if trust is not None:
        role["Properties"]["AssumeRolePolicyDocument"] = trust
    return template({"EdgeRole": role, "EdgeFunction": function(event_type=None, **function_args)})


LAMBDA_ONLY_TRUST = {
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
}

GOOD: list[tuple[str, dict[str, Any]]] = [
    ("minimal edge function", edge_template()),
    ("x86_64 architecture", edge_template(Architectures=["x86_64"])),
    ("tracing pass-through", edge_template(TracingConfig={"Mode": "PassThrough"})),
    ("runtime management Auto", edge_template(RuntimeManagementConfig={"UpdateRuntimeOn": "Auto"})),
    ("environment NoValue", edge_template(Environment={"Ref": "AWS::NoValue"})),
    ("python3.13", edge_template(Runtime="python3.13")),
    ("nodejs24.x", edge_template(Runtime="nodejs24.x", Handler="index.handler", Code={"ZipFile": "exports.handler = async (e) => e;"})),
    ("nodejs22.x", edge_template(Runtime="nodejs22.x", Handler="index.handler", Code={"ZipFile": "exports.handler = async (e) => e;"})),
    (
        "runtime parameter limited to edge runtimes",
        template(
            {"EdgeRole": edge_role(), "EdgeFunction": function(Runtime={"Ref": "Runtime"})},
            Parameters={"Runtime": {"Type": "String", "Default": "python3.13", "AllowedValues": ["python3.12", "python3.13"]}},
        ),
    ),
    ("viewer-response at the limits", edge_template(event_type="viewer-response", MemorySize=128, Timeout=5)),
    ("origin-request at the limits", edge_template(event_type="origin-request", MemorySize=10240, Timeout=30)),
    ("origin-response 1 GB 30 s", edge_template(event_type="origin-response", MemorySize="1024", Timeout="30")),
    ("viewer-request defaults", edge_template(MemorySize=None, Timeout=None)),
    ("version without provisioned concurrency", with_version(edge_template())),
    ("found through association", associated()),
    (
        "association names the metadata trigger",
        template(
            {
                "EdgeRole": edge_role(),
                "EdgeFunction": function(event_type="origin-request", Timeout=30),
                "EdgeVersion": version(),
                "Distribution": distribution([association({"Ref": "EdgeVersion"}, "origin-request")]),
            }
        ),
    ),
    (
        "non-edge function may use every feature",
        template(
            {
                "Plain": function(
                    event_type=None,
                    role=None,
                    Runtime="python3.11",
                    Environment={"Variables": {"TABLE": "t"}},
                    Layers=["arn:aws:lambda:us-west-2:123456789012:layer:l:1"],
                    Architectures=["arm64"],
                    TracingConfig={"Mode": "Active"},
                    MemorySize=1024,
                    Timeout=60,
                ),
                "PlainVersion": version(
                    "Plain", ProvisionedConcurrencyConfig={"ProvisionedConcurrentExecutions": 1}
                ),
            }
        ),
    ),
    (
        "role trusting only lambda.amazonaws.com is not an edge role",
        role_only(trust=LAMBDA_ONLY_TRUST, Environment={"Variables": {"A1": "b"}}, Architectures=["arm64"]),
    ),
]

BAD: list[tuple[str, dict[str, Any], set[tuple[str, str]]]] = [
    # E9101 unsupported features
    ("environment", edge_template(Environment={"Variables": {"TABLE": "t"}}), {("E9101", f"{PROPS}/Environment")}),
    (
        "vpc",
        edge_template(VpcConfig={"SubnetIds": ["subnet-12345678"], "SecurityGroupIds": ["sg-12345678"]}),
        {("E9101", f"{PROPS}/VpcConfig")},
    ),
    ("layers", edge_template(Layers=["arn:aws:lambda:us-east-1:123456789012:layer:l:1"]), {("E9101", f"{PROPS}/Layers")}),
    (
        "dead-letter queue",
        edge_template(DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"}),
        {("E9101", f"{PROPS}/DeadLetterConfig")},
    ),
    ("active tracing", edge_template(TracingConfig={"Mode": "Active"}), {("E9101", f"{PROPS}/TracingConfig/Mode")}),
    (
        "runtime management other than Auto",
        edge_template(RuntimeManagementConfig={"UpdateRuntimeOn": "FunctionUpdate"}),
        {("E9101", f"{PROPS}/RuntimeManagementConfig/UpdateRuntimeOn")},
    ),
    ("reserved concurrency", edge_template(ReservedConcurrentExecutions=5), {("E9101", f"{PROPS}/ReservedConcurrentExecutions")}),
    (
        "container image",
        edge_template(PackageType="Image", Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/edge:1"}, Runtime=None, Handler=None),
        {("E9101", f"{PROPS}/PackageType")},
    ),
    (
        "provisioned concurrency on the version",
        with_version(edge_template(), ProvisionedConcurrencyConfig={"ProvisionedConcurrentExecutions": 2}),
        {("E9101", "Resources/EdgeVersion/Properties/ProvisionedConcurrencyConfig")},
    ),
    (
        "environment in one Fn::If branch",
        edge_template(Environment={"Fn::If": ["IsMain", {"Variables": {"A1": "b"}}, {"Ref": "AWS::NoValue"}]})
        | {"Conditions": ALWAYS_TRUE},
        {("E9101", f"{PROPS}/Environment")},
    ),
    (
        "environment on a function found through its association",
        associated(Environment={"Variables": {"TABLE": "t"}}),
        {("E9101", f"{PROPS}/Environment")},
    ),
    (
        "environment on a function found through its role",
        role_only(Environment={"Variables": {"TABLE": "t"}}),
        {("E9101", f"{PROPS}/Environment"), ("W9101", FN)},
    ),
    # E9102 architecture
    ("arm64", edge_template(Architectures=["arm64"]), {("E9102", f"{PROPS}/Architectures")}),
    ("both architectures", edge_template(Architectures=["x86_64", "arm64"]), {("E9102", f"{PROPS}/Architectures")}),
    (
        "arm64 in an Fn::If branch",
        edge_template(Architectures={"Fn::If": ["IsMain", ["x86_64"], ["arm64"]]}) | {"Conditions": ALWAYS_TRUE},
        {("E9102", f"{PROPS}/Architectures/Fn::If/2")},
    ),
    # E9103 runtime
    ("python3.9", edge_template(Runtime="python3.9"), {("E9103", f"{PROPS}/Runtime")}),
    ("python3.10", edge_template(Runtime="python3.10"), {("E9103", f"{PROPS}/Runtime")}),
    ("python3.11", edge_template(Runtime="python3.11"), {("E9103", f"{PROPS}/Runtime")}),
    ("nodejs20.x (deprecated)", edge_template(Runtime="nodejs20.x", Code={"ZipFile": "exports.handler = async (e) => e;"}), {("E9103", f"{PROPS}/Runtime")}),
    ("java21", edge_template(Runtime="java21", Code={"S3Bucket": "b", "S3Key": "k.zip"}), {("E9103", f"{PROPS}/Runtime")}),
    (
        "unconstrained runtime parameter",
        template(
            {"EdgeRole": edge_role(), "EdgeFunction": function(Runtime={"Ref": "Runtime"})},
            Parameters={"Runtime": {"Type": "String", "Default": "python3.12"}},
        ),
        {("E9103", f"{PROPS}/Runtime")},
    ),
    (
        "runtime parameter allowing python3.10",
        template(
            {"EdgeRole": edge_role(), "EdgeFunction": function(Runtime={"Ref": "Runtime"})},
            Parameters={"Runtime": {"Type": "String", "Default": "python3.12", "AllowedValues": ["python3.12", "python3.10"]}},
        ),
        {("E9103", f"{PROPS}/Runtime")},
    ),
    # E9104 trigger limits
    ("viewer-request 256 MB", edge_template(MemorySize=256), {("E9104", f"{PROPS}/MemorySize")}),
    ("viewer-response 6 s", edge_template(event_type="viewer-response", Timeout=6), {("E9104", f"{PROPS}/Timeout")}),
    (
        "viewer-request memory and timeout as strings",
        edge_template(MemorySize="512", Timeout="10"),
        {("E9104", f"{PROPS}/MemorySize"), ("E9104", f"{PROPS}/Timeout")},
    ),
    ("origin-request 31 s", edge_template(event_type="origin-request", Timeout=31), {("E9104", f"{PROPS}/Timeout")}),
    (
        "viewer memory from a parameter default",
        template(
            {"EdgeRole": edge_role(), "EdgeFunction": function(MemorySize={"Ref": "Memory"})},
            Parameters={"Memory": {"Type": "Number", "Default": 256}},
        ),
        {("E9104", f"{PROPS}/MemorySize")},
    ),
    (
        "viewer trigger from the association",
        associated(MemorySize=512),
        {("E9104", f"{PROPS}/MemorySize")},
    ),
    # E9107 metadata
    ("misspelt event type", edge_template(event_type="viewer_request"), {("E9107", f"{FN}/Metadata/EdgeEventType")}),
    ("capitalised event type", edge_template(event_type="Viewer-Request"), {("E9107", f"{FN}/Metadata/EdgeEventType")}),
    (
        "metadata says origin, association says viewer",
        template(
            {
                "EdgeRole": edge_role(),
                "EdgeFunction": function(event_type="origin-request", Timeout=10),
                "EdgeVersion": version(),
                "Distribution": distribution([association({"Ref": "EdgeVersion"}, "viewer-request")]),
            }
        ),
        {("E9107", f"{FN}/Metadata/EdgeEventType"), ("E9104", f"{PROPS}/Timeout")},
    ),
    # W9101 unknown trigger
    ("edge role, no metadata, no association", role_only(), {("W9101", FN)}),
]


@pytest.mark.parametrize("body", [case[1] for case in GOOD], ids=[case[0] for case in GOOD])
def test_good_templates_have_no_edge_findings(body: dict[str, Any]) -> None:
    assert edge_findings(body) == set()


@pytest.mark.parametrize(
    ("body", "expected"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_bad_templates_report_the_rule_on_the_path(body: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert edge_findings(body) == expected


def test_trust_policy_as_single_statement_marks_an_edge_role() -> None:
    trust = {**EDGE_TRUST, "Statement": EDGE_TRUST["Statement"][0]}
    assert edge_findings(role_only(trust=trust)) == {("W9101", FN)}
