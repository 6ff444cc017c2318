"""Lambda fetches S3 code in the function's region with the caller's permissions (moto read any bucket)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from typing import Any

import botocore.exceptions
import pytest

from rollout import naming
from rollout.moto_models.lambda_code import bucket_policy_allows_get
from rollout.rehearse import ADMIN_ACCOUNT
from rollout_support import account_client

TARGET = "210000000011"  # an environment account: the functions are created there
BUCKET = naming.template_bucket_name("edgecdn", ADMIN_ACCOUNT, "us-east-1")
WEST_BUCKET = naming.template_bucket_name("edgecdn", ADMIN_ACCOUNT, "us-west-2")
KEY = "prod/lambda-edge/viewer-request-0123abcd.zip"
REGION_REFUSAL = ("Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: "
                  "The bucket is in this region: us-west-2. Please use this region to retry the request")
ACCESS_REFUSAL = "Error occurred while GetObject. S3 Error Code: AccessDenied. S3 Error Message: Access Denied"

# What bootstrap writes on the template bucket (rollout/bootstrap.py: template_bucket_policy).
DENY_INSECURE = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def _read(prefix: str, principal: Any = None) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/{prefix}",
            "Principal": principal or {"AWS": [naming.execution_role_arn(TARGET)]}}


def _package(text: str = "def handler(event, context):\n    return event\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", text)
    return buffer.getvalue()


def _bucket(moto: str, name: str, region: str, objects: dict[str, bytes], statements: list[dict] | None = None,
            account: str | None = None) -> None:
    s3 = account_client(moto, "s3", account, region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    for key, body in objects.items():
        s3.put_object(Bucket=name, Key=key, Body=body)
    if statements:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))


def _function_role(moto: str, account: str) -> str:
    """The functions' role (Lambda refuses a role it cannot assume)."""
    iam = account_client(moto, "iam", account)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    try:
        iam.create_role(RoleName="edge-functions", AssumeRolePolicyDocument=json.dumps(trust))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    return f"arn:aws:iam::{account}:role/edge-functions"


def _create(moto: str, bucket: str, key: str = KEY, account: str = TARGET, name: str = "viewer-request") -> Any:
    return account_client(moto, "lambda", account).create_function(
        FunctionName=name, Runtime="python3.13", Handler="index.handler",
        Role=_function_role(moto, account), Code={"S3Bucket": bucket, "S3Key": key})


