"""The rehearsal end to end: the generated output rolled out against moto as an HTTP server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rollout import naming
from rollout.aws import Access
from rollout.rehearse import rehearse, run_rehearsal
from rollout_support import ROOT, console_and_buffer, moto_clients, real_set, sample_set
from templates.config import load_environment


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def test_rehearse_dev_from_the_command_line_in_another_directory(tmp_path: Path) -> None:
    """What a user runs: deploy.py rehearse, from elsewhere, with no AWS credentials at all."""
    result = subprocess.run([sys.executable, str(ROOT / "deploy.py"), "rehearse", "--env", "dev"],
                            cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=600)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Created stack set edgecdn-dev (SELF_MANAGED, in us-east-1)." in out
    assert "Nothing to do: stack set edgecdn-dev already runs set" in out
    assert "ok   the second deploy made no mutating call (0 mutating" in out
    assert "111111111111: the distribution carries the CLOUDFRONT web ACL arn:aws:wafv2:us-east-1:111111111111:global/webacl/" in out
    assert "111111111111: no custom domain: the distribution uses CloudFront's default certificate" in out
    assert "ok   111111111111: edge-config push: the table serves config/edge/dev.yaml (sha256:" in out
    assert "ok   the same edge-config push again wrote nothing (0 mutating calls)" in out
    assert "ok   site: a rebuild with new modification times made no mutating call (0 mutating)" in out
    assert "ok   site: one changed page is one upload and one invalidation path (/about.html) in each of 1 " \
           "account(s)" in out
    assert "ok   site: rollback restored /about.html from its previous version by a server-side copy" in out
    assert ("ok   111111111111: edge function edgecdn-dev-viewer-request logs to "
            "/edgecdn/dev/lambda-edge/viewer-request") in out
    assert ("ok   111111111111: 3 edge-function log groups in each of the 7 edge log regions, with retention 14 "
            "days, that region's KMS key and the tags") in out
    assert ("ok   111111111111: primary table in us-east-1: alarms on ReadThrottleEvents, SystemErrors, "
            "WriteThrottleEvents, notifying arn:aws:sns:us-east-1:111111111111:edgecdn-dev-alarms") in out
    assert ("ok   111111111111: the edge functions run the packages publish built from lambda_edge.json "
            "(s3://edgecdn-stacksets-123456789012-us-east-1/dev/lambda-edge/)") in out
    assert "Edge function packages (" in out
    assert re.search(r"  s3://edgecdn-stacksets-123456789012-us-east-1/dev/lambda-edge/"
                     r"viewer-request-[0-9a-f]{64}\.zip  uploaded, (with bytecode|source only), [0-9,]+ bytes", out)
    assert "Rehearsal passed: 21 checks." in out
    assert "FAIL" not in out


@pytest.mark.parametrize("name", ["prod", "staging"])
def test_rehearsal_of_the_generated_output(moto_endpoint: str, name: str) -> None:
    env = load_environment(name)
    console, out = console_and_buffer()
    report = rehearse(real_set(name), console, endpoint_url=moto_endpoint)
    text = out.getvalue()
    assert report.ok, text
    assert "FAIL" not in text

    # Figures the issue asks for: the topology's operations (one for us-east-1 and every log and
    # replica region, one per account for the primary region), and a no-op second deploy.
    assert report.phase("deploy").operations == 1 + len(env.deploy.accounts)
    assert report.phase("deploy again (no-op)").mutating == 0
    assert report.phase("deploy again (no-op)").operations == 0

    # Independently of the rehearsal's own checks, through the service APIs of the server.
    clients = moto_clients(moto_endpoint)
    summaries = clients.admin("cloudformation", "us-east-1").list_stack_instances(
        StackSetName=f"edgecdn-{name}")["Summaries"]
    assert sorted((s["Account"], s["Region"], s["Status"]) for s in summaries) == sorted(
        (a, r, "CURRENT") for a in env.deploy.accounts for r in env.regions)
    assert len(env.regions) == (13 if name == "prod" else 7)
    for account in env.deploy.accounts:
        distributions = clients.target(account, "cloudfront", "us-east-1", Access.BOOTSTRAP) \
            .list_distributions()["DistributionList"]["Items"]
        assert len(distributions) == 1
        distribution = distributions[0]
        assert report.outputs[account]["us-east-1"]["DistributionArn"] == distribution["ARN"]
        domain = env.domain_for(account)
        assert set(distribution["Aliases"].get("Items", [])) == set(domain.aliases if domain else ())
        origin = report.outputs[account][env.primary_region]["OriginBucketName"]
        policy = clients.target(account, "s3", env.primary_region, Access.BOOTSTRAP).get_bucket_policy(Bucket=origin)
        assert distribution["ARN"] in policy["Policy"]
        for region in env.table_regions:
            table = clients.target(account, "dynamodb", region, Access.BOOTSTRAP).describe_table(
                TableName=env.edge_config_table_name)["Table"]
            assert [k["KeyType"] for k in table["KeySchema"]] == ["HASH", "RANGE"]
        # The edge functions' log groups, in a region with nothing else of the environment.
        log_only = "sa-east-1" if name == "prod" else "eu-central-1"
        groups = clients.target(account, "logs", log_only, Access.BOOTSTRAP).describe_log_groups(
            logGroupNamePrefix=f"/edgecdn/{name}/")["logGroups"]
        assert sorted((g["logGroupName"], g["retentionInDays"], g["kmsKeyId"].split(":")[3]) for g in groups) == [
            (f"/edgecdn/{name}/lambda-edge/{event}", env.function_log_retention_days, log_only)
            for event in ("origin-response", "viewer-request", "viewer-response")]
        for replica in env.replica_regions:
            replica_alarms = clients.target(account, "cloudwatch", replica, Access.BOOTSTRAP).describe_alarms()
            assert sorted(a["MetricName"] for a in replica_alarms["MetricAlarms"]) == [
                "ReadThrottleEvents", "SystemErrors", "WriteThrottleEvents"]
        alarms = clients.target(account, "cloudwatch", "us-east-1", Access.BOOTSTRAP).describe_alarms()["MetricAlarms"]
        cloudfront_alarms = [a for a in alarms if a.get("Namespace") == "AWS/CloudFront"]
        assert cloudfront_alarms and all(
            {"Name": "DistributionId", "Value": distribution["Id"]} in a["Dimensions"] for a in cloudfront_alarms)


def _break_origin_policy(files: dict[str, bytes]) -> None:
    s3 = json.loads(files["s3.json"])
    statement = s3["Resources"]["OriginBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    statement["Condition"]["StringEquals"]["AWS:SourceArn"] = "arn:aws:cloudfront::111111111111:distribution/EWRONG"
    files["s3.json"] = json.dumps(s3).encode()


def test_rehearsal_fails_when_the_wiring_is_wrong(moto_endpoint: str, tmp_path: Path) -> None:
    """A bucket policy naming another distribution is caught through the S3 API, exit 1."""
    templates = sample_set(load_environment("staging"), tmp_path, mutate=_break_origin_policy)
    console, out = console_and_buffer()
    assert run_rehearsal(templates, console, endpoint_url=moto_endpoint) == 1
    text = out.getvalue()
    assert "FAIL 222222222222: origin bucket edgecdn-staging-origin-222222222222-us-west-2 (us-west-2) lets " \
           "CloudFront read and list only for the us-east-1 distribution (AWS:SourceArn " \
           "['arn:aws:cloudfront::111111111111:distribution/EWRONG'], ['s3:GetObject', 's3:ListBucket'])" in text
    assert "Rehearsal FAILED: 1 of" in text


def test_rehearsal_refuses_resource_types_moto_would_skip(moto_endpoint: str, tmp_path: Path) -> None:
    def add_unknown(files: dict[str, bytes]) -> None:
        cloudfront = json.loads(files["cloudfront.json"])
        cloudfront["Resources"]["Store"] = {"Type": "AWS::CloudFront::KeyValueStore", "Properties": {"Name": "kv"}}
        files["cloudfront.json"] = json.dumps(cloudfront).encode()

    templates = sample_set(load_environment("dev"), tmp_path, mutate=add_unknown)
    console, out = console_and_buffer()
    assert run_rehearsal(templates, console, endpoint_url=moto_endpoint) == 1
    assert ("the rehearsal cannot emulate these resource types (moto would skip them silently): "
            "AWS::CloudFront::KeyValueStore (cloudfront.json/Store)") in out.getvalue()
    assert "Created stack set" not in out.getvalue()


def test_sample_templates_rehearse_like_the_real_ones(moto_endpoint: str, tmp_path: Path) -> None:
    """The test fixture set follows the same contract (the other tests rely on it)."""
    templates = sample_set(load_environment("prod"), tmp_path)
    console, out = console_and_buffer()
    assert run_rehearsal(templates, console, endpoint_url=moto_endpoint) == 0, out.getvalue()
    assert naming.stack_set_name(templates.env) == "edgecdn-prod"
