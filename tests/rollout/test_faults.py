"""Faults moto cannot produce, driven with botocore's Stubber: what the user sees and the exit status."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

import deploy
from rollout import cli, naming
from rollout.aws import THROTTLE_ATTEMPTS
from rollout.deployer import stack_set_parameters, stack_set_tags
from rollout.inputs import TemplateSet
from rollout.stackset import StackSetOps
from rollout_support import StubbedClients, console_and_buffer, real_set, stub_bootstrapped, stub_published

EDGE = "us-east-1"
NOW = datetime.now(timezone.utc)


@pytest.fixture(autouse=True)
def _no_leftovers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-flight's lookups find nothing here (test_leftovers.py and test_edge_regions.py run
    them against moto)."""
    monkeypatch.setattr("rollout.deployer.preflight", lambda templates, clients, console: None)
    monkeypatch.setattr("rollout.deployer.find_legacy_log_groups", lambda env, clients: [])


def _run_cli(monkeypatch: pytest.MonkeyPatch, clients: StubbedClients, argv: list[str]) -> int:
    def use_stubbed(args: Any, console: Any) -> StubbedClients:
        clients.notify = console.line  # as cli._clients does
        return clients

    monkeypatch.setattr(cli, "connect", use_stubbed)
    return deploy.main(argv)


def _current_stack_set(templates: TemplateSet, clients: StubbedClients) -> dict[str, Any]:
    parameters = stack_set_parameters(templates, clients.account)
    return {"StackSet": {
        "StackSetName": naming.stack_set_name(templates.env), "Status": "ACTIVE", "PermissionModel": "SELF_MANAGED",
        "TemplateBody": templates.root_body, "Tags": stack_set_tags(templates),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]}}


def _operation(operation_id: str, status: str, action: str = "CREATE") -> dict[str, Any]:
    return {"StackSetOperation": {"OperationId": operation_id, "Status": status, "Action": action,
                                  "CreationTimestamp": NOW}}


def _results(*rows: tuple[str, str, str, str]) -> dict[str, Any]:
    return {"Summaries": [{"Account": a, "Region": r, "Status": s, **({"StatusReason": why} if why else {})}
                          for a, r, s, why in rows]}


def published_deploy(env_name: str) -> tuple[TemplateSet, StubbedClients, Stubber]:
    """The environment's real template set, already published, and the us-east-1 CloudFormation stubber."""
    templates = real_set(env_name)
    clients = StubbedClients()
    stub_bootstrapped(clients, templates)
    stub_published(clients, templates)
    return templates, clients, clients.stub("cloudformation", EDGE)


def _instance(account: str, region: str, status: str = "CURRENT") -> dict[str, Any]:
    return {"Account": account, "Region": region, "Status": status, "StackSetId": "set",
            "StackId": f"arn:aws:cloudformation:{region}:{account}:stack/StackSet-edgecdn-{region}/root"}


def _event(stack: str, logical: str, resource_type: str, status: str, reason: str = "",
           physical: str = "") -> dict[str, Any]:
    return {"StackId": stack, "EventId": f"{logical}-{status}", "StackName": stack.split("/")[1],
            "LogicalResourceId": logical, "PhysicalResourceId": physical, "ResourceType": resource_type,
            "Timestamp": NOW, "ResourceStatus": status, "ResourceStatusReason": reason}


