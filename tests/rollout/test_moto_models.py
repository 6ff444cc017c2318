"""The emulated CloudFormation models: resources land in moto's service APIs, bad ones fail like AWS."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.exceptions
import pytest

from rollout.moto_models.assume_role import seed_role
from rollout.rehearse import ADMIN_ACCOUNT, rehearsal_session
from rollout_support import ROOT

EDGE_FUNCTION_ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {"RoleName": "edge-role", "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}}]}},
}


def _client(moto: str, service: str, region: str = "us-east-1") -> Any:
    return rehearsal_session().client(service, region_name=region, endpoint_url=moto)


class StackFailed(Exception):
    """The stack did not reach CREATE_COMPLETE (what a CloudFormation waiter reports)."""

    def __init__(self, status: str, reasons: list[str]):
        super().__init__(f"{status}: {'; '.join(reasons)}")
        self.status = status
        self.reasons = reasons


def _failure_reasons(cfn: Any, stack_id: str) -> list[str]:
    """Reasons of the resources that failed, the stack's and its nested stacks', oldest first."""
    reasons = []
    for event in reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"]):
        if event["ResourceStatus"].endswith("_FAILED") and event["LogicalResourceId"] != event["StackName"]:
            reasons.append(f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}")
            if event["ResourceType"] == "AWS::CloudFormation::Stack" and event.get("PhysicalResourceId"):
                reasons.extend(_failure_reasons(cfn, event["PhysicalResourceId"]))
    return reasons


def _create(moto: str, resources: dict[str, Any], region: str = "us-east-1", outputs: dict[str, Any] | None = None,
            name: str = "models") -> dict[str, str]:
    """Create a stack (synchronous in moto) and return its outputs.

    A template error fails the call (ClientError); a resource that fails ends the stack in
    ROLLBACK_COMPLETE, raised as StackFailed with the failed resources' reasons.
    """
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, "Outputs": outputs or {}}
    cfn = _client(moto, "cloudformation", region)
    stack_id = cfn.create_stack(StackName=name, TemplateBody=json.dumps(template),
                                Capabilities=["CAPABILITY_NAMED_IAM"])["StackId"]
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise StackFailed(stack["StackStatus"], _failure_reasons(cfn, stack_id))
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _edge_function(name: str, memory: int = 128, timeout: int = 5, environment: dict | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "FunctionName": name, "Runtime": "python3.12", "Handler": "index.handler", "MemorySize": memory,
        "Timeout": timeout, "Role": {"Fn::GetAtt": ["EdgeRole", "Arn"]},
        "Code": {"ZipFile": "def handler(event, context):\n    return event\n"}}
    if environment:
        properties["Environment"] = {"Variables": environment}
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


def _distribution(association_arn: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    config = {
        "Enabled": True,
        "Origins": [{"Id": "origin", "DomainName": "site-origin.s3.us-west-2.amazonaws.com",
                     "S3OriginConfig": {"OriginAccessIdentity": ""}}],
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin", "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            "LambdaFunctionAssociations": [{"EventType": "viewer-request", "LambdaFunctionARN": association_arn}]},
    }
    config.update(extra or {})
    return {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": config}}


def _stack_error(excinfo: pytest.ExceptionInfo) -> str:
    if isinstance(excinfo.value, StackFailed):
        assert excinfo.value.status == "ROLLBACK_COMPLETE"
        return "; ".join(excinfo.value.reasons)
    return excinfo.value.response["Error"]["Message"]


def test_lambda_version_ref_is_the_numbered_arn_and_the_distribution_keeps_it(moto: str) -> None:
    outputs = _create(moto, {
        "EdgeRole": EDGE_FUNCTION_ROLE,
        "Viewer": _edge_function("viewer"),
        "ViewerVersion": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Viewer"}}},
        "Distribution": _distribution({"Ref": "ViewerVersion"}),
    }, outputs={"Version": {"Value": {"Fn::GetAtt": ["ViewerVersion", "Version"]}},
                "VersionArn": {"Value": {"Ref": "ViewerVersion"}},
                "DistributionId": {"Value": {"Ref": "Distribution"}}})
    assert outputs["VersionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:viewer:1"
    assert outputs["Version"] == "1"
    config = _client(moto, "cloudfront").get_distribution(Id=outputs["DistributionId"])["Distribution"]["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["LambdaFunctionAssociations"]["Items"] == [
        {"LambdaFunctionARN": outputs["VersionArn"], "EventType": "viewer-request", "IncludeBody": False}]
    _client(moto, "lambda").get_function(FunctionName="viewer", Qualifier="1")


@pytest.mark.parametrize("case, function, association, message", [
    ("unqualified", _edge_function("viewer"), {"Fn::GetAtt": ["Viewer", "Arn"]},
     "The function ARN must reference a specific function version"),
    ("environment", _edge_function("viewer", environment={"A": "1"}), {"Ref": "ViewerVersion"},
     "The function cannot have environment variables"),
    ("viewer memory", _edge_function("viewer", memory=256), {"Ref": "ViewerVersion"},
     "The function memory for a viewer event is limited to 128 MB"),
    ("viewer timeout", _edge_function("viewer", timeout=10), {"Ref": "ViewerVersion"},
     "The function execution time for viewer-request is limited to 5 seconds"),
])
def test_distribution_rejects_what_lambda_at_edge_rejects(moto: str, case: str, function: dict,
                                                          association: Any, message: str) -> None:
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {
            "EdgeRole": EDGE_FUNCTION_ROLE, "Viewer": function,
            "ViewerVersion": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Viewer"}}},
            "Distribution": _distribution(association),
        })
    assert "InvalidLambdaFunctionAssociation" in _stack_error(excinfo)
    assert message in _stack_error(excinfo)
    assert _client(moto, "cloudfront").list_distributions()["DistributionList"].get("Items") is None


def test_edge_function_role_must_trust_edgelambda(moto: str) -> None:
    role = json.loads(json.dumps(EDGE_FUNCTION_ROLE))
    role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] = ["lambda.amazonaws.com"]
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"EdgeRole": role, "Viewer": _edge_function("viewer"),
                       "ViewerVersion": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Viewer"}}},
                       "Distribution": _distribution({"Ref": "ViewerVersion"})})
    assert "edgelambda.amazonaws.com" in _stack_error(excinfo)


def test_web_acl_scope_cloudfront_lives_in_the_global_backend_and_only_from_us_east_1(moto: str) -> None:
    web_acl = {"Type": "AWS::WAFv2::WebACL", "Properties": {
        "Name": "edge-acl", "Scope": "CLOUDFRONT", "DefaultAction": {"Allow": {}},
        "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "acl"},
        "Rules": [{"Name": "Rate", "Priority": 0, "Action": {"Block": {}},
                   "Statement": {"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP"}},
                   "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                                        "MetricName": "rate"}}]}}
    outputs = _create(moto, {"Acl": web_acl, "AclLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {
        "LogGroupName": "aws-waf-logs-edge"}}, "Logging": {"Type": "AWS::WAFv2::LoggingConfiguration", "Properties": {
            "ResourceArn": {"Fn::GetAtt": ["Acl", "Arn"]},
            "LogDestinationConfigs": [{"Fn::GetAtt": ["AclLogs", "Arn"]}]}}},
        outputs={"Arn": {"Value": {"Fn::GetAtt": ["Acl", "Arn"]}}, "Ref": {"Value": {"Ref": "Acl"}}})
    wafv2 = _client(moto, "wafv2")
    listed = wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    assert [a["ARN"] for a in listed] == [outputs["Arn"]]
    assert ":global/webacl/edge-acl/" in outputs["Arn"]
    assert outputs["Ref"].startswith("edge-acl|") and outputs["Ref"].endswith("|CLOUDFRONT")
    assert wafv2.get_logging_configuration(ResourceArn=outputs["Arn"])["LoggingConfiguration"]["LogDestinationConfigs"]
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Acl": web_acl}, region="us-west-2", name="west")
    assert "must be created in us-east-1" in _stack_error(excinfo)


def test_waf_logging_destination_name_must_start_with_aws_waf_logs(moto: str) -> None:
    web_acl = {"Type": "AWS::WAFv2::WebACL", "Properties": {
        "Name": "acl2", "Scope": "CLOUDFRONT", "DefaultAction": {"Allow": {}},
        "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "a"}}}
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Acl": web_acl, "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "waf"}},
                       "Logging": {"Type": "AWS::WAFv2::LoggingConfiguration", "Properties": {
                           "ResourceArn": {"Fn::GetAtt": ["Acl", "Arn"]},
                           "LogDestinationConfigs": [{"Fn::GetAtt": ["Logs", "Arn"]}]}}})
    assert "must start with aws-waf-logs-" in _stack_error(excinfo)


def test_certificate_validates_through_the_zone_and_covers_the_aliases(moto: str) -> None:
    route53 = _client(moto, "route53")
    zone_id = route53.create_hosted_zone(Name="example.com", CallerReference="z")["HostedZone"]["Id"].split("/")[-1]
    outputs = _create(moto, {"Certificate": {"Type": "AWS::CertificateManager::Certificate", "Properties": {
        "DomainName": "example.com", "SubjectAlternativeNames": ["www.example.com"], "ValidationMethod": "DNS",
        "DomainValidationOptions": [{"DomainName": "example.com", "HostedZoneId": zone_id},
                                    {"DomainName": "www.example.com", "HostedZoneId": zone_id}]}}},
        outputs={"Arn": {"Value": {"Ref": "Certificate"}}})
    certificate = _client(moto, "acm").describe_certificate(CertificateArn=outputs["Arn"])["Certificate"]
    assert certificate["Status"] == "ISSUED"
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    validation = {r["Name"] for r in records if r["Type"] == "CNAME"}
    expected = {o["ResourceRecord"]["Name"] for o in certificate["DomainValidationOptions"]}
    assert expected and expected <= validation


def test_certificate_without_a_zone_fails_instead_of_waiting_forever(moto: str) -> None:
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Certificate": {"Type": "AWS::CertificateManager::Certificate", "Properties": {
            "DomainName": "example.com", "ValidationMethod": "DNS",
            "DomainValidationOptions": [{"DomainName": "example.com", "HostedZoneId": "Z0000000000NOSUCHZONE"}]}}})
    assert "No hosted zone found with ID: Z0000000000NOSUCHZONE" in _stack_error(excinfo)


def test_distribution_aliases_need_a_certificate_in_us_east_1_that_covers_them(moto: str) -> None:
    acm_west = _client(moto, "acm", "us-west-2")
    west_arn = acm_west.request_certificate(DomainName="example.com", ValidationMethod="DNS")["CertificateArn"]
    distribution = _distribution("unused", {"Aliases": ["example.com"], "ViewerCertificate": {
        "AcmCertificateArn": west_arn, "SslSupportMethod": "sni-only"}})
    distribution["Properties"]["DistributionConfig"]["DefaultCacheBehavior"].pop("LambdaFunctionAssociations")
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Distribution": distribution})
    assert "isn't in us-east-1 region" in _stack_error(excinfo)


def test_distribution_logging_bucket_must_exist(moto: str) -> None:
    distribution = _distribution("unused", {"Logging": {"Bucket": "no-such-logs.s3.amazonaws.com", "Prefix": "cf/"}})
    distribution["Properties"]["DistributionConfig"]["DefaultCacheBehavior"].pop("LambdaFunctionAssociations")
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Distribution": distribution})
    assert "The S3 bucket that you specified for CloudFront logs does not exist: no-such-logs.s3.amazonaws.com" \
        in _stack_error(excinfo)


def test_distribution_policies_and_origin_access_control_must_exist(moto: str) -> None:
    distribution = _distribution("unused")
    behavior = distribution["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    behavior.pop("LambdaFunctionAssociations")
    behavior["CachePolicyId"] = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Distribution": distribution})
    assert "The cache policy does not exist: 00000000-0000-0000-0000-000000000000" in _stack_error(excinfo)


def test_global_table_has_a_replica_table_in_each_region(moto: str) -> None:
    table = {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
        "TableName": "edge-config", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "v", "AttributeType": "N"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "v", "KeyType": "RANGE"}],
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        "Replicas": [{"Region": "us-west-2", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
                     {"Region": "eu-west-1"}]}}
    outputs = _create(moto, {"Table": table}, region="us-west-2",
                      outputs={"Arn": {"Value": {"Fn::GetAtt": ["Table", "Arn"]}},
                               "Stream": {"Value": {"Fn::GetAtt": ["Table", "StreamArn"]}}})
    assert outputs["Arn"] == "arn:aws:dynamodb:us-west-2:123456789012:table/edge-config"
    assert outputs["Stream"].startswith(outputs["Arn"] + "/stream/")
    for region in ("us-west-2", "eu-west-1"):
        described = _client(moto, "dynamodb", region).describe_table(TableName="edge-config")["Table"]
        assert [k["AttributeName"] for k in described["KeySchema"]] == ["pk", "v"]
    backups = _client(moto, "dynamodb", "us-west-2").describe_continuous_backups(TableName="edge-config")
    assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    table["Properties"]["Replicas"] = [{"Region": "eu-west-1"}]
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Table": table}, region="us-west-2", name="other")
    assert "Replicas must include the stack's region us-west-2" in _stack_error(excinfo)


def test_alarm_topic_policy_and_subscription_reach_cloudwatch_and_sns(moto: str) -> None:
    _create(moto, {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alarms"}},
        "TopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Sid": "CloudWatch", "Effect": "Allow",
                                                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                                    "Action": "sns:Publish", "Resource": {"Ref": "Topic"}}]}}},
        "Subscription": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "Topic"}, "Protocol": "email", "Endpoint": "oncall@example.com"}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": "errors", "Namespace": "AWS/CloudFront", "MetricName": "5xxErrorRate",
            "Dimensions": [{"Name": "DistributionId", "Value": "E123"}, {"Name": "Region", "Value": "Global"}],
            "Statistic": "Average", "Period": 300, "EvaluationPeriods": 2, "Threshold": 1,
            "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [{"Ref": "Topic"}]}},
    })
    topic_arn = "arn:aws:sns:us-east-1:123456789012:alarms"
    sns = _client(moto, "sns")
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["Policy"])
    assert policy["Statement"][0]["Sid"] == "CloudWatch"
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "oncall@example.com")]
    alarm = _client(moto, "cloudwatch").describe_alarms(AlarmNames=["errors"])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [topic_arn]
    assert {"Name": "DistributionId", "Value": "E123"} in alarm["Dimensions"]


def test_alarm_action_topic_must_be_in_the_alarm_region(moto: str) -> None:
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": "x", "Namespace": "AWS/DynamoDB", "MetricName": "ThrottledRequests", "Statistic": "Sum",
            "Period": 60, "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:alarms"]}}}, region="us-west-2")
    assert "Invalid region us-east-1 specified. Only us-west-2 is supported." in _stack_error(excinfo)


def test_bucket_policy_is_on_the_bucket_and_its_tls_condition_does_not_deny_everything(moto: str) -> None:
    _create(moto, {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "policy-bucket"}},
        "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": ["arn:aws:s3:::policy-bucket", "arn:aws:s3:::policy-bucket/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
    })
    s3 = _client(moto, "s3")
    assert json.loads(s3.get_bucket_policy(Bucket="policy-bucket")["Policy"])["Statement"][0]["Sid"] == "DenyInsecureTransport"
    s3.put_object(Bucket="policy-bucket", Key="index.html", Body=b"hello")
    assert s3.get_object(Bucket="policy-bucket", Key="index.html")["Body"].read() == b"hello"


def test_nested_stack_outputs_and_missing_output_error(moto: str) -> None:
    s3 = _client(moto, "s3")
    s3.create_bucket(Bucket="nested-templates")
    child = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "child-topic"}}},
             "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}}}
    s3.put_object(Bucket="nested-templates", Key="child.json", Body=json.dumps(child).encode())
    url = "https://nested-templates.s3.us-east-1.amazonaws.com/child.json"
    outputs = _create(moto, {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}}},
                      outputs={"FromChild": {"Value": {"Fn::GetAtt": ["Child", "Outputs.TopicArn"]}}})
    assert outputs["FromChild"] == "arn:aws:sns:us-east-1:123456789012:child-topic"
    _client(moto, "cloudformation").delete_stack(StackName="models")  # the child's topic name is free again
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}},
                       "Reader": {"Type": "AWS::SNS::Topic", "Properties": {
                           "TopicName": {"Fn::GetAtt": ["Child", "Outputs.NoSuchOutput"]}}}}, name="second")
    assert "does not have an output named NoSuchOutput" in _stack_error(excinfo)


def _account_session(moto: str, account: str) -> boto3.Session:
    """Credentials of another moto account, entered through STS as on AWS."""
    seed_role(account, "rules-test", ADMIN_ACCOUNT)
    credentials = _client(moto, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/rules-test", RoleSessionName="rules")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"])


def test_template_rules_are_checked_before_anything_is_created(moto: str) -> None:
    """The generated root asserts its accounts, its regions and, in the primary region, a DistributionArn."""
    prod_account = _account_session(moto, "333333333333")
    s3 = prod_account.client("s3", region_name="us-west-2", endpoint_url=moto)
    s3.create_bucket(Bucket="rule-templates", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    templates_bucket = [{"ParameterKey": "TemplatesBucket", "ParameterValue": "rule-templates"}]
    root = (ROOT / "output" / "prod" / "root.json").read_text()
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        _client(moto, "cloudformation", "us-west-2").create_stack(
            StackName="other-account", TemplateBody=root, Parameters=templates_bucket)
    assert ("Template rule ConfiguredAccount failed: This environment deploys only to the accounts of prod.yaml: "
            "333333333333, 444444444444, 555555555555.") in _stack_error(excinfo)
    cfn = prod_account.client("cloudformation", region_name="us-west-2", endpoint_url=moto)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        cfn.create_stack(StackName="no-override", TemplateBody=root, Parameters=templates_bucket)
    assert ("Template rule DistributionArnInPrimaryRegion failed: In us-west-2, DistributionArn must be the ARN "
            "that the us-east-1 stack outputs as DistributionArn.") in _stack_error(excinfo)
    dev_root = (ROOT / "output" / "dev" / "root.json").read_text()
    # sa-east-1: a regional edge cache, but beyond dev's PriceClass_100, so not one of dev's regions.
    dev_account = _account_session(moto, "111111111111").client(
        "cloudformation", region_name="sa-east-1", endpoint_url=moto)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        dev_account.create_stack(StackName="wrong-region", TemplateBody=dev_root, Parameters=templates_bucket)
    assert ("Template rule SupportedRegion failed: This environment deploys only to us-east-1, us-east-2, "
            "us-west-1, us-west-2, eu-central-1, eu-west-1, eu-west-2.") in _stack_error(excinfo)
    assert s3.list_objects_v2(Bucket="rule-templates")["KeyCount"] == 0
    for client in (cfn, dev_account, _client(moto, "cloudformation", "us-west-2")):
        assert [s["StackName"] for s in client.list_stacks()["StackSummaries"]] == []


def test_bucket_settings_reach_the_s3_api_and_access_logs_stay_in_the_region(moto: str) -> None:
    logs = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "west-logs"}}
    origin = {"Type": "AWS::S3::Bucket", "Properties": {
        "BucketName": "west-origin",
        "VersioningConfiguration": {"Status": "Enabled"},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}, "LogFilePrefix": "origin/"}}}
    _create(moto, {"Logs": logs, "Origin": origin}, region="us-west-2")
    s3 = _client(moto, "s3", "us-west-2")
    assert s3.get_bucket_versioning(Bucket="west-origin")["Status"] == "Enabled"
    assert s3.get_bucket_ownership_controls(Bucket="west-origin")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    assert all(s3.get_public_access_block(Bucket="west-origin")["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_logging(Bucket="west-origin")["LoggingEnabled"] == {
        "TargetBucket": "west-logs", "TargetPrefix": "origin/"}

    _create(moto, {"Logs": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "east-logs"}}}, name="east")
    cross = json.loads(json.dumps(origin))
    cross["Properties"]["BucketName"] = "west-origin-2"
    cross["Properties"]["LoggingConfiguration"]["DestinationBucketName"] = "east-logs"
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Origin": cross}, region="us-west-2", name="cross")
    assert "CrossLocationLoggingProhibited" in _stack_error(excinfo)


def test_nested_stack_update_reaches_dependents_in_dependency_order(moto: str) -> None:
    """A consumer that comes first in the template still reads its producer's new output."""
    s3 = _client(moto, "s3")
    s3.create_bucket(Bucket="order-templates")

    def publish(prefix: str, topic_name: str) -> None:
        producer = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": topic_name}}},
                    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}}}
        consumer = {"Parameters": {"TopicArn": {"Type": "String"}}, "Resources": {
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmName": "order-alarm", "Namespace": "AWS/SNS", "MetricName": "NumberOfNotificationsFailed",
                "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
                "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [{"Ref": "TopicArn"}]}}}}
        s3.put_object(Bucket="order-templates", Key=f"{prefix}producer.json", Body=json.dumps(producer).encode())
        s3.put_object(Bucket="order-templates", Key=f"{prefix}consumer.json", Body=json.dumps(consumer).encode())

    def url(name: str) -> dict[str, Any]:
        return {"Fn::Sub": f"https://order-templates.s3.us-east-1.amazonaws.com/${{Prefix}}{name}.json"}

    root = json.dumps({"Parameters": {"Prefix": {"Type": "String"}}, "Resources": {
        "AConsumer": {"Type": "AWS::CloudFormation::Stack", "Properties": {
            "TemplateURL": url("consumer"), "Parameters": {"TopicArn": {"Fn::GetAtt": ["ZProducer", "Outputs.TopicArn"]}}}},
        "ZProducer": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url("producer")}}}})
    publish("v1/", "first-topic")
    cfn = _client(moto, "cloudformation")
    cfn.create_stack(StackName="order", TemplateBody=root, Parameters=[{"ParameterKey": "Prefix", "ParameterValue": "v1/"}])
    cloudwatch = _client(moto, "cloudwatch")
    assert cloudwatch.describe_alarms(AlarmNames=["order-alarm"])["MetricAlarms"][0]["AlarmActions"] == [
        "arn:aws:sns:us-east-1:123456789012:first-topic"]
    publish("v2/", "second-topic")
    cfn.update_stack(StackName="order", TemplateBody=root, Parameters=[{"ParameterKey": "Prefix", "ParameterValue": "v2/"}])
    assert cloudwatch.describe_alarms(AlarmNames=["order-alarm"])["MetricAlarms"][0]["AlarmActions"] == [
        "arn:aws:sns:us-east-1:123456789012:second-topic"]


