"""The emulator fixes `deploy.py site` relies on: moto answers as AWS does."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from rollout_support import moto_clients


def _distribution(cloudfront) -> str:
    config = {
        "CallerReference": "site-fixes", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "b.s3.us-east-1.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    }
    return cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


# botocore's CloudFront model does not list InvalidationBatchAlreadyExists, which the API documents.
@pytest.mark.filterwarnings("ignore:Exception\\(CloudFrontException\\) with code InvalidationBatchAlreadyExists")
def test_create_invalidation_refuses_what_cloudfront_refuses(moto: str) -> None:
    cloudfront = moto_clients(moto).admin("cloudfront", "us-east-1")
    distribution = _distribution(cloudfront)

    def invalidate(paths: list[str], reference: str = "r1") -> str:
        return cloudfront.create_invalidation(DistributionId=distribution, InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": reference})["Invalidation"]["Id"]

    for bad, code in ((["no-slash.html"], "InvalidArgument"), (["/a*b.html"], "InvalidArgument"),
                      ([f"/{i}.html" for i in range(3001)], "BatchTooLarge")):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            invalidate(bad)
        assert caught.value.response["Error"]["Code"] == code
    first = invalidate(["/index.html", "/docs/*"])
    assert invalidate(["/docs/*", "/index.html"]) == first  # the same request again: the same invalidation
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        invalidate(["/other.html"])  # same CallerReference, other paths
    assert caught.value.response["Error"]["Code"] == "InvalidationBatchAlreadyExists"


def test_a_bucket_policy_statement_for_a_service_binds_no_api_caller(moto: str) -> None:
    s3 = moto_clients(moto).admin("s3", "us-east-1")
    s3.create_bucket(Bucket="fixes-bucket")
    s3.put_object(Bucket="fixes-bucket", Key=".edgecdn/releases/1.json", Body=b"{}")
    s3.put_object(Bucket="fixes-bucket", Key="index.html", Body=b"hi")
    statements = [{"Sid": "DenyCloudFront", "Effect": "Deny", "Principal": {"Service": "cloudfront.amazonaws.com"},
                   "Action": "s3:GetObject", "Resource": "arn:aws:s3:::fixes-bucket/.edgecdn/*"}]
    s3.put_bucket_policy(Bucket="fixes-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    assert s3.get_object(Bucket="fixes-bucket", Key=".edgecdn/releases/1.json")["Body"].read() == b"{}"
    statements.append({"Sid": "DenyEveryone", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::fixes-bucket/index.html"})
    s3.put_bucket_policy(Bucket="fixes-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_object(Bucket="fixes-bucket", Key="index.html")


def test_a_template_role_keeps_its_inline_policy_as_json_and_follows_updates(moto: str) -> None:
    clients = moto_clients(moto)
    cfn, iam = clients.admin("cloudformation", "us-east-1"), clients.admin("iam", "us-east-1")

    def template(action: str) -> str:
        return json.dumps({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": "fixes-role",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "Publish", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": [action], "Resource": ["arn:aws:s3:::b/*"]}]}}]}}}})

    cfn.create_stack(StackName="fixes", TemplateBody=template("s3:GetObject"), Capabilities=["CAPABILITY_NAMED_IAM"])
    document = iam.get_role_policy(RoleName="fixes-role", PolicyName="Publish")["PolicyDocument"]
    assert document["Statement"][0]["Action"] == ["s3:GetObject"]  # a JSON document, as IAM returns it
    cfn.update_stack(StackName="fixes", TemplateBody=template("s3:PutObject"), Capabilities=["CAPABILITY_NAMED_IAM"])
    document = iam.get_role_policy(RoleName="fixes-role", PolicyName="Publish")["PolicyDocument"]
    assert document["Statement"][0]["Action"] == ["s3:PutObject"]
