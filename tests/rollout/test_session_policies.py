"""The emulator applies AssumeRole session policies to the session's calls, as AWS does (moto ignores them)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.exceptions
import pytest

from rollout.moto_models.session_policies import allows, required_actions
from rollout.rehearse import rehearsal_session

ACCOUNT = "123456789012"  # moto's default account: the caller's, where the role is created
ROLE_NAME = "session-policy-test"

# Real services answer a refused call with codes their service models do not all list.
pytestmark = pytest.mark.filterwarnings("ignore:Exception\\(.*\\) with code AccessDenied")


def _session(moto: str, actions: list[str] | None, resource: Any = "*") -> boto3.Session:
    """A session in ACCOUNT through a role that trusts the caller, narrowed to `actions` (None: no session policy)."""
    admin = rehearsal_session()
    iam = admin.client("iam", endpoint_url=moto)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
    try:
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    kwargs: dict[str, Any] = {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}", "RoleSessionName": "test"}
    if actions is not None:
        kwargs["Policy"] = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resource}]})
    credentials = admin.client("sts", endpoint_url=moto).assume_role(**kwargs)["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name="us-east-1")


def _code(call: Any) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def _table(session: boto3.Session, moto: str) -> Any:
    dynamodb = session.client("dynamodb", endpoint_url=moto)
    dynamodb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    return dynamodb


def test_a_call_the_session_policy_does_not_allow_is_refused(moto: str) -> None:
    _table(_session(moto, None), moto)
    dynamodb = _session(moto, ["dynamodb:GetItem", "dynamodb:Query"]).client("dynamodb", endpoint_url=moto)
    assert "Item" not in dynamodb.get_item(TableName="t", Key={"k": {"S": "a"}})
    assert _code(lambda: dynamodb.put_item(TableName="t", Item={"k": {"S": "a"}})) == "AccessDeniedException"
    assert _code(lambda: dynamodb.describe_table(TableName="t")) == "AccessDeniedException"


def test_a_session_without_a_session_policy_is_not_narrowed(moto: str) -> None:
    dynamodb = _table(_session(moto, None), moto)
    dynamodb.put_item(TableName="t", Item={"k": {"S": "a"}})
    assert dynamodb.describe_table(TableName="t")["Table"]["TableName"] == "t"


def test_a_transaction_needs_the_actions_of_its_items(moto: str) -> None:
    _table(_session(moto, None), moto)
    put = {"TransactItems": [{"Put": {"TableName": "t", "Item": {"k": {"S": "a"}}}}]}
    allowed = _session(moto, ["dynamodb:PutItem"]).client("dynamodb", endpoint_url=moto)
    allowed.transact_write_items(**put)
    refused = _session(moto, ["dynamodb:GetItem", "dynamodb:TransactWriteItems"]).client("dynamodb",
                                                                                          endpoint_url=moto)
    assert _code(lambda: refused.transact_write_items(**put)) == "AccessDeniedException"


def test_s3_calls_are_authorized_by_their_iam_actions(moto: str) -> None:
    _session(moto, None).client("s3", endpoint_url=moto).create_bucket(Bucket="narrowed-bucket")
    s3 = _session(moto, ["s3:ListBucket"], "arn:aws:s3:::narrowed-bucket").client("s3", endpoint_url=moto)
    s3.head_bucket(Bucket="narrowed-bucket")  # HeadBucket is authorized as s3:ListBucket
    assert s3.list_objects_v2(Bucket="narrowed-bucket")["KeyCount"] == 0
    assert _code(lambda: s3.list_buckets()) == "AccessDenied"  # s3:ListAllMyBuckets
    assert _code(lambda: s3.put_object(Bucket="narrowed-bucket", Key="k", Body=b"x")) == "AccessDenied"


def test_deleting_object_versions_needs_delete_object_version(moto: str) -> None:
    admin = _session(moto, None).client("s3", endpoint_url=moto)
    admin.create_bucket(Bucket="versioned-bucket")
    admin.put_bucket_versioning(Bucket="versioned-bucket", VersioningConfiguration={"Status": "Enabled"})
    version = admin.put_object(Bucket="versioned-bucket", Key="k", Body=b"x")["VersionId"]
    objects = {"Objects": [{"Key": "k", "VersionId": version}]}
    narrow = _session(moto, ["s3:DeleteObject"]).client("s3", endpoint_url=moto)
    answer = narrow.delete_objects(Bucket="versioned-bucket", Delete=objects)
    assert [e["Code"] for e in answer.get("Errors", [])] == ["AccessDenied"] and not answer.get("Deleted")
    wide = _session(moto, ["s3:DeleteObject", "s3:DeleteObjectVersion"]).client("s3", endpoint_url=moto)
    assert [d["VersionId"] for d in wide.delete_objects(Bucket="versioned-bucket", Delete=objects)["Deleted"]] \
        == [version]


def test_query_protocol_services_answer_access_denied(moto: str) -> None:
    cfn = _session(moto, ["cloudformation:DescribeStacks"]).client("cloudformation", endpoint_url=moto)
    assert cfn.describe_stacks()["Stacks"] == []
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        cfn.list_stacks()
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert ("is not authorized to perform: cloudformation:ListStacks because no session policy allows the "
            "cloudformation:ListStacks action") in error["Message"]


@pytest.mark.parametrize("service, operation, body, expected", [
    ("s3", "HeadBucket", {}, ["s3:ListBucket"]),
    ("s3", "ListObjectVersions", {}, ["s3:ListBucketVersions"]),
    ("s3", "DeleteObject", {}, ["s3:DeleteObject"]),
    ("s3", "DeleteObject", b"<Delete><Object><Key>k</Key><VersionId>v1</VersionId></Object></Delete>",
     ["s3:DeleteObject", "s3:DeleteObjectVersion"]),
    ("dynamodb", "TransactWriteItems", {"TransactItems": [{"Put": {}}, {"ConditionCheck": {}}]},
     ["dynamodb:ConditionCheckItem", "dynamodb:PutItem"]),
    ("dynamodb", "BatchWriteItem", {"RequestItems": {"t": [{"DeleteRequest": {}}]}}, ["dynamodb:DeleteItem"]),
    ("dynamodb", "UpdateTable", {"ReplicaUpdates": [{"Delete": {"RegionName": "eu-west-1"}}]},
     ["dynamodb:UpdateTable", "dynamodb:DeleteTableReplica"]),
    ("logs", "PutRetentionPolicy", {}, ["logs:PutRetentionPolicy"]),
])
def test_required_actions(service: str, operation: str, body: dict | bytes, expected: list[str]) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    assert required_actions(service, operation, raw) == expected


@pytest.mark.parametrize("statements, action, expected", [
    ([{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}], "s3:GetObject", True),
    ([{"Effect": "Allow", "Action": ["S3:getobject"], "Resource": "arn:aws:s3:::b/*"}], "s3:GetObject", True),
    ([{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}], "s3:PutObject", False),
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"},
      {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}], "s3:PutObject", False),
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"},
      {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::other/*"}], "s3:PutObject", True),
    ([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], "iam:GetRole", False),
    ([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], "s3:GetObject", True),
    ([], "s3:GetObject", False),
])
def test_allows(statements: list[dict], action: str, expected: bool) -> None:
    assert allows({"Version": "2012-10-17", "Statement": statements}, action) is expected


# --- AssumeRole: the role must exist and trust the caller ------------------------------------------

def _assume(moto: str, role_arn: str, **kwargs: Any) -> dict[str, Any]:
    sts = rehearsal_session().client("sts", endpoint_url=moto)
    return sts.assume_role(RoleArn=role_arn, RoleSessionName="test", **kwargs)


def _role(moto: str, name: str, trust_statements: list[dict[str, Any]]) -> str:
    iam = rehearsal_session().client("iam", endpoint_url=moto)
    document = {"Version": "2012-10-17", "Statement": trust_statements}
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]


def _trusting(principal: Any, **extra: Any) -> list[dict[str, Any]]:
    return [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal, **extra}]


@pytest.mark.parametrize("principal", [
    {"AWS": "arn:aws:iam::123456789012:root"}, {"AWS": "123456789012"}, {"AWS": ["arn:aws:iam::999999999999:root",
                                                                              "123456789012"]}, "*",
])
def test_a_role_that_trusts_the_caller_can_be_assumed(moto: str, principal: Any) -> None:
    arn = _role(moto, "trusting", _trusting(principal))
    assert _assume(moto, arn)["AssumedRoleUser"]["Arn"].endswith(":assumed-role/trusting/test")


def test_a_missing_role_or_one_that_trusts_another_account_cannot_be_assumed(moto: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        _assume(moto, "arn:aws:iam::222222222222:role/never-created")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert ("is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/never-created"
            in raised.value.response["Error"]["Message"])
    other = _role(moto, "other-account", _trusting({"AWS": "arn:aws:iam::999999999999:root"}))
    service = _role(moto, "service-only", _trusting({"Service": "cloudformation.amazonaws.com"}))
    denied = _role(moto, "denied", _trusting({"AWS": "*"}) + [
        {"Effect": "Deny", "Action": "sts:*", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}])
    for arn in (other, service, denied):
        assert _code(lambda: _assume(moto, arn)) == "AccessDenied", arn


def test_an_external_id_condition_must_hold(moto: str) -> None:
    arn = _role(moto, "external", _trusting({"AWS": "123456789012"},
                                            Condition={"StringEquals": {"sts:ExternalId": "secret"}}))
    assert _code(lambda: _assume(moto, arn)) == "AccessDenied"
    assert _code(lambda: _assume(moto, arn, ExternalId="wrong")) == "AccessDenied"
    _assume(moto, arn, ExternalId="secret")
    other = _role(moto, "org", _trusting({"AWS": "*"}, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}}))
    assert _code(lambda: _assume(moto, other)) == "AccessDenied"  # a key this request does not carry


def test_a_session_policy_over_2048_characters_is_refused(moto: str) -> None:
    arn = _role(moto, "long-policy", _trusting({"AWS": "123456789012"}))
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "b" * 1900}
    fits = json.dumps({"Version": "2012-10-17", "Statement": [statement]}, separators=(",", ":"))
    assert len(fits) <= 2048
    _assume(moto, arn, Policy=fits)
    too_long = fits.replace("b" * 1900, "b" * 2000)
    assert _code(lambda: _assume(moto, arn, Policy=too_long)) == "ValidationError"