# --- log groups, LoggingConfig, parallel stack-set operations (issue 9) ---------------------------


def _logs_key(principal_region: str | None = "us-east-1") -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
         "Action": "kms:*", "Resource": "*"}]
    if principal_region:
        statements.append({"Effect": "Allow", "Principal": {"Service": f"logs.{principal_region}.amazonaws.com"},
                           "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*",
                                      "kms:DescribeKey"], "Resource": "*"})
    return {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}}


def _group(name: str, retention: int | None = 30, key: Any = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"LogGroupName": name}
    if retention is not None:
        properties["RetentionInDays"] = retention
    if key is not None:
        properties["KmsKeyId"] = key
    if tags:
        properties["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return {"Type": "AWS::Logs::LogGroup", "Properties": properties}


def test_log_group_gets_its_key_retention_and_tags_and_updates_in_place(moto: str) -> None:
    _create(moto, {"Key": _logs_key(), "Group": _group("/shop/prod/lambda-edge/viewer-request",
                                                       key={"Fn::GetAtt": ["Key", "Arn"]}, tags={"Project": "shop"})})
    logs = _client(moto, "logs")
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/shop/")["logGroups"]
    assert group["retentionInDays"] == 30 and group["kmsKeyId"].startswith("arn:aws:kms:us-east-1:")
    assert logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"] == {"Project": "shop"}

    cfn = _client(moto, "cloudformation")
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
        "Key": _logs_key(), "Group": _group("/shop/prod/lambda-edge/viewer-request", retention=90,
                                            key={"Fn::GetAtt": ["Key", "Arn"]}, tags={"Team": "web"})}}
    cfn.update_stack(StackName="models", TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName="models")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/shop/")["logGroups"]
    assert group["retentionInDays"] == 90
    assert logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"] == {"Team": "web"}


