"""bootstrap and publish against the moto server: idempotent, repairing, content-addressed."""

from __future__ import annotations

import json
from pathlib import Path

from rollout.aws import Access
from rollout.bootstrap import bootstrap
from rollout.publish import BLOB_PREFIX, publish, publish_templates
from rollout.rehearse import seed_accounts
from rollout_support import console_and_buffer, moto_clients, sample_set
from templates.config import load_environment

ADMIN = "123456789012"


def test_bootstrap_creates_roles_and_buckets_then_changes_nothing(moto: str) -> None:
    env = load_environment("prod")
    seed_accounts(env)
    clients = moto_clients(moto)
    console, out = console_and_buffer()
    assert bootstrap(env, clients, console) == 0
    text = out.getvalue()
    assert f"created   administration role in {ADMIN} (AWSCloudFormationStackSetAdministrationRole)" in text
    for account in env.deploy.accounts:
        assert f"created   execution role in {account} (AWSCloudFormationStackSetExecutionRole)" in text
        role = clients.target(account, "iam", "us-east-1", Access.BOOTSTRAP).get_role(
            RoleName="AWSCloudFormationStackSetExecutionRole")["Role"]
        assert f"arn:aws:iam::{ADMIN}:root" in json.dumps(role["AssumeRolePolicyDocument"])

    iam = clients.admin("iam", "us-east-1")
    admin_policy = iam.get_role_policy(RoleName="AWSCloudFormationStackSetAdministrationRole",
                                       PolicyName="edgecdn-prod-assume-execution-roles")["PolicyDocument"]
    assert admin_policy["Statement"][0]["Resource"] == [
        f"arn:aws:iam::{a}:role/AWSCloudFormationStackSetExecutionRole" for a in env.deploy.accounts]

    for region in ("us-east-1", "us-west-2"):
        bucket = f"edgecdn-stacksets-{ADMIN}-{region}"
        s3 = clients.admin("s3", region)
        assert s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") in (
            None if region == "us-east-1" else region,)
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        read = next(s for s in policy["Statement"] if s["Sid"] == "ExecutionRolesReadProd")
        assert read["Resource"] == f"arn:aws:s3:::{bucket}/prod/*"
        assert sorted(read["Principal"]["AWS"]) == sorted(
            f"arn:aws:iam::{a}:role/AWSCloudFormationStackSetExecutionRole" for a in env.deploy.accounts)

    console, out = console_and_buffer()
    mark = clients.log.mark()
    assert bootstrap(env, clients, console) == 0
    assert clients.log.since(mark).mutating == []
    assert "Bootstrap complete: nothing to change." in out.getvalue()


def test_bootstrap_repairs_drift_and_keeps_other_environments(moto: str) -> None:
    prod, staging = load_environment("prod"), load_environment("staging")
    seed_accounts(prod)
    seed_accounts(staging)
    clients = moto_clients(moto)
    console, out = console_and_buffer()
    assert bootstrap(prod, clients, console) == 0
    s3 = clients.admin("s3", "us-east-1")
    bucket = f"edgecdn-stacksets-{ADMIN}-us-east-1"
    s3.delete_bucket_encryption(Bucket=bucket)

    console, out = console_and_buffer()
    assert bootstrap(staging, clients, console) == 0
    text = out.getvalue()
    assert f"updated   template bucket {bucket}" in text
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    sids = {s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]}
    assert sids == {"DenyInsecureTransport", "ExecutionRolesReadProd", "ExecutionRolesReadStaging"}
    # The administration role serves both environments: one inline policy each.
    names = clients.admin("iam", "us-east-1").list_role_policies(
        RoleName="AWSCloudFormationStackSetAdministrationRole")["PolicyNames"]
    assert sorted(names) == ["edgecdn-prod-assume-execution-roles", "edgecdn-staging-assume-execution-roles"]


def test_publish_uploads_each_distinct_file_once(moto: str, tmp_path: Path) -> None:
    env = load_environment("staging")
    seed_accounts(env)
    clients = moto_clients(moto)
    console, out = console_and_buffer()
    bootstrap(env, clients, console)
    first = sample_set(env, tmp_path / "first")
    console, out = console_and_buffer()
    assert publish(first, clients, console) == 0
    text = out.getvalue()
    files = len(first.files)
    assert f"s3://edgecdn-stacksets-{ADMIN}-us-west-2/{first.prefix}  uploaded {files}, copied 0, already there 0" in text
    assert f"Root template URL: https://edgecdn-stacksets-{ADMIN}-us-east-1.s3.us-east-1.amazonaws.com/{first.prefix}root.json" in text
    assert ("https://us-west-2.console.aws.amazon.com/cloudformation/home?region=us-west-2#/stacks/create/review?"
            "templateURL=https%3A%2F%2Fedgecdn-stacksets-123456789012-us-west-2.s3.us-west-2.amazonaws.com%2F") in text
    assert "(after the us-east-1 stack is complete, set DistributionArn to its DistributionArn output)" in text

    mark = clients.log.mark()
    again = publish_templates(first, clients)
    assert all(r.present == sorted(first.files) and not r.uploaded and not r.copied for r in again.regions.values())
    assert clients.log.since(mark).mutating == []
    # The set's marker answers for all its files: one HeadObject per region (and its HeadBucket).
    reads = [op for _, op in clients.log.since(mark).reads]
    assert sorted(set(reads)) == ["HeadBucket", "HeadObject"]
    assert reads.count("HeadObject") == len(env.regions) == 7

    def retune(files: dict[str, bytes]) -> None:
        files["monitoring.json"] = files["monitoring.json"].replace(b'"Threshold": 1', b'"Threshold": 7')

    second = sample_set(env, tmp_path / "second", mutate=retune)
    assert second.prefix != first.prefix and second.files["monitoring.json"] != first.files["monitoring.json"]
    mark = clients.log.mark()
    published = publish_templates(second, clients)
    for region in env.regions:
        assert published.regions[region].uploaded == ["monitoring.json"]
        assert sorted(published.regions[region].copied) == sorted(set(second.files) - {"monitoring.json"})
    operations = [op for _, op in clients.log.since(mark).mutating]
    # In each region: the changed file's blob, and the set's marker once every file is in place.
    assert operations.count("PutObject") == 2 * len(env.regions)
    assert operations.count("CopyObject") == len(env.regions) * files
    s3 = clients.admin("s3", "us-west-2")
    bucket = f"edgecdn-stacksets-{ADMIN}-us-west-2"
    for name, body in second.files.items():
        assert s3.get_object(Bucket=bucket, Key=second.prefix + name)["Body"].read() == body
        assert s3.get_object(Bucket=bucket, Key=first.prefix + name)["Body"].read() == first.files[name]
    blobs = s3.list_objects_v2(Bucket=bucket, Prefix=BLOB_PREFIX)["KeyCount"]
    assert blobs == files + 1