def _refusal(call: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def _function_names(moto: str, account: str = TARGET) -> list[str]:
    return [f["FunctionName"] for f in account_client(moto, "lambda", account).list_functions()["Functions"]]


def _sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


# --- CreateFunction ----------------------------------------------------------------------------------


def test_a_bucket_in_another_region_is_refused(moto: str) -> None:
    _bucket(moto, WEST_BUCKET, "us-west-2", {KEY: _package()})
    # Same account: only the region is wrong.
    assert _refusal(lambda: _create(moto, WEST_BUCKET, account=ADMIN_ACCOUNT)) == (
        "InvalidParameterValueException", REGION_REFUSAL)
    assert _function_names(moto, ADMIN_ACCOUNT) == []


def test_another_accounts_bucket_without_a_policy_is_refused(moto: str) -> None:
    _bucket(moto, BUCKET, "us-east-1", {KEY: _package()})
    assert _refusal(lambda: _create(moto, BUCKET)) == ("InvalidParameterValueException", ACCESS_REFUSAL)
    assert _function_names(moto) == []


def test_another_accounts_bucket_whose_policy_lets_the_execution_role_read_the_prefix(moto: str) -> None:
    package = _package()
    _bucket(moto, BUCKET, "us-east-1", {KEY: package}, [DENY_INSECURE, _read("prod/*")])
    configuration = _create(moto, BUCKET)
    assert configuration["CodeSha256"] == _sha256(package)
    assert configuration["CodeSize"] == len(package)
    assert _function_names(moto) == ["viewer-request"]


def test_a_policy_for_another_prefix_is_refused(moto: str) -> None:
    _bucket(moto, BUCKET, "us-east-1", {KEY: _package()}, [DENY_INSECURE, _read("staging/*")])
    assert _refusal(lambda: _create(moto, BUCKET)) == ("InvalidParameterValueException", ACCESS_REFUSAL)


def test_a_policy_for_another_account_is_refused(moto: str) -> None:
    _bucket(moto, BUCKET, "us-east-1", {KEY: _package()},
            [_read("prod/*", {"AWS": naming.execution_role_arn("210000000099")})])
    assert _refusal(lambda: _create(moto, BUCKET)) == ("InvalidParameterValueException", ACCESS_REFUSAL)


def test_a_deny_wins_over_an_allow(moto: str) -> None:
    deny = {"Effect": "Deny", "Principal": {"AWS": TARGET}, "Action": "s3:Get*",
            "Resource": f"arn:aws:s3:::{BUCKET}/prod/lambda-edge/*"}
    _bucket(moto, BUCKET, "us-east-1", {KEY: _package()}, [_read("prod/*"), deny])
    assert _refusal(lambda: _create(moto, BUCKET)) == ("InvalidParameterValueException", ACCESS_REFUSAL)


def test_a_bucket_of_the_functions_account_needs_no_policy(moto: str) -> None:
    package = _package()
    _bucket(moto, "own-code-bucket", "us-east-1", {KEY: package}, account=TARGET)
    assert _create(moto, "own-code-bucket")["CodeSha256"] == _sha256(package)


def test_a_missing_bucket_is_still_no_such_bucket(moto: str) -> None:
    code, message = _refusal(lambda: _create(moto, "no-such-code-bucket"))
    assert code == "InvalidParameterValueException" and "S3 Error Code: NoSuchBucket" in message


# --- UpdateFunctionCode ------------------------------------------------------------------------------


def test_update_function_code_is_checked_too(moto: str) -> None:
    moved = "staging/lambda-edge/viewer-request-4567cdef.zip"
    _bucket(moto, BUCKET, "us-east-1", {KEY: _package(), moved: _package("# staging\n")},
            [DENY_INSECURE, _read("prod/*")])
    _bucket(moto, WEST_BUCKET, "us-west-2", {KEY: _package()}, [_read("prod/*")])
    created = _create(moto, BUCKET)
    lam = account_client(moto, "lambda", TARGET)
    assert _refusal(lambda: lam.update_function_code(FunctionName="viewer-request", S3Bucket=BUCKET, S3Key=moved)) \
        == ("InvalidParameterValueException", ACCESS_REFUSAL)
    assert _refusal(lambda: lam.update_function_code(FunctionName="viewer-request", S3Bucket=WEST_BUCKET, S3Key=KEY)) \
        == ("InvalidParameterValueException", REGION_REFUSAL)
    assert lam.get_function(FunctionName="viewer-request")["Configuration"]["CodeSha256"] == created["CodeSha256"]


# --- CloudFormation ----------------------------------------------------------------------------------


def _function_template(bucket: str, key: str) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"ViewerRequest": {
        "Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "viewer-request", "Runtime": "python3.13", "Handler": "index.handler",
            "Role": f"arn:aws:iam::{TARGET}:role/edge-functions",
            "Code": {"S3Bucket": bucket, "S3Key": key}}}}})


def _failures(cfn: Any, stack_id: str, status: str) -> list[str]:
    return [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
            if e["LogicalResourceId"] == "ViewerRequest" and e["ResourceStatus"] == status]


def test_a_stack_whose_function_code_is_in_another_region_fails(moto: str) -> None:
    _bucket(moto, WEST_BUCKET, "us-west-2", {KEY: _package()}, [_read("prod/*")])
    _function_role(moto, TARGET)
    cfn = account_client(moto, "cloudformation", TARGET)
    stack_id = cfn.create_stack(StackName="edge", TemplateBody=_function_template(WEST_BUCKET, KEY))["StackId"]
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    [reason] = _failures(cfn, stack_id, "CREATE_FAILED")
    assert REGION_REFUSAL in reason
    assert _function_names(moto) == []