@pytest.mark.parametrize(("case", "resources", "reason"), [
    ("key that CloudWatch Logs of the region may not use",
     {"Key": _logs_key(principal_region=None), "Group": _group("/g", key={"Fn::GetAtt": ["Key", "Arn"]})},
     "The specified KMS key"),
    ("key whose policy names another region's CloudWatch Logs",
     {"Key": _logs_key(principal_region="eu-west-1"), "Group": _group("/g", key={"Fn::GetAtt": ["Key", "Arn"]})},
     "is not allowed to be used with CloudWatch Logs"),
    ("key of another region",
     {"Group": _group("/g", key="arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555")},
     "does not exist or is not allowed"),
    ("retention CloudWatch Logs does not offer", {"Group": _group("/g", retention=10)},
     "RetentionInDays 10 is not one of 1, 3, 5, 7, 14, 30"),
])
def test_log_group_refuses_what_cloudwatch_logs_refuses(moto: str, case: str, resources: dict, reason: str) -> None:
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, resources)
    assert reason in _stack_error(excinfo), case
    assert _client(moto, "logs").describe_log_groups(logGroupNamePrefix="/g")["logGroups"] == []


def test_log_group_name_taken_fails_already_exists(moto: str) -> None:
    _client(moto, "logs").create_log_group(logGroupName="/taken")
    with pytest.raises(StackFailed) as excinfo:
        _create(moto, {"Group": _group("/taken")})
    assert "Resource of type 'AWS::Logs::LogGroup' with identifier '/taken' already exists." in _stack_error(excinfo)


