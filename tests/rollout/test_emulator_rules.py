"""The rules the emulator enforces because real rollouts break on them: one distribution per alias,
a zone in one account, names taken, deletion policies on rollback and delete, failed stack-set
operations and their retry."""

from __future__ import annotations

import json
import threading
from typing import Any

import botocore.exceptions
import pytest

from rollout_support import account_client

ACCOUNT_A, ACCOUNT_B = "210000000001", "210000000002"

LOG_GROUP = {"Type": "AWS::Logs::LogGroup"}


def _stack(moto: str, name: str, resources: dict[str, Any], account: str | None = None,
           region: str = "us-east-1") -> dict[str, Any]:
    """Create a stack and return its description (moto runs the creation synchronously)."""
    cfn = account_client(moto, "cloudformation", account, region)
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    stack_id = cfn.create_stack(StackName=name, TemplateBody=json.dumps(template),
                                Capabilities=["CAPABILITY_NAMED_IAM"])["StackId"]
    return cfn.describe_stacks(StackName=stack_id)["Stacks"][0]


def _events(moto: str, stack_id: str, account: str | None = None) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) of every event, oldest first."""
    cfn = account_client(moto, "cloudformation", account, region=stack_id.split(":")[3])
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
            for e in reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"])]


def _failure(moto: str, stack: dict[str, Any], account: str | None = None) -> str:
    return next(reason for _, status, reason in _events(moto, stack["StackId"], account)
                if status == "CREATE_FAILED")


def _log_groups(moto: str, account: str | None = None) -> set[str]:
    return {g["logGroupName"] for g in account_client(moto, "logs", account).describe_log_groups()["logGroups"]}


def _log_group(name: str, policy: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": name}}
    if policy:
        resource["DeletionPolicy"] = policy
    return resource


# A resource that always fails when created: a bucket policy on a bucket that does not exist.
FAILING = {"Type": "AWS::S3::BucketPolicy", "Properties": {
    "Bucket": "no-such-bucket-anywhere", "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}}


# --- one distribution per alternate domain name ---------------------------------------------------


def _api_distribution(aliases: list[str]) -> dict[str, Any]:
    return {
        "CallerReference": "-".join(aliases) + "-ref", "Comment": "", "Enabled": True,
        "Aliases": {"Quantity": len(aliases), "Items": aliases},
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "o.s3.us-east-1.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    }


def test_an_alias_belongs_to_one_distribution_across_all_accounts_through_the_api(moto: str) -> None:
    first = account_client(moto, "cloudfront", ACCOUNT_A)
    held = first.create_distribution(DistributionConfig=_api_distribution(["www.example.org"]))["Distribution"]
    other_account = account_client(moto, "cloudfront", ACCOUNT_B)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        other_account.create_distribution(DistributionConfig=_api_distribution(["WWW.example.org", "example.org"]))
    assert excinfo.value.response["Error"]["Code"] == "CNAMEAlreadyExists"
    # The same account cannot either; an update that claims it is refused too.
    with pytest.raises(botocore.exceptions.ClientError):
        first.create_distribution(DistributionConfig=_api_distribution(["www.example.org", "b.example.org"]))
    free = other_account.create_distribution(DistributionConfig=_api_distribution(["example.org"]))
    config = other_account.get_distribution_config(Id=free["Distribution"]["Id"])
    claiming = dict(config["DistributionConfig"], Aliases={"Quantity": 2, "Items": ["example.org", "www.example.org"]})
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        other_account.update_distribution(Id=free["Distribution"]["Id"], IfMatch=config["ETag"],
                                          DistributionConfig=claiming)
    assert excinfo.value.response["Error"]["Code"] == "CNAMEAlreadyExists"
    # Its holder may keep it through an update; once deleted, the alias is free.
    config = first.get_distribution_config(Id=held["Id"])
    first.update_distribution(Id=held["Id"], IfMatch=config["ETag"],
                              DistributionConfig=dict(config["DistributionConfig"], Comment="kept"))
    first.delete_distribution(Id=held["Id"], IfMatch=config["ETag"])
    other_account.update_distribution(Id=free["Distribution"]["Id"], IfMatch=config["ETag"],
                                      DistributionConfig=claiming)


def test_a_stack_whose_distribution_claims_a_held_alias_rolls_back(moto: str) -> None:
    account_client(moto, "cloudfront", ACCOUNT_A).create_distribution(
        DistributionConfig=_api_distribution(["cdn.example.org"]))
    route53 = account_client(moto, "route53", ACCOUNT_B)
    zone_id = route53.create_hosted_zone(Name="example.org", CallerReference="z")["HostedZone"]["Id"].split("/")[-1]
    stack = _stack(moto, "site", {
        "Certificate": {"Type": "AWS::CertificateManager::Certificate", "Properties": {
            "DomainName": "cdn.example.org", "ValidationMethod": "DNS",
            "DomainValidationOptions": [{"DomainName": "cdn.example.org", "HostedZoneId": zone_id}]}},
        "Distribution": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "Enabled": True, "Aliases": ["cdn.example.org"],
            "ViewerCertificate": {"AcmCertificateArn": {"Ref": "Certificate"}, "SslSupportMethod": "sni-only",
                                  "MinimumProtocolVersion": "TLSv1.2_2021"},
            "Origins": [{"Id": "o", "DomainName": "o.s3.us-east-1.amazonaws.com", "S3OriginConfig": {}}],
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}},
    }, account=ACCOUNT_B)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert _failure(moto, stack, ACCOUNT_B) == ("CNAMEAlreadyExists: One or more of the CNAMEs you provided are "
                                                "already associated with a different resource.")
    # The certificate this create made is gone again.
    assert account_client(moto, "acm", ACCOUNT_B).list_certificates()["CertificateSummaryList"] == []


# --- a hosted zone exists in the account that owns it ----------------------------------------


def test_certificate_validation_and_alias_records_need_the_zone_in_the_stacks_account(moto: str) -> None:
    zone_id = account_client(moto, "route53", ACCOUNT_A).create_hosted_zone(
        Name="example.net", CallerReference="z")["HostedZone"]["Id"].split("/")[-1]
    certificate = _stack(moto, "certificate", {"Certificate": {
        "Type": "AWS::CertificateManager::Certificate", "Properties": {
            "DomainName": "example.net", "ValidationMethod": "DNS",
            "DomainValidationOptions": [{"DomainName": "example.net", "HostedZoneId": zone_id}]}}},
        account=ACCOUNT_B)
    assert certificate["StackStatus"] == "ROLLBACK_COMPLETE"
    assert f"NoSuchHostedZone: No hosted zone found with ID: {zone_id}" in _failure(moto, certificate, ACCOUNT_B)
    records = _stack(moto, "records", {"Records": {"Type": "AWS::Route53::RecordSetGroup", "Properties": {
        "HostedZoneId": zone_id, "RecordSets": [{"Name": "example.net.", "Type": "A", "AliasTarget": {
            "DNSName": "d111111abcdef8.cloudfront.net", "HostedZoneId": "Z2FDTNDATAQYW2"}}]}}}, account=ACCOUNT_B)
    assert records["StackStatus"] == "ROLLBACK_COMPLETE"
    assert f"NoSuchHostedZone: No hosted zone found with ID: {zone_id}" in _failure(moto, records, ACCOUNT_B)
    # In the zone's own account the records are created, refused when they exist, and deleted with the stack.
    group = {"Type": "AWS::Route53::RecordSetGroup", "Properties": {
        "HostedZoneId": zone_id, "RecordSets": [{"Name": "example.net.", "Type": "A", "AliasTarget": {
            "DNSName": "d111111abcdef8.cloudfront.net", "HostedZoneId": "Z2FDTNDATAQYW2"}}]}}
    assert _stack(moto, "records", {"Records": group}, account=ACCOUNT_A)["StackStatus"] == "CREATE_COMPLETE"
    again = _stack(moto, "records-again", {"Records": group}, account=ACCOUNT_A)
    assert "Tried to create resource record set [name='example.net.', type='A'] but it already exists" \
        in _failure(moto, again, ACCOUNT_A)
    account_client(moto, "cloudformation", ACCOUNT_A).delete_stack(StackName="records")
    names = [r["Type"] for r in account_client(moto, "route53", ACCOUNT_A).list_resource_record_sets(
        HostedZoneId=zone_id)["ResourceRecordSets"]]
    assert "A" not in names


# --- names that are taken ---------------------------------------------------------------------


ROLE_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "lambda.amazonaws.com"}}]}
NAMED = {
    "AWS::DynamoDB::GlobalTable": {"TableName": "edge-config", "BillingMode": "PAY_PER_REQUEST",
                                   "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                                   "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                                   "Replicas": [{"Region": "us-east-1"}]},
    "AWS::Logs::LogGroup": {"LogGroupName": "/aws/lambda/us-east-1.viewer"},
    "AWS::IAM::Role": {"RoleName": "edge-functions", "AssumeRolePolicyDocument": ROLE_POLICY},
    "AWS::Lambda::Function": {"FunctionName": "viewer", "Runtime": "python3.12", "Handler": "index.handler",
                              "Role": "arn:aws:iam::123456789012:role/function-role",
                              "Code": {"ZipFile": "def handler(event, context):\n    return event\n"}},
    "AWS::SNS::Topic": {"TopicName": "alarms"},
}


@pytest.mark.parametrize("resource_type", sorted(NAMED))
def test_a_named_resource_left_by_an_earlier_create_collides(moto: str, resource_type: str) -> None:
    _stack(moto, "function-role", {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "function-role", "AssumeRolePolicyDocument": ROLE_POLICY}}})
    resource = {"Type": resource_type, "DeletionPolicy": "Retain", "Properties": NAMED[resource_type]}
    assert _stack(moto, "first", {"Named": resource})["StackStatus"] == "CREATE_COMPLETE"
    account_client(moto, "cloudformation").delete_stack(StackName="first")  # retained: the name stays taken
    second = _stack(moto, "second", {"Named": resource, "Later": _log_group("/second/later")})
    assert second["StackStatus"] == "ROLLBACK_COMPLETE"
    name = next(v for k, v in NAMED[resource_type].items() if k.endswith("Name"))
    assert _failure(moto, second) == (f"Resource handler returned message: \"Resource of type '{resource_type}' "
                                      f"with identifier '{name}' already exists.\" (HandlerErrorCode: AlreadyExists)")


def test_bucket_and_kms_alias_names_are_taken_across_accounts_and_in_the_account(moto: str) -> None:
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "site-origin-shared-name"}}
    assert _stack(moto, "a", {"Bucket": bucket}, account=ACCOUNT_A)["StackStatus"] == "CREATE_COMPLETE"
    elsewhere = _stack(moto, "b", {"Bucket": bucket}, account=ACCOUNT_B, region="us-west-2")
    assert "'AWS::S3::Bucket' with identifier 'site-origin-shared-name' already exists" in \
        _failure(moto, elsewhere, ACCOUNT_B)
    key = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}}}
    alias = {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/site", "TargetKeyId": {"Ref": "Key"}}}
    assert _stack(moto, "key-1", {"Key": key, "Alias": alias})["StackStatus"] == "CREATE_COMPLETE"
    second = _stack(moto, "key-2", {"Key": key, "Alias": alias})
    assert "'AWS::KMS::Alias' with identifier 'alias/site' already exists" in _failure(moto, second)
    with pytest.raises(botocore.exceptions.ClientError):  # the KMS API agrees
        kms = account_client(moto, "kms")
        kms.create_alias(AliasName="alias/site", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])


# --- deletion policies ------------------------------------------------------------------------


def test_rollback_of_a_failed_create_deletes_what_it_made_except_retain(moto: str) -> None:
    stack = _stack(moto, "first-create", {
        "Deleted": _log_group("/policy/delete", "Delete"),
        "KeptExceptOnCreate": _log_group("/policy/retain-except-on-create", "RetainExceptOnCreate"),
        "Kept": _log_group("/policy/retain", "Retain"),
        "Fails": dict(FAILING, DependsOn=["Deleted", "KeptExceptOnCreate", "Kept"]),
    })
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert _log_groups(moto) == {"/policy/retain"}
    events = _events(moto, stack["StackId"])
    statuses = [(logical, status) for logical, status, _ in events]
    assert statuses[-1] == ("first-create", "ROLLBACK_COMPLETE")
    assert ("Fails", "CREATE_FAILED") in statuses and ("Kept", "DELETE_SKIPPED") in statuses
    assert ("KeptExceptOnCreate", "DELETE_COMPLETE") in statuses and ("Deleted", "DELETE_COMPLETE") in statuses
    assert ("first-create", "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [Fails]. Rollback requested by user.") in events
    # A stack whose creation rolled back can only be deleted.
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        account_client(moto, "cloudformation").update_stack(StackName="first-create", TemplateBody=json.dumps(
            {"Resources": {"Deleted": _log_group("/policy/delete")}}))
    assert "is in ROLLBACK_COMPLETE state and can not be updated" in str(excinfo.value)


def test_stack_delete_keeps_both_retain_policies(moto: str) -> None:
    _stack(moto, "live", {
        "Deleted": _log_group("/policy/delete", "Delete"),
        "KeptExceptOnCreate": _log_group("/policy/retain-except-on-create", "RetainExceptOnCreate"),
        "Kept": _log_group("/policy/retain", "Retain"),
    })
    account_client(moto, "cloudformation").delete_stack(StackName="live")
    assert _log_groups(moto) == {"/policy/retain", "/policy/retain-except-on-create"}


def test_a_failed_nested_stack_is_deleted_by_its_parents_rollback(moto: str) -> None:
    s3 = account_client(moto, "s3")
    s3.create_bucket(Bucket="nested-templates")
    child = {"Resources": {"Group": _log_group("/nested/group", "RetainExceptOnCreate"),
                           "Fails": dict(FAILING, DependsOn="Group")}}
    s3.put_object(Bucket="nested-templates", Key="child.json", Body=json.dumps(child).encode())
    stack = _stack(moto, "parent", {
        "Sibling": _log_group("/parent/sibling", "RetainExceptOnCreate"),
        "Child": {"Type": "AWS::CloudFormation::Stack", "DependsOn": "Sibling", "Properties": {
            "TemplateURL": "https://nested-templates.s3.us-east-1.amazonaws.com/child.json"}}})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert _log_groups(moto) == set()
    child_event = next(e for e in _events(moto, stack["StackId"]) if e[:2] == ("Child", "CREATE_FAILED"))
    assert child_event[2].startswith("Embedded stack arn:aws:cloudformation:us-east-1:123456789012:stack/")
    assert child_event[2].endswith("was not successfully created: The following resource(s) failed to create: [Fails].")
    nested = account_client(moto, "cloudformation").describe_stacks(StackName=child_event[2].split()[2])["Stacks"][0]
    assert nested["StackStatus"] == "DELETE_COMPLETE"


def test_failed_update_rolls_back_and_replacement_follows_update_replace_policy(moto: str) -> None:
    cfn = account_client(moto, "cloudformation")
    _stack(moto, "app", {"Kept": _log_group("/app/kept", "RetainExceptOnCreate")})

    def update(resources: dict[str, Any]) -> str:
        cfn.update_stack(StackName="app", TemplateBody=json.dumps({"Resources": resources}))
        return cfn.describe_stacks(StackName="app")["Stacks"][0]["StackStatus"]

    added = _log_group("/app/added", "RetainExceptOnCreate")
    assert update({"Kept": _log_group("/app/kept", "RetainExceptOnCreate"), "Added": added,
                   "Fails": dict(FAILING, DependsOn="Added")}) == "UPDATE_ROLLBACK_COMPLETE"
    assert _log_groups(moto) == {"/app/kept"}  # what the failed update created is gone again
    # A new name replaces the resource: the old one is kept with UpdateReplacePolicy Retain...
    renamed = dict(_log_group("/app/renamed", "RetainExceptOnCreate"), UpdateReplacePolicy="Retain")
    assert update({"Kept": renamed}) == "UPDATE_COMPLETE"
    assert _log_groups(moto) == {"/app/kept", "/app/renamed"}
    # ...and deleted without it.
    assert update({"Kept": _log_group("/app/third", "RetainExceptOnCreate")}) == "UPDATE_COMPLETE"
    assert _log_groups(moto) == {"/app/kept", "/app/third"}


# --- stack-set operations ---------------------------------------------------------------------


def _stack_set(moto: str, resources: dict[str, Any]) -> Any:
    cfn = account_client(moto, "cloudformation")
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": {"Suffix": {"Type": "String"}},
                "Resources": resources}
    cfn.create_stack_set(StackSetName="rules", TemplateBody=json.dumps(template),
                         Parameters=[{"ParameterKey": "Suffix", "ParameterValue": "x"}], PermissionModel="SELF_MANAGED")
    return cfn


def _results(cfn: Any, operation_id: str) -> dict[tuple[str, str], tuple[str, str]]:
    return {(r["Account"], r["Region"]): (r["Status"], r.get("StatusReason", ""))
            for r in cfn.list_stack_set_operation_results(StackSetName="rules", OperationId=operation_id)["Summaries"]}


def test_a_failed_instance_fails_the_operation_and_a_later_update_creates_its_stack(moto: str) -> None:
    # The log group's name is taken in account B (left by an earlier create): B fails there.
    _stack(moto, "leftover", {"Group": _log_group("/rules/group-x", "Retain")}, account=ACCOUNT_B)
    cfn = _stack_set(moto, {"Group": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "RetainExceptOnCreate",
                                      "Properties": {"LogGroupName": {"Fn::Sub": "/rules/group-${Suffix}"}}}})
    accounts = [ACCOUNT_A, ACCOUNT_B, "210000000003"]
    operation = cfn.create_stack_instances(StackSetName="rules", Accounts=accounts, Regions=["us-east-1"],
                                           OperationPreferences={"FailureToleranceCount": 0, "MaxConcurrentCount": 1})
    operation_id = operation["OperationId"]
    described = cfn.describe_stack_set_operation(StackSetName="rules", OperationId=operation_id)["StackSetOperation"]
    assert described["Status"] == "FAILED"
    results = _results(cfn, operation_id)
    assert results[(ACCOUNT_A, "us-east-1")] == ("SUCCEEDED", "")
    assert results[(ACCOUNT_B, "us-east-1")][0] == "FAILED"
    assert results[(ACCOUNT_B, "us-east-1")][1].startswith(
        "ResourceLogicalId:Group, ResourceType:AWS::Logs::LogGroup, ResourceStatusReason:Resource handler returned "
        "message: \"Resource of type 'AWS::Logs::LogGroup' with identifier '/rules/group-x' already exists.\"")
    assert results[("210000000003", "us-east-1")][0] == "CANCELLED"
    failed = cfn.describe_stack_instance(StackSetName="rules", StackInstanceAccount=ACCOUNT_B,
                                         StackInstanceRegion="us-east-1")["StackInstance"]
    assert (failed["Status"], failed["StackInstanceStatus"]["DetailedStatus"]) == ("OUTDATED", "FAILED")
    # StackSets deletes a stack whose creation failed.
    first_stack = failed["StackId"]
    assert account_client(moto, "cloudformation", ACCOUNT_B).describe_stacks(
        StackName=first_stack)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    cancelled = cfn.describe_stack_instance(StackSetName="rules", StackInstanceAccount="210000000003",
                                            StackInstanceRegion="us-east-1")["StackInstance"]
    assert (cancelled["Status"], cancelled["StackInstanceStatus"]["DetailedStatus"]) == ("OUTDATED", "CANCELLED")
    assert "StackId" not in cancelled

    # The fix (the leftover is deleted), then an update operation: the stacks are created.
    account_client(moto, "logs", ACCOUNT_B).delete_log_group(logGroupName="/rules/group-x")
    retry = cfn.update_stack_instances(StackSetName="rules", Accounts=[ACCOUNT_B, "210000000003"],
                                       Regions=["us-east-1"])
    assert cfn.describe_stack_set_operation(StackSetName="rules", OperationId=retry["OperationId"])[
        "StackSetOperation"]["Status"] == "SUCCEEDED"
    statuses = {(s["Account"], s["Status"]) for s in cfn.list_stack_instances(StackSetName="rules")["Summaries"]}
    assert statuses == {(a, "CURRENT") for a in accounts}
    retried = cfn.describe_stack_instance(StackSetName="rules", StackInstanceAccount=ACCOUNT_B,
                                          StackInstanceRegion="us-east-1")["StackInstance"]
    assert retried["StackId"] != first_stack
    assert "/rules/group-x" in _log_groups(moto, ACCOUNT_B)


def test_failure_tolerance_lets_the_other_accounts_go_on(moto: str) -> None:
    _stack(moto, "leftover", {"Group": _log_group("/rules/group-x", "Retain")}, account=ACCOUNT_A)
    cfn = _stack_set(moto, {"Group": {"Type": "AWS::Logs::LogGroup",
                                      "Properties": {"LogGroupName": {"Fn::Sub": "/rules/group-${Suffix}"}}}})
    operation_id = cfn.create_stack_instances(
        StackSetName="rules", Accounts=[ACCOUNT_A, ACCOUNT_B], Regions=["us-east-1", "us-west-2"],
        OperationPreferences={"FailureToleranceCount": 1, "RegionOrder": ["us-east-1", "us-west-2"]})["OperationId"]
    assert cfn.describe_stack_set_operation(StackSetName="rules", OperationId=operation_id)[
        "StackSetOperation"]["Status"] == "SUCCEEDED"
    assert {k: v[0] for k, v in _results(cfn, operation_id).items()} == {
        (ACCOUNT_A, "us-east-1"): "FAILED", (ACCOUNT_B, "us-east-1"): "SUCCEEDED",
        (ACCOUNT_A, "us-west-2"): "SUCCEEDED", (ACCOUNT_B, "us-west-2"): "SUCCEEDED"}


def test_an_operation_id_is_used_once(moto: str) -> None:
    cfn = _stack_set(moto, {"Group": LOG_GROUP})
    cfn.create_stack_instances(StackSetName="rules", Accounts=[ACCOUNT_A], Regions=["us-east-1"],
                               OperationId="op-once")
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        cfn.create_stack_instances(StackSetName="rules", Accounts=[ACCOUNT_B], Regions=["us-east-1"],
                                   OperationId="op-once")
    assert raised.value.response["Error"]["Code"] == "OperationIdAlreadyExistsException"
    assert [s["Account"] for s in cfn.list_stack_instances(StackSetName="rules")["Summaries"]] == [ACCOUNT_A]


def test_one_operation_runs_at_a_time_and_is_listed_while_it_runs(
        moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulator runs an operation inside the call; hold it there while other calls come in, as
    # they do on AWS while an operation runs (another terminal, or the SDK retrying a timed-out call).
    from rollout.moto_models import stacksets

    entered, release = threading.Event(), threading.Event()
    deploy = stacksets.deploy_instance

    def held(stack_set: Any, instance: Any) -> str:
        entered.set()
        assert release.wait(30)
        return deploy(stack_set, instance)

    monkeypatch.setattr(stacksets, "deploy_instance", held)
    cfn = _stack_set(moto, {"Group": LOG_GROUP})
    first = threading.Thread(target=lambda: cfn.create_stack_instances(
        StackSetName="rules", Accounts=[ACCOUNT_A], Regions=["us-east-1"], OperationId="op-first"))
    first.start()
    try:
        assert entered.wait(30)
        running = cfn.describe_stack_set_operation(StackSetName="rules", OperationId="op-first")
        assert running["StackSetOperation"]["Status"] == "RUNNING"
        calls = {
            "OperationIdAlreadyExistsException": dict(Accounts=[ACCOUNT_A], OperationId="op-first"),
            "OperationInProgressException": dict(Accounts=[ACCOUNT_B], OperationId="op-second"),
        }
        for code, arguments in calls.items():
            with pytest.raises(botocore.exceptions.ClientError) as raised:
                account_client(moto, "cloudformation").create_stack_instances(
                    StackSetName="rules", Regions=["us-east-1"], **arguments)
            assert raised.value.response["Error"]["Code"] == code
    finally:
        release.set()
        first.join(30)
    done = cfn.describe_stack_set_operation(StackSetName="rules", OperationId="op-first")["StackSetOperation"]
    assert done["Status"] == "SUCCEEDED"
    # The refused call started nothing; the next one runs.
    cfn.create_stack_instances(StackSetName="rules", Accounts=[ACCOUNT_B], Regions=["us-east-1"],
                               OperationId="op-second")
    assert {s["Account"]: s["Status"] for s in cfn.list_stack_instances(StackSetName="rules")["Summaries"]} == {
        ACCOUNT_A: "CURRENT", ACCOUNT_B: "CURRENT"}