def test_a_stack_update_to_code_the_execution_role_cannot_read_rolls_back(moto: str) -> None:
    moved = "staging/lambda-edge/viewer-request-4567cdef.zip"
    package = _package()
    _bucket(moto, BUCKET, "us-east-1", {KEY: package, moved: _package("# staging\n")},
            [DENY_INSECURE, _read("prod/*")])
    _function_role(moto, TARGET)
    cfn = account_client(moto, "cloudformation", TARGET)
    stack_id = cfn.create_stack(StackName="edge", TemplateBody=_function_template(BUCKET, KEY))["StackId"]
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_stack(StackName=stack_id, TemplateBody=_function_template(BUCKET, moved))
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert any(ACCESS_REFUSAL in reason for reason in _failures(cfn, stack_id, "UPDATE_FAILED"))
    configuration = account_client(moto, "lambda", TARGET).get_function(FunctionName="viewer-request")["Configuration"]
    assert configuration["CodeSha256"] == _sha256(package)


def test_a_stack_update_that_keeps_the_code_does_not_fetch_it_again(moto: str) -> None:
    # CloudFormation calls UpdateFunctionCode only when Code changes: a policy removed since the
    # function was created does not matter to an update of its configuration.
    _bucket(moto, BUCKET, "us-east-1", {KEY: _package()}, [DENY_INSECURE, _read("prod/*")])
    _function_role(moto, TARGET)
    cfn = account_client(moto, "cloudformation", TARGET)
    stack_id = cfn.create_stack(StackName="edge", TemplateBody=_function_template(BUCKET, KEY))["StackId"]
    account_client(moto, "s3").delete_bucket_policy(Bucket=BUCKET)
    template = json.loads(_function_template(BUCKET, KEY))
    template["Resources"]["ViewerRequest"]["Properties"]["Description"] = "configuration only"
    cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert account_client(moto, "lambda", TARGET).get_function(FunctionName="viewer-request")["Configuration"][
        "Description"] == "configuration only"


# --- the bucket policy as Lambda's GetObject meets it ------------------------------------------------

ROLE = naming.execution_role_arn(TARGET)
OBJECT = f"arn:aws:s3:::{BUCKET}/{KEY}"


@pytest.mark.parametrize("statements, expected", [
    ([_read("prod/*", {"AWS": ROLE})], True),
    ([_read("prod/*", {"AWS": TARGET})], True),
    ([_read("prod/*", {"AWS": f"arn:aws:iam::{TARGET}:root"})], True),
    ([_read("prod/*", "*")], True),
    ([_read("prod/lambda-edge/viewer-request-????????.zip", {"AWS": "*"})], True),
    ([_read("prod/[l]ambda-edge/*")], False),  # no character classes: [l] is literal
    ([_read("Prod/*")], False),  # resources are case-sensitive
    ([{**_read("prod/*"), "Action": ["S3:Get*"]}], True),  # actions are not
    ([{**_read("prod/*"), "Action": "s3:PutObject"}], False),
    ([_read("prod/*", {"Service": "cloudfront.amazonaws.com"})], False),
    ([_read("prod/*"), {**_read("prod/*", {"Service": "lambda.amazonaws.com"}), "Effect": "Deny"}], True),
    ([DENY_INSECURE, _read("prod/*")], True),
    ([{**_read("prod/*"), "Condition": {"Bool": {"aws:SecureTransport": "true"}}}], True),
    ([{**_read("prod/*"), "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}], False),
    ([_read("prod/*"), {**DENY_INSECURE, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}], True),
    ([_read("prod/*"), {**DENY_INSECURE, "Condition": {}}], False),
    ([{**_read("prod/*"), "Principal": None, "NotPrincipal": {"AWS": "210000000099"}}], True),
    ([_read("*"), {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "s3:*", "Resource": "*"}], True),
    ([_read("*"), {"Effect": "Deny", "NotPrincipal": {"AWS": "210000000099"}, "Action": "s3:*",
                   "Resource": "*"}], False),
    ([_read("*"), {"Effect": "Deny", "Principal": "*", "NotAction": "s3:GetObject", "Resource": "*"}], True),
    ([_read("*"), {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "NotResource": OBJECT}], True),
    ([_read("*"), {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "NotResource": f"{OBJECT}.old"}], False),
    ([], False),
])
def test_bucket_policy_allows_get(statements: list[dict[str, Any]], expected: bool) -> None:
    for statement in statements:
        if statement.get("Principal") is None:
            statement.pop("Principal", None)
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    assert bucket_policy_allows_get(policy, BUCKET, KEY, TARGET, ROLE) is expected
    assert bucket_policy_allows_get(None, BUCKET, KEY, TARGET, ROLE) is False