def test_lambda_logging_config_through_cloudformation_and_the_api(moto: str) -> None:
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}}}
    function = _edge_function("logs-here")
    function["Properties"]["Role"] = {"Fn::GetAtt": ["EdgeRole", "Arn"]}
    function["Properties"]["LoggingConfig"] = {"LogGroup": {"Ref": "Group"}}
    plain = _edge_function("logs-default")
    _create(moto, {"EdgeRole": role, "Group": _group("/shop/prod/lambda-edge/x"), "Fn": function, "Plain": plain})
    lambda_client = _client(moto, "lambda")
    assert lambda_client.get_function_configuration(FunctionName="logs-here")["LoggingConfig"] == {
        "LogFormat": "Text", "LogGroup": "/shop/prod/lambda-edge/x"}
    assert lambda_client.get_function_configuration(FunctionName="logs-default")["LoggingConfig"] == {
        "LogFormat": "Text", "LogGroup": "/aws/lambda/logs-default"}
    lambda_client.update_function_configuration(FunctionName="logs-default", LoggingConfig={"LogGroup": "/other"})
    assert lambda_client.get_function_configuration(FunctionName="logs-default")["LoggingConfig"]["LogGroup"] == "/other"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        lambda_client.update_function_configuration(FunctionName="logs-default",
                                                    LoggingConfig={"LogGroup": "no spaces allowed"})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        lambda_client.update_function_configuration(FunctionName="logs-default", LoggingConfig={
            "LogFormat": "Text", "ApplicationLogLevel": "DEBUG"})
    assert "JSON log format" in excinfo.value.response["Error"]["Message"]


