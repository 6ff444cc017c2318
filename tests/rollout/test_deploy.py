"""deploy, status, outputs, diff and destroy of the generated output against the moto server."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import shutil
import urllib.request
import zipfile
from pathlib import Path

import botocore.exceptions
import pytest

from rollout.aws import Access, Clients
from rollout.bootstrap import bootstrap
from rollout.deployer import Deployer
from rollout.destroy import destroy
from rollout import naming
from rollout.errors import RolloutFailed
from rollout.inputs import TemplateSet, load_templates
from rollout.inspect import diff, outputs, status
from rollout.moto_models.assume_role import seed_role
from rollout.rehearse import rehearsal_session, seed_accounts
from rollout.scenarios import templates_for
from rollout.stackset import StackSetOps
from rollout_support import ROOT, console_and_buffer, moto_clients, real_set
from templates.config import EnvConfig, load_environment
from templates.lambda_edge import code_key

ALARM = "Cdn5xxErrorRateAlarm"


def _copy_output(name: str, root: Path, threshold: float | None = None) -> TemplateSet:
    """output/<name>/ copied under root; optionally one alarm threshold changed in monitoring.json."""
    directory = root / name
    shutil.copytree(ROOT / "output" / name, directory, dirs_exist_ok=True)
    if threshold is not None:
        monitoring = json.loads((directory / "monitoring.json").read_text())
        monitoring["Resources"][ALARM]["Properties"]["Threshold"] = threshold
        (directory / "monitoring.json").write_text(json.dumps(monitoring, indent=2, sort_keys=True) + "\n")
    files = {p.name: p.read_bytes() for p in directory.glob("*.json")}
    env = load_environment(name)
    return load_templates(env, output_root=root, renderer=lambda e: files)


def _deployed(moto: str, env: EnvConfig, templates: TemplateSet):
    seed_accounts(env)
    clients = moto_clients(moto)
    console, out = console_and_buffer()
    assert bootstrap(env, clients, console) == 0
    assert Deployer(templates, clients, console).run() == 0, out.getvalue()
    return clients


def _alarm(clients, account: str, name: str) -> dict:
    cloudwatch = clients.target(account, "cloudwatch", "us-east-1", Access.BOOTSTRAP)
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def test_update_of_one_nested_template_is_one_operation_and_reaches_the_resource(moto: str, tmp_path: Path) -> None:
    env = load_environment("staging")
    account = env.deploy.accounts[0]
    before = _copy_output("staging", tmp_path / "before")
    clients = _deployed(moto, env, before)
    alarm_name = f"{env.name_prefix}-cloudfront-5xx-rate"
    assert _alarm(clients, account, alarm_name)["Threshold"] == 1.0
    distribution_id = clients.target(account, "cloudfront", "us-east-1", Access.BOOTSTRAP) \
        .list_distributions()["DistributionList"]["Items"][0]["Id"]

    after = _copy_output("staging", tmp_path / "after", threshold=2.5)
    assert after.prefix != before.prefix
    console, out = console_and_buffer()
    mark = clients.log.mark()
    deployer = Deployer(after, clients, console)
    assert deployer.run() == 0, out.getvalue()
    calls = clients.log.since(mark)
    operations = [op for _, op in calls.mutating if op in (
        "UpdateStackSet", "CreateStackInstances", "UpdateStackInstances", "DeleteStackInstances")]
    assert operations == ["UpdateStackSet"]
    assert len(deployer.ops.started) == 1
    uploads = [op for _, op in calls.mutating if op == "PutObject"]
    # The changed file and the set's marker, once per region; the others are server-side copies.
    assert len(uploads) == 2 * len(env.regions)
    text = out.getvalue()
    assert f"TemplatesPrefix '{before.prefix}' -> '{after.prefix}'" in text
    assert "update stack set edgecdn-staging (all instances, 7 region(s) in parallel)" in text
    assert _alarm(clients, account, alarm_name)["Threshold"] == 2.5
    # Nothing was replaced: the nested stacks were updated in place.
    assert clients.target(account, "cloudfront", "us-east-1", Access.BOOTSTRAP) \
        .list_distributions()["DistributionList"]["Items"][0]["Id"] == distribution_id


def _release_viewer_request(files_root: Path) -> TemplateSet:
    """output/staging/ with new viewer-request code: a new Version logical id, as the builder does."""
    directory = files_root / "staging"
    shutil.copytree(ROOT / "output" / "staging", directory)
    lambda_edge = json.loads((directory / "lambda_edge.json").read_text())
    resources = lambda_edge["Resources"]
    function = resources["ViewerRequestFunction"]
    source = function["Metadata"]["EdgeCode"]["index.py"] + "\n# release 2\n"
    function["Metadata"]["EdgeCode"]["index.py"] = source
    function["Properties"]["Code"]["S3Key"] = code_key("staging", "viewer-request", source)
    old = next(k for k in resources if k.startswith("ViewerRequestVersion"))
    resources["ViewerRequestVersion0000000002"] = resources.pop(old)
    lambda_edge["Outputs"]["ViewerRequestVersionArn"]["Value"] = {"Ref": "ViewerRequestVersion0000000002"}
    (directory / "lambda_edge.json").write_text(json.dumps(lambda_edge, indent=2, sort_keys=True) + "\n")
    files = {p.name: p.read_bytes() for p in directory.glob("*.json")}
    return load_templates(load_environment("staging"), output_root=files_root, renderer=lambda e: files)


def test_edge_function_release_reaches_the_distribution_and_keeps_the_old_version(moto: str, tmp_path: Path) -> None:
    env = load_environment("staging")
    account = env.deploy.accounts[0]
    clients = _deployed(moto, env, _copy_output("staging", tmp_path / "before"))
    cloudfront = clients.target(account, "cloudfront", "us-east-1", Access.BOOTSTRAP)
    distribution_id = cloudfront.list_distributions()["DistributionList"]["Items"][0]["Id"]

    def viewer_request_arn() -> str:
        config = cloudfront.get_distribution(Id=distribution_id)["Distribution"]["DistributionConfig"]
        return next(a["LambdaFunctionARN"] for a in config["DefaultCacheBehavior"]["LambdaFunctionAssociations"]["Items"]
                    if a["EventType"] == "viewer-request")

    assert viewer_request_arn().endswith(":edgecdn-staging-viewer-request:1")
    console, out = console_and_buffer()
    deployer = Deployer(_release_viewer_request(tmp_path / "after"), clients, console)
    assert deployer.run() == 0, out.getvalue()
    assert len(deployer.ops.started) == 1
    assert viewer_request_arn().endswith(":edgecdn-staging-viewer-request:2")
    lambda_client = clients.target(account, "lambda", "us-east-1", Access.BOOTSTRAP)
    versions = [v["Version"] for v in lambda_client.list_versions_by_function(
        FunctionName="edgecdn-staging-viewer-request")["Versions"]]
    # The old version is retained (DeletionPolicy Retain): replicas may still run it for hours.
    assert {"1", "2"} <= set(versions)
    # Version 2 runs the package that publish built from the new source, read from the deploying
    # account's us-east-1 templates bucket.
    released = deployer.templates.template("lambda_edge.json")["Resources"]["ViewerRequestFunction"]
    code = released["Properties"]["Code"]
    bucket = naming.template_bucket_name(env.project, clients.account, "us-east-1")
    package = clients.admin("s3", "us-east-1").get_object(Bucket=bucket, Key=code["S3Key"])["Body"].read()
    assert code["S3Key"].startswith("staging/lambda-edge/viewer-request-")
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.read("index.py").decode() == released["Metadata"]["EdgeCode"]["index.py"]
    deployed = lambda_client.get_function(FunctionName="edgecdn-staging-viewer-request", Qualifier="2")
    assert deployed["Configuration"]["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert cloudfront.list_distributions()["DistributionList"]["Items"][0]["Id"] == distribution_id


def test_status_outputs_and_diff(moto: str, tmp_path: Path) -> None:
    env = load_environment("staging")
    account = env.deploy.accounts[0]
    current = _copy_output("staging", tmp_path / "current")
    clients = _deployed(moto, env, current)

    console, out = console_and_buffer()
    assert status(env, clients, console) == 0
    text = out.getvalue()
    assert f"{account}  us-east-1      CURRENT" in text
    assert f"{account}  us-west-2      CURRENT" in text
    assert "All instances are CURRENT." in text

    console, out = console_and_buffer()
    assert outputs(env, clients, console, as_json=True) == 0
    values = json.loads(out.getvalue())
    assert set(values) == {account}
    assert values[account]["us-east-1"]["DistributionArn"].startswith(f"arn:aws:cloudfront::{account}:distribution/")
    assert values[account]["us-west-2"]["OriginBucketName"] == f"edgecdn-staging-origin-{account}-us-west-2"

    console, out = console_and_buffer()
    assert diff(current, clients, console) == 0
    assert "No differences: stack set edgecdn-staging runs output/staging/" in out.getvalue()

    changed = _copy_output("staging", tmp_path / "changed", threshold=4.0)
    console, out = console_and_buffer()
    assert diff(changed, clients, console) == 1
    text = out.getvalue()
    assert "--- running/monitoring.json" in text
    assert "+++ output/staging/monitoring.json" in text
    assert "-        \"Threshold\": 1.0" in text
    assert "+        \"Threshold\": 4.0" in text
    assert "running/waf.json" not in text
    assert f"parameter TemplatesPrefix: running '{current.prefix}', output/staging/ needs '{changed.prefix}'" in text
    assert "2 difference(s) between output/staging/ and stack set edgecdn-staging." in text


def test_deploy_resumes_a_rollout_that_was_interrupted_in_the_primary_region(
        moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = load_environment("prod")
    templates = _copy_output("prod", tmp_path)
    seed_accounts(env)
    clients = moto_clients(moto)
    console, out = console_and_buffer()
    assert bootstrap(env, clients, console) == 0
    # The first run is interrupted (Ctrl-C) when it is about to start its third operation: the
    # instances of us-east-1 and the log and replica regions, and the first account's primary
    # instance exist, the other primary instances do not.
    real_run = StackSetOps.run
    started: list[str] = []

    def interrupted(self: StackSetOps, what: str, call):
        if len(started) == 2:
            raise KeyboardInterrupt
        started.append(what)
        return real_run(self, what, call)

    monkeypatch.setattr(StackSetOps, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Deployer(templates, clients, console).run()
    monkeypatch.setattr(StackSetOps, "run", real_run)
    cfn = clients.admin("cloudformation", "us-east-1")
    outside_primary = len(env.regions) - 1
    assert len(cfn.list_stack_instances(StackSetName="edgecdn-prod")["Summaries"]) == 3 * outside_primary + 1

    console, out = console_and_buffer()
    deployer = Deployer(templates, clients, console)
    assert deployer.run() == 0, out.getvalue()
    text = out.getvalue()
    assert len(deployer.ops.started) == 2
    assert "create us-west-2 instance for account 444444444444" in text
    assert "create us-west-2 instance for account 555555555555" in text
    assert "instance for account 333333333333" not in text
    assert "create instance(s) for account(s)" not in text
    summaries = cfn.list_stack_instances(StackSetName="edgecdn-prod")["Summaries"]
    assert len(summaries) == 3 * len(env.regions) and {s["Status"] for s in summaries} == {"CURRENT"}


def test_destroy_deletes_instances_then_stack_set_and_lists_what_is_retained(moto: str, tmp_path: Path) -> None:
    env = load_environment("staging")
    account = env.deploy.accounts[0]
    clients = _deployed(moto, env, _copy_output("staging", tmp_path))
    console, out = console_and_buffer()
    assert destroy(env, clients, console) == 0, out.getvalue()
    text = out.getvalue()
    order = [line for line in text.splitlines() if "Started operation" in line]
    # Every other region at once (the primary among them), then us-east-1: two operations.
    assert len(order) == 2
    assert order[0].endswith(f"delete the instance(s) of account(s) {account} in "
                             f"{', '.join(r for r in env.regions if r != 'us-east-1')}")
    assert order[1].endswith(f"delete the instance(s) of account(s) {account} in us-east-1")
    assert "Deleted stack set edgecdn-staging." in text
    origin = f"edgecdn-staging-origin-{account}-us-west-2"
    assert f"{account} us-west-2  AWS::S3::Bucket" in text and origin in text
    assert "AWS::DynamoDB::GlobalTable" in text
    assert (f"aws lambda delete-function --region us-east-1 --function-name edgecdn-staging-viewer-request"
            f"   # account {account}") in text
    cfn = clients.admin("cloudformation", "us-east-1")
    assert [s["Status"] for s in cfn.list_stack_sets()["Summaries"] if s["StackSetName"] == "edgecdn-staging"] == ["DELETED"]
    # Retained data is still there; the distribution is not.
    clients.target(account, "s3", "us-west-2", Access.BOOTSTRAP).head_bucket(Bucket=origin)
    clients.target(account, "dynamodb", "us-west-2", Access.BOOTSTRAP).describe_table(TableName=env.edge_config_table_name)
    assert clients.target(account, "cloudfront", "us-east-1", Access.BOOTSTRAP) \
        .list_distributions()["DistributionList"].get("Items") is None

    console, out = console_and_buffer()
    assert destroy(env, clients, console) == 0
    assert "Stack set edgecdn-staging does not exist: nothing to destroy." in out.getvalue()


@pytest.mark.parametrize("name", ["dev"])
def test_second_deploy_makes_no_mutating_call(moto: str, tmp_path: Path, name: str) -> None:
    env = load_environment(name)
    templates = _copy_output(name, tmp_path)
    clients = _deployed(moto, env, templates)
    console, out = console_and_buffer()
    mark = clients.log.mark()
    assert Deployer(templates, clients, console).run() == 0
    assert clients.log.since(mark).mutating == []
    assert "No changes were made." in out.getvalue()


def test_a_failed_update_rolls_back_names_the_resource_and_the_next_deploy_recovers(moto: str) -> None:
    """An alias that a distribution of another AWS account holds fails the update (the pre-flight
    sees only the environment's accounts): the stack rolls back and keeps serving."""
    env = load_environment("staging")
    account = env.deploy.accounts[0]
    templates = real_set("staging")
    clients = _deployed(moto, env, templates)
    seed_role("999999999999", clients.bootstrap_role_name, clients.account)  # that account lets this one in
    clients.target("999999999999", "cloudfront", "us-east-1", Access.BOOTSTRAP).create_distribution(DistributionConfig={
        "CallerReference": "other", "Comment": "", "Enabled": True,
        "Aliases": {"Quantity": 1, "Items": ["www.staging.example.com"]},
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "o.s3.us-east-1.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})
    domain = env.domain_for(account)
    wider = dataclasses.replace(env, account_domains=(
        (account, dataclasses.replace(domain, aliases=domain.aliases + ("www.staging.example.com",))),))
    console, out = console_and_buffer()
    with pytest.raises(RolloutFailed, match="update of stack set edgecdn-staging failed"):
        Deployer(templates_for(wider), clients, console).run()
    assert (f"account {account} region us-east-1: CloudfrontStack/Distribution (AWS::CloudFront::Distribution) "
            "UPDATE_FAILED: CNAMEAlreadyExists") in out.getvalue()
    # Every region updates at once: the primary region's update (no change there) went through.
    results = [line for line in out.getvalue().splitlines() if "[FAILED]" in line][-1]
    assert f"{account}  us-west-2      SUCCEEDED" in results
    edge = next(s for s in clients.admin("cloudformation", "us-east-1").list_stack_instances(
        StackSetName="edgecdn-staging")["Summaries"] if s["Region"] == "us-east-1")
    stack = clients.target(account, "cloudformation", "us-east-1").describe_stacks(StackName=edge["StackId"])["Stacks"][0]
    assert (edge["Status"], stack["StackStatus"]) == ("OUTDATED", "UPDATE_ROLLBACK_COMPLETE")
    distribution = clients.target(account, "cloudfront", "us-east-1", Access.BOOTSTRAP).list_distributions()[
        "DistributionList"]["Items"][0]
    assert distribution["Aliases"]["Items"] == ["staging.example.com"]  # still serving as before
    console, out = console_and_buffer()
    assert Deployer(templates, clients, console).run() == 0, out.getvalue()


def test_an_operation_accepted_before_the_call_timed_out_is_waited_for_not_started_again(moto: str) -> None:
    # CreateStackInstances reaches StackSets, which starts the operation, but the answer never comes
    # back (a read timeout): the SDK sends the same call again, with the same OperationId, and
    # StackSets answers OperationIdAlreadyExistsException. That operation is ours: deploy waits for it.
    env = load_environment("dev")
    seed_accounts(env)
    session = rehearsal_session()
    timed_out: list[str] = []

    def accepted_then_timed_out(request, **_) -> None:
        if timed_out:
            return None  # the retry goes out as usual
        body = request.body.encode() if isinstance(request.body, str) else request.body
        with urllib.request.urlopen(urllib.request.Request(
                request.url, data=body, headers=dict(request.headers), method=request.method), timeout=120):
            pass
        timed_out.append(request.url)
        raise botocore.exceptions.ReadTimeoutError(endpoint_url=request.url)

    session.events.register("before-send.cloudformation.CreateStackInstances", accepted_then_timed_out)
    clients = Clients(session, endpoint_url=moto)
    console, out = console_and_buffer()
    assert bootstrap(env, clients, console) == 0
    deployer = Deployer(real_set("dev"), clients, console)
    assert deployer.run() == 0, out.getvalue()
    assert timed_out
    assert len(deployer.ops.started) == 1
    operations = deployer.ops.cfn.list_stack_set_operations(StackSetName=deployer.ops.name)["Summaries"]
    assert [(o["OperationId"], o["Status"]) for o in operations] == [(deployer.ops.started[0], "SUCCEEDED")]
    assert {s["Status"] for s in deployer.ops.cfn.list_stack_instances(
        StackSetName=deployer.ops.name)["Summaries"]} == {"CURRENT"}