def test_failure_in_the_second_region_names_account_region_resource_and_exits_1(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    templates, clients, cfn = published_deploy("staging")
    env = templates.env
    account, primary = env.deploy.accounts[0], env.primary_region
    name = naming.stack_set_name(env)
    cfn.add_client_error("list_stack_set_operations", "StackSetNotFoundException", "StackSet not found")
    cfn.add_client_error("describe_stack_set", "StackSetNotFoundException", "StackSet not found")
    cfn.add_response("create_stack_set", {"StackSetId": f"{name}:1"}, {
        "StackSetName": name, "Description": ANY, "TemplateURL": ANY, "Parameters": ANY, "Capabilities": ANY,
        "AdministrationRoleARN": "arn:aws:iam::999999999999:role/AWSCloudFormationStackSetAdministrationRole",
        "ExecutionRoleName": "AWSCloudFormationStackSetExecutionRole", "Tags": ANY, "PermissionModel": "SELF_MANAGED"})
    cfn.add_response("list_stack_instances", {"Summaries": []}, {"StackSetName": name})
    # us-east-1 and every edge log region in one operation, all at once.
    regional = [r for r in env.regions if r != primary]
    cfn.add_response("create_stack_instances", {"OperationId": "op-edge"}, {
        "StackSetName": name, "Accounts": [account], "Regions": regional, "OperationPreferences": {
            "RegionConcurrencyType": "PARALLEL", "FailureToleranceCount": 0, "MaxConcurrentCount": 1},
        "OperationId": ANY})
    cfn.add_response("describe_stack_set_operation", _operation("op-edge", "SUCCEEDED"), None)
    cfn.add_response("list_stack_set_operation_results",
                     _results(*[(account, r, "SUCCEEDED", "") for r in regional]), None)
    cfn.add_response("list_stack_instances", {"Summaries": [_instance(account, r) for r in regional]},
                     {"StackSetName": name})
    distribution_arn = f"arn:aws:cloudfront::{account}:distribution/E2EXAMPLE"
    clients.stub("cloudformation", EDGE, account).add_response("describe_stacks", {"Stacks": [{
        "StackName": "edge", "CreationTime": NOW, "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": "DistributionArn", "OutputValue": distribution_arn}]}]},
        {"StackName": _instance(account, EDGE)["StackId"]})
    cfn.add_response("create_stack_instances", {"OperationId": "op-primary"}, {
        "StackSetName": name, "Accounts": [account], "Regions": [primary], "OperationPreferences": {
            "RegionConcurrencyType": "SEQUENTIAL", "RegionOrder": [primary], "FailureToleranceCount": 0,
            "MaxConcurrentCount": 1},
        "ParameterOverrides": [
            {"ParameterKey": "DistributionArn", "ParameterValue": distribution_arn},
            {"ParameterKey": "TemplatesBucket", "ParameterValue": f"edgecdn-stacksets-999999999999-{primary}"}],
        "OperationId": ANY})
    cfn.add_response("describe_stack_set_operation", _operation("op-primary", "RUNNING"), None)
    cfn.add_response("list_stack_set_operation_results", _results((account, primary, "RUNNING", "")), None)
    reason = "ResourceLogicalId:S3Stack, ResourceType:AWS::CloudFormation::Stack, ResourceStatusReason:Embedded stack failed"
    cfn.add_response("describe_stack_set_operation", _operation("op-primary", "FAILED"), None)
    cfn.add_response("list_stack_set_operation_results", _results((account, primary, "FAILED", reason)), None)
    root = f"arn:aws:cloudformation:{primary}:{account}:stack/StackSet-edgecdn-staging/root"
    nested = f"arn:aws:cloudformation:{primary}:{account}:stack/StackSet-edgecdn-staging-S3Stack/nested"
    cfn.add_response("describe_stack_instance", {"StackInstance": {"Account": account, "Region": primary,
                                                                   "StackId": root, "Status": "OUTDATED"}}, None)
    target = clients.stub("cloudformation", primary, account)
    target.add_response("describe_stack_events", {"StackEvents": [
        _event(root, "StackSet-edgecdn-staging", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
        _event(root, "DynamodbStack", "AWS::CloudFormation::Stack", "CREATE_FAILED", "Resource creation cancelled"),
        _event(root, "S3Stack", "AWS::CloudFormation::Stack", "CREATE_FAILED",
               "Embedded stack was not successfully created: The following resource(s) failed to create: "
               "[OriginBucketPolicy].", physical=nested),
        _event(root, "S3Stack", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", physical=nested),
        _event(root, "StackSet-edgecdn-staging", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"),
    ]}, {"StackName": root})
    target.add_response("describe_stack_events", {"StackEvents": [
        _event(nested, "OriginBucketKey", "AWS::KMS::Key", "CREATE_FAILED", "Resource creation cancelled"),
        _event(nested, "OriginBucketPolicy", "AWS::S3::BucketPolicy", "CREATE_FAILED",
               "Invalid principal in policy (Service: S3, Status Code: 400)"),
        _event(nested, "StackSet-edgecdn-staging-S3Stack", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS"),
    ]}, {"StackName": nested})

    status = _run_cli(monkeypatch, clients, ["deploy", "--env", "staging"])
    out, err = capsys.readouterr()
    assert status == 1
    assert f"FAILED: {primary} instance of account {account} (operation op-primary ended FAILED):" in out
    assert (f"account {account} region {primary}: S3Stack/OriginBucketPolicy (AWS::S3::BucketPolicy) "
            "CREATE_FAILED: Invalid principal in policy (Service: S3, Status Code: 400)") in out
    assert f"the rollout of edgecdn-staging stopped: {primary} instance of account {account} failed" in err
    # The progress line of the failed instance already names the resource, before the summary.
    progress = [line for line in out.splitlines() if "[FAILED]" in line]
    assert progress and f"{account}  {primary}      FAILED" in progress[-1]
    assert "S3Stack/OriginBucketPolicy (AWS::S3::BucketPolicy) CREATE_FAILED: Invalid principal" in progress[-1]
    assert clients.sleeps == [1.0]
    clients.assert_done()


def test_failed_edge_operation_stops_before_the_primary_region(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    templates, clients, cfn = published_deploy("staging")
    env = templates.env
    account = env.deploy.accounts[0]
    cfn.add_response("list_stack_set_operations", {"Summaries": []}, None)
    cfn.add_response("describe_stack_set", _current_stack_set(templates, clients), None)
    cfn.add_response("list_stack_instances", {"Summaries": []}, None)  # changes ahead: instances missing
    cfn.add_response("list_stack_instances", {"Summaries": []}, None)
    cfn.add_response("create_stack_instances", {"OperationId": "op-edge"}, None)
    cfn.add_response("describe_stack_set_operation", _operation("op-edge", "FAILED"), None)
    # Every region runs at once: the others completed although us-east-1 failed.
    cfn.add_response("list_stack_set_operation_results", _results(
        (account, EDGE, "FAILED", "The stack failed to create"),
        *[(account, r, "SUCCEEDED", "") for r in env.regions if r not in (EDGE, env.primary_region)]), None)
    root = f"arn:aws:cloudformation:{EDGE}:{account}:stack/StackSet-edgecdn-staging/root"
    cfn.add_response("describe_stack_instance", {"StackInstance": {"StackId": root}}, None)
    clients.stub("cloudformation", EDGE, account).add_response("describe_stack_events", {"StackEvents": [
        _event(root, "WafStack", "AWS::CloudFormation::Stack", "CREATE_FAILED",
               "WAFLimitsExceededException: too many web ACLs"),
        _event(root, "StackSet-edgecdn-staging", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"),
    ]}, None)

    status = _run_cli(monkeypatch, clients, ["deploy", "--env", "staging"])
    out, err = capsys.readouterr()
    assert status == 1
    assert (f"account {account} region {EDGE}: WafStack (AWS::CloudFormation::Stack) CREATE_FAILED: "
            "WAFLimitsExceededException: too many web ACLs") in out
    assert env.primary_region not in out.split("FAILED:")[1]
    clients.assert_done()  # and no call for the primary region was made: none was stubbed


def test_operation_in_progress_is_waited_for_and_the_call_retried(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    templates, clients, cfn = published_deploy("dev")
    account = templates.env.deploy.accounts[0]
    regions = list(templates.env.regions)
    cfn.add_response("list_stack_set_operations", {"Summaries": []}, None)
    cfn.add_response("describe_stack_set", _current_stack_set(templates, clients), None)
    cfn.add_response("list_stack_instances", {"Summaries": []}, None)
    cfn.add_response("list_stack_instances", {"Summaries": []}, None)
    cfn.add_client_error("create_stack_instances", "OperationInProgressException",
                         "Another Operation on StackSet arn:aws:cloudformation:us-east-1:999999999999:stackset/"
                         "edgecdn-dev:1 is in progress")
    cfn.add_response("list_stack_set_operations", {"Summaries": [{
        "OperationId": "op-ci", "Action": "UPDATE", "Status": "RUNNING",
        "CreationTimestamp": datetime.now(timezone.utc) - timedelta(minutes=2)}]}, None)
    cfn.add_response("describe_stack_set_operation", _operation("op-ci", "RUNNING", "UPDATE"), None)
    cfn.add_response("list_stack_set_operation_results", _results((account, EDGE, "RUNNING", "")), None)
    cfn.add_response("describe_stack_set_operation", _operation("op-ci", "SUCCEEDED", "UPDATE"), None)
    cfn.add_response("list_stack_set_operation_results", _results((account, EDGE, "SUCCEEDED", "")), None)
    cfn.add_response("create_stack_instances", {"OperationId": "op-mine"}, None)
    cfn.add_response("describe_stack_set_operation", _operation("op-mine", "SUCCEEDED"), None)
    cfn.add_response("list_stack_set_operation_results",
                     _results(*[(account, r, "SUCCEEDED", "") for r in regions]), None)
    cfn.add_response("list_stack_instances", {"Summaries": [_instance(account, r) for r in regions]}, None)

    status = _run_cli(monkeypatch, clients, ["deploy", "--env", "dev"])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert (f"Cannot create instance(s) for account(s) {account} in 7 region(s) in parallel: "
            f"{', '.join(regions)} yet: Another Operation on StackSet") in out
    assert re.search(r"Operation op-ci \(UPDATE, started 2m0\ds ago\) is already running on stack set edgecdn-dev "
                     r"\(another terminal, a CI job or an interrupted run\); waiting for it to finish\.", out)
    assert "That operation ended SUCCEEDED; continuing from the state it left." in out
    assert "Started operation op-mine" in out
    assert "Deployed stack set edgecdn-dev" in out
    assert clients.sleeps == [1.0]
    clients.assert_done()


def test_interrupted_rollout_resumes_after_the_running_operation(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """An earlier run was interrupted: its operation still runs and left the primary OUTDATED."""
    templates, clients, cfn = published_deploy("staging")
    env = templates.env
    account, primary = env.deploy.accounts[0], env.primary_region
    cfn.add_response("list_stack_set_operations", {"Summaries": [{
        "OperationId": "op-interrupted", "Action": "UPDATE", "Status": "RUNNING", "CreationTimestamp": NOW}]}, None)
    cfn.add_response("describe_stack_set_operation", _operation("op-interrupted", "STOPPED", "UPDATE"), None)
    cfn.add_response("list_stack_set_operation_results", _results((account, EDGE, "SUCCEEDED", ""),
                                                                  (account, primary, "CANCELLED", "")), None)
    cfn.add_response("describe_stack_set", _current_stack_set(templates, clients), None)
    others = [_instance(account, r) for r in env.regions if r != primary]
    instances = {"Summaries": [*others, _instance(account, primary, "OUTDATED")]}
    cfn.add_response("list_stack_instances", instances, None)
    cfn.add_response("list_stack_instances", instances, None)
    cfn.add_response("list_stack_instances", instances, None)
    distribution_arn = f"arn:aws:cloudfront::{account}:distribution/E2EXAMPLE"
    clients.stub("cloudformation", EDGE, account).add_response("describe_stacks", {"Stacks": [{
        "StackName": "edge", "CreationTime": NOW, "StackStatus": "UPDATE_COMPLETE",
        "Outputs": [{"OutputKey": "DistributionArn", "OutputValue": distribution_arn}]}]}, None)
    overrides = [{"ParameterKey": "DistributionArn", "ParameterValue": distribution_arn},
                 {"ParameterKey": "TemplatesBucket", "ParameterValue": f"edgecdn-stacksets-999999999999-{primary}"}]
    cfn.add_response("describe_stack_instance", {"StackInstance": {"ParameterOverrides": overrides}}, None)
    cfn.add_response("update_stack_instances", {"OperationId": "op-resume"}, {
        "StackSetName": "edgecdn-staging", "Accounts": [account], "Regions": [primary],
        "ParameterOverrides": overrides, "OperationPreferences": ANY, "OperationId": ANY})
    cfn.add_response("describe_stack_set_operation", _operation("op-resume", "SUCCEEDED", "UPDATE"), None)
    cfn.add_response("list_stack_set_operation_results", _results((account, primary, "SUCCEEDED", "")), None)
    cfn.add_response("list_stack_instances", {"Summaries": [*others, _instance(account, primary)]}, None)

    status = _run_cli(monkeypatch, clients, ["deploy", "--env", "staging"])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "Operation op-interrupted (UPDATE, started" in out
    assert "That operation ended STOPPED; continuing from the state it left." in out
    assert f"update {primary} instance of account {account} (instance OUTDATED)" in out
    assert "1 stack-set operation(s)" in out
    clients.assert_done()


def test_throttling_is_retried_with_backoff(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    templates, clients, cfn = published_deploy("dev")
    account = templates.env.deploy.accounts[0]
    cfn.add_response("list_stack_set_operations", {"Summaries": []}, None)
    cfn.add_client_error("describe_stack_set", "Throttling", "Rate exceeded", http_status_code=400)
    cfn.add_client_error("describe_stack_set", "Throttling", "Rate exceeded", http_status_code=400)
    cfn.add_response("describe_stack_set", _current_stack_set(templates, clients), None)
    current = {"Summaries": [_instance(account, r) for r in templates.env.regions]}
    for _ in range(3):  # changes ahead, the regional instances, the final check
        cfn.add_response("list_stack_instances", current, None)

    status = _run_cli(monkeypatch, clients, ["deploy", "--env", "dev"])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "cloudformation DescribeStackSet throttled (Throttling); retrying in" in out
    assert "(attempt 3 of 8)" in out
    assert len(clients.sleeps) == 2
    assert 0.8 <= clients.sleeps[0] <= 1.2 and 1.6 <= clients.sleeps[1] <= 2.4
    assert "Nothing to do: stack set edgecdn-dev already runs set" in out
    assert clients.log.mutating == []
    clients.assert_done()


def test_throttling_that_does_not_stop_fails_with_exit_1(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    templates = real_set("dev")
    clients = StubbedClients()
    stub_bootstrapped(clients, templates)  # nothing is published: the stack set is read first
    cfn = clients.stub("cloudformation", EDGE)
    cfn.add_response("list_stack_set_operations", {"Summaries": []}, None)
    for _ in range(THROTTLE_ATTEMPTS):
        cfn.add_client_error("describe_stack_set", "Throttling", "Rate exceeded", http_status_code=400)

    status = _run_cli(monkeypatch, clients, ["deploy", "--env", "dev"])
    out, err = capsys.readouterr()
    assert status == 1
    assert "deploy.py: failed: DescribeStackSet: Throttling: Rate exceeded" in err
    assert len(clients.sleeps) == THROTTLE_ATTEMPTS - 1
    assert max(clients.sleeps) <= 20 * 1.2
    clients.assert_done()


def test_polling_starts_fast_and_backs_off_to_15_seconds() -> None:
    templates = real_set("dev")
    account = templates.env.deploy.accounts[0]
    clients = StubbedClients()
    cfn = clients.stub("cloudformation", EDGE)
    for _ in range(7):
        cfn.add_response("describe_stack_set_operation", _operation("op-long", "RUNNING"), None)
        cfn.add_response("list_stack_set_operation_results", _results((account, EDGE, "RUNNING", "")), None)
    cfn.add_response("describe_stack_set_operation", _operation("op-long", "SUCCEEDED"), None)
    cfn.add_response("list_stack_set_operation_results", _results((account, EDGE, "SUCCEEDED", "")), None)
    console, out = console_and_buffer(tty=True)
    outcome = StackSetOps(templates.env, clients, console).wait("op-long", "create instances")
    assert outcome.succeeded
    assert clients.sleeps == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    text = out.getvalue()
    # On a terminal the block is redrawn in place: cursor up over the title and the one row.
    assert text.count("\x1b[2F") == 7
    assert f"{account}  {EDGE}      SUCCEEDED" in text
    clients.assert_done()


def test_progress_in_a_log_is_timestamped_and_only_on_change() -> None:
    templates = real_set("dev")
    account = templates.env.deploy.accounts[0]
    clients = StubbedClients()
    cfn = clients.stub("cloudformation", EDGE)
    for status in ("RUNNING", "RUNNING", "SUCCEEDED"):
        cfn.add_response("describe_stack_set_operation", _operation("op", status), None)
        cfn.add_response("list_stack_set_operation_results", _results((account, EDGE, status, "")), None)
    console, out = console_and_buffer(tty=False)
    StackSetOps(templates.env, clients, console).wait("op", "create instances")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ create instances \[", line) for line in lines)
    assert "RUNNING" in lines[0] and "SUCCEEDED" in lines[1]


def test_destroy_explains_edge_function_replicas_that_cannot_be_deleted_yet(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    templates = real_set("dev")
    account = templates.env.deploy.accounts[0]
    clients = StubbedClients()
    cfn = clients.stub("cloudformation", EDGE)
    target = clients.stub("cloudformation", EDGE, account)
    root = f"arn:aws:cloudformation:{EDGE}:{account}:stack/StackSet-edgecdn-dev/root"
    nested = f"arn:aws:cloudformation:{EDGE}:{account}:stack/StackSet-edgecdn-dev-LambdaEdgeStack/nested"
    cfn.add_response("describe_stack_set", _current_stack_set(templates, clients), None)
    cfn.add_response("list_stack_set_operations", {"Summaries": []}, None)
    cfn.add_response("list_stack_instances", {"Summaries": [_instance(account, EDGE)]}, None)
    target.add_response("get_template", {"TemplateBody": json.dumps({"Resources": {
        "LambdaEdgeStack": {"Type": "AWS::CloudFormation::Stack"}}})}, None)
    target.add_response("list_stack_resources", {"StackResourceSummaries": [{
        "LogicalResourceId": "LambdaEdgeStack", "PhysicalResourceId": nested, "ResourceType": "AWS::CloudFormation::Stack",
        "LastUpdatedTimestamp": NOW, "ResourceStatus": "CREATE_COMPLETE"}]}, None)
    target.add_response("get_template", {"TemplateBody": json.dumps({"Resources": {
        "ViewerRequestFunction": {"Type": "AWS::Lambda::Function"}}})}, None)
    target.add_response("list_stack_resources", {"StackResourceSummaries": [{
        "LogicalResourceId": "ViewerRequestFunction", "PhysicalResourceId": "edgecdn-dev-viewer-request",
        "ResourceType": "AWS::Lambda::Function", "LastUpdatedTimestamp": NOW,
        "ResourceStatus": "CREATE_COMPLETE"}]}, None)
    cfn.add_response("delete_stack_instances", {"OperationId": "op-delete"}, {
        "StackSetName": "edgecdn-dev", "Accounts": [account], "Regions": [EDGE], "RetainStacks": False,
        "OperationPreferences": ANY, "OperationId": ANY})
    cfn.add_response("describe_stack_set_operation", _operation("op-delete", "FAILED", "DELETE"), None)
    cfn.add_response("list_stack_set_operation_results",
                     _results((account, EDGE, "FAILED", "The stack failed to delete")), None)
    cfn.add_response("describe_stack_instance", {"StackInstance": {"StackId": root}}, None)
    replicated = (f"Lambda was unable to delete arn:aws:lambda:us-east-1:{account}:function:edgecdn-dev-viewer-request:1 "
                  "because it is a replicated function. Please see our documentation for Deleting Lambda@Edge "
                  "Functions and Replicas.")
    target.add_response("describe_stack_events", {"StackEvents": [
        _event(root, "LambdaEdgeStack", "AWS::CloudFormation::Stack", "DELETE_FAILED", "Embedded stack failed",
               physical=nested),
        _event(root, "StackSet-edgecdn-dev", "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS", "User Initiated"),
    ]}, None)
    target.add_response("describe_stack_events", {"StackEvents": [
        _event(nested, "ViewerRequestFunction", "AWS::Lambda::Function", "DELETE_FAILED", replicated),
        _event(nested, "StackSet-edgecdn-dev-LambdaEdgeStack", "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS"),
    ]}, None)

    status = _run_cli(monkeypatch, clients, ["destroy", "--env", "dev", "--yes"])
    out, err = capsys.readouterr()
    assert status == 1
    assert (f"account {account} region {EDGE}: LambdaEdgeStack/ViewerRequestFunction (AWS::Lambda::Function) "
            "DELETE_FAILED: Lambda was unable to delete") in out
    assert "The edge functions still have replicas: CloudFront removes them a few hours after the distribution " \
           "is deleted" in out
    assert "run `python deploy.py destroy --env dev` again in a few hours to finish" in out
    assert "destroy of edgecdn-dev stopped: deleting the instances in us-east-1 failed" in err
    clients.assert_done()  # the stack set itself was not deleted: no DeleteStackSet was stubbed


def test_bootstrap_waits_for_a_new_role_to_propagate_to_s3(capsys: pytest.CaptureFixture) -> None:
    from rollout.bootstrap import (administration_policy, administration_trust, bootstrap, execution_policy,
                                   execution_trust_statement, template_bucket_policy)

    templates = real_set("dev")
    env = templates.env
    account = env.deploy.accounts[0]
    clients = StubbedClients()
    admin_iam = clients.stub("iam", "us-east-1")
    admin_iam.add_response("get_role", {"Role": {
        "Path": "/", "RoleName": naming.ADMINISTRATION_ROLE_NAME, "RoleId": "AROAEXAMPLEADMIN0001",
        "Arn": naming.administration_role_arn(clients.account), "CreateDate": NOW,
        "AssumeRolePolicyDocument": json.dumps(administration_trust(clients.account))}}, None)
    admin_iam.add_response("get_role_policy", {"RoleName": naming.ADMINISTRATION_ROLE_NAME,
                                               "PolicyName": "edgecdn-dev-assume-execution-roles",
                                               "PolicyDocument": json.dumps(administration_policy(env.deploy.accounts))}, None)
    target_iam = clients.stub("iam", "us-east-1", account)
    target_iam.add_response("get_role", {"Role": {
        "Path": "/", "RoleName": naming.EXECUTION_ROLE_NAME, "RoleId": "AROAEXAMPLEEXEC00001",
        "Arn": naming.execution_role_arn(account), "CreateDate": NOW,
        "AssumeRolePolicyDocument": json.dumps({"Version": "2012-10-17",
                                                "Statement": [execution_trust_statement(clients.account)]})}}, None)
    target_iam.add_response("get_role_policy", {"RoleName": naming.EXECUTION_ROLE_NAME,
                                                "PolicyName": "edgecdn-dev-stackset-execution",
                                                "PolicyDocument": json.dumps(execution_policy())}, None)
    s3 = clients.stub("s3", "us-east-1")
    bucket = naming.template_bucket_name(env.project, clients.account, "us-east-1")
    s3.add_response("head_bucket", {}, {"Bucket": bucket})
    s3.add_response("get_public_access_block", {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}}, None)
    s3.add_response("get_bucket_encryption", {"ServerSideEncryptionConfiguration": {"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}, None)
    s3.add_response("get_bucket_ownership_controls", {"OwnershipControls": {"Rules": [
        {"ObjectOwnership": "BucketOwnerEnforced"}]}}, None)
    s3.add_client_error("get_bucket_policy", "NoSuchBucketPolicy", "The bucket policy does not exist")
    s3.add_client_error("put_bucket_policy", "MalformedPolicy", "Invalid principal in policy")
    s3.add_response("put_bucket_policy", {}, None)
    for region in env.regions[1:]:  # the other regions' buckets are as bootstrap wants them
        other = clients.stub("s3", region)
        other_bucket = naming.template_bucket_name(env.project, clients.account, region)
        other.add_response("head_bucket", {}, {"Bucket": other_bucket})
        other.add_response("get_public_access_block", {"PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True}}, None)
        other.add_response("get_bucket_encryption", {"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}, None)
        other.add_response("get_bucket_ownership_controls", {"OwnershipControls": {"Rules": [
            {"ObjectOwnership": "BucketOwnerEnforced"}]}}, None)
        other.add_response("get_bucket_policy", {"Policy": json.dumps(
            template_bucket_policy(other_bucket, env, None))}, None)

    console, out = console_and_buffer()
    assert bootstrap(env, clients, console) == 0
    text = out.getvalue()
    assert "S3 does not know the new execution role(s) yet (IAM propagation); retrying the bucket policy" in text
    assert f"updated   template bucket {bucket}" in text
    assert f"unchanged execution role in {account}" in text
    assert clients.sleeps == [5.0]
    clients.assert_done()