def _stack_set(moto: str, name: str, template: dict[str, Any]) -> Any:
    cfn = _client(moto, "cloudformation")
    cfn.create_stack_set(StackSetName=name, TemplateBody=json.dumps(template), PermissionModel="SELF_MANAGED")
    return cfn


@pytest.mark.parametrize(("concurrency", "expected"), [
    # One after the other: the failing region stops the operation, the later region is cancelled.
    ("SEQUENTIAL", {"us-east-1": "FAILED", "eu-west-1": "CANCELLED"}),
    # All at once: each region runs its own course.
    ("PARALLEL", {"us-east-1": "FAILED", "eu-west-1": "SUCCEEDED"}),
])
def test_a_failed_region_cancels_later_regions_only_when_they_go_one_after_the_other(
        moto: str, concurrency: str, expected: dict[str, str]) -> None:
    # The group exists in us-east-1 only: that region's instance fails "already exists".
    _client(moto, "logs").create_log_group(logGroupName="/in-the-way")
    cfn = _stack_set(moto, f"set-{concurrency.lower()}", {
        "AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Group": _group("/in-the-way")}})
    preferences: dict[str, Any] = {"RegionConcurrencyType": concurrency, "FailureToleranceCount": 0,
                                   "MaxConcurrentCount": 1}
    if concurrency == "SEQUENTIAL":
        preferences["RegionOrder"] = ["us-east-1", "eu-west-1"]
    operation = cfn.create_stack_instances(StackSetName=f"set-{concurrency.lower()}", Accounts=["123456789012"],
                                           Regions=["us-east-1", "eu-west-1"], OperationPreferences=preferences)
    op_id = operation["OperationId"]
    described = cfn.describe_stack_set_operation(StackSetName=f"set-{concurrency.lower()}", OperationId=op_id)
    assert described["StackSetOperation"]["Status"] == "FAILED"
    assert described["StackSetOperation"]["OperationPreferences"]["RegionConcurrencyType"] == concurrency
    results = cfn.list_stack_set_operation_results(StackSetName=f"set-{concurrency.lower()}", OperationId=op_id)
    assert {r["Region"]: r["Status"] for r in results["Summaries"]} == expected
