"""Every region the edge touches: gaining them with one deploy, the old log groups, against moto."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import deploy
from rollout import cli
from rollout.aws import Access
from rollout.bootstrap import bootstrap
from rollout.deployer import Deployer
from rollout.edge_logs import legacy_names
from rollout.inputs import TemplateSet, load_templates
from rollout.rehearse import rehearse, seed_accounts
from rollout.scenarios import covering_only_table_regions
from rollout_support import console_and_buffer, moto_clients, real_set
from templates.config import EnvConfig, load_environment

# output/staging/ as generate.py wrote it before the edge log regions (commit a12a3d2): log groups
# only in us-east-1, under the default /aws/lambda/us-east-1.<function>, the functions without a
# LoggingConfig and with logs:CreateLogGroup; the root admits us-east-1 and us-west-2 only. The
# inlined handler (69 kB per function) is replaced by a stand-in with the same entry points.
BEFORE = Path(__file__).resolve().parent / "fixtures" / "staging-before-edge-regions"


def _load(env: EnvConfig, directory: Path, root: Path) -> TemplateSet:
    """The files of `directory` as the templates of `env` (copied under root/<env>/)."""
    target = root / env.environment
    shutil.copytree(directory, target)
    files = {p.name: p.read_bytes() for p in target.glob("*.json")}
    return load_templates(env, output_root=root, renderer=lambda e: files)


def _seed_lambda_made_groups(clients, env: EnvConfig, regions: list[str]) -> dict[tuple[str, str], int]:
    """What Lambda@Edge created itself while the functions logged under the default name."""
    import time

    seeded = {}
    for account in env.deploy.accounts:
        for region in regions:
            logs = clients.target(account, "logs", region, Access.BOOTSTRAP)
            for name in legacy_names(env):
                if any(g["logGroupName"] == name for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]):
                    continue  # us-east-1's was made by the old stack
                logs.create_log_group(logGroupName=name)
                logs.create_log_stream(logGroupName=name, logStreamName="s")
                logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=[
                    {"timestamp": int(time.time() * 1000) - 1000, "message": "START RequestId: 1"}])
                seeded[(region, name)] = 1
    return seeded


def test_an_environment_from_before_gains_every_edge_region_with_one_deploy(moto: str, tmp_path: Path) -> None:
    """The real pre-change templates running, Lambda-made log groups in the regions to gain: one deploy
    of today's templates adds the regions, moves the functions to their own log groups and keeps the old
    groups and their events."""
    env = load_environment("staging")
    account = env.deploy.accounts[0]
    before_env = covering_only_table_regions(env)
    assert before_env.regions == ("us-east-1", "us-west-2")
    seed_accounts(env)
    clients = moto_clients(moto)
    console, out = console_and_buffer()
    assert bootstrap(before_env, clients, console) == 0
    assert Deployer(_load(before_env, BEFORE, tmp_path / "before"), clients, console).run() == 0, out.getvalue()
    lambda_us_east_1 = clients.target(account, "lambda", "us-east-1", Access.BOOTSTRAP)
    assert lambda_us_east_1.get_function_configuration(FunctionName="edgecdn-staging-viewer-request")[
        "LoggingConfig"]["LogGroup"] == "/aws/lambda/edgecdn-staging-viewer-request"  # the default
    gained = [r for r in env.regions if r not in before_env.regions]
    seeded = _seed_lambda_made_groups(clients, env, gained)
    assert len(seeded) == 3 * len(gained) == 15

    console, out = console_and_buffer()
    deployer = Deployer(real_set("staging"), clients, console)
    assert deployer.run() == 0, out.getvalue()
    text = out.getvalue()
    # One deploy: the update of the running instances, then every new region at once.
    assert len(deployer.ops.started) == 2
    assert f"create instance(s) for account(s) {account} in 5 region(s) in parallel: {', '.join(gained)}" in text
    assert "Template buckets for the region(s) added since bootstrap: " + ", ".join(gained) in text
    # Before any change, the old groups were listed; they keep every event, and their (lack of) retention.
    assert "18 log group(s) the edge functions wrote to before they had their own" in text
    assert text.index("log group(s) the edge functions wrote to") < text.index("Started operation")
    assert "`deploy --expire-legacy-edge-logs` gives them that retention" in text
    for region in ["us-east-1", *gained]:
        logs = clients.target(account, "logs", region, Access.BOOTSTRAP)
        groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
        for name in legacy_names(env):
            # us-east-1's was the old stack's: it left the template, and RetainExceptOnCreate kept it
            # with the retention it had; the others are as Lambda made them.
            assert groups[name].get("retentionInDays") == (30 if region == "us-east-1" else None), (region, name)
            if (region, name) in seeded:
                assert len(logs.get_log_events(logGroupName=name, logStreamName="s")["events"]) == 1
        for event in ("viewer-request", "viewer-response", "origin-response"):
            assert groups[f"/edgecdn/staging/lambda-edge/{event}"]["retentionInDays"] == 30
    assert lambda_us_east_1.get_function_configuration(FunctionName="edgecdn-staging-viewer-request")[
        "LoggingConfig"]["LogGroup"] == "/edgecdn/staging/lambda-edge/viewer-request"
    summaries = clients.admin("cloudformation", "us-east-1").list_stack_instances(StackSetName="edgecdn-staging")
    assert sorted(s["Region"] for s in summaries["Summaries"] if s["Status"] == "CURRENT") == sorted(env.regions)


def test_expire_legacy_edge_logs_gives_the_old_groups_retention_and_nothing_else(
        moto: str, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    env = load_environment("dev")
    account = env.deploy.accounts[0]
    seed_accounts(env)
    clients = moto_clients(moto)
    console, out = console_and_buffer()
    assert bootstrap(env, clients, console) == 0
    assert Deployer(real_set("dev"), clients, console).run() == 0
    seeded = _seed_lambda_made_groups(clients, env, ["us-east-1", "eu-west-1"])

    monkeypatch.setattr(cli, "connect", lambda args, console: clients)
    assert deploy.main(["deploy", "--env", "dev"]) == 0
    assert "No changes were made." in capsys.readouterr().out  # nothing to do: no pre-flight, no listing

    mark = clients.log.mark()
    assert deploy.main(["deploy", "--env", "dev", "--expire-legacy-edge-logs"]) == 0
    text = capsys.readouterr().out
    assert "6 of them will get a retention of 14 days (retention.function_logs_days) once the rollout succeeds" in text
    assert f"{account}  eu-west-1      /aws/lambda/us-east-1.edgecdn-dev-viewer-request  " in text
    assert "-> retention 14 days" in text
    changes = [op for _, op in clients.log.since(mark).mutating]
    assert changes == ["PutRetentionPolicy"] * len(seeded)
    for region, name in seeded:
        group = clients.target(account, "logs", region, Access.BOOTSTRAP).describe_log_groups(
            logGroupNamePrefix=name)["logGroups"][0]
        assert group["retentionInDays"] == 14 and group["storedBytes"] > 0

    mark = clients.log.mark()
    assert deploy.main(["deploy", "--env", "dev", "--expire-legacy-edge-logs"]) == 0
    assert clients.log.since(mark).mutating == []  # they have it now


def test_a_log_group_of_a_managed_name_in_a_region_to_gain_is_refused_before_any_change(moto: str) -> None:
    """Lambda cannot create the functions' own log groups (no logs:CreateLogGroup), but someone can:
    deploy refuses before changing anything, names it, and keeps its events."""
    env = load_environment("staging")
    account = env.deploy.accounts[0]
    seed_accounts(env)
    clients = moto_clients(moto)
    logs = clients.target(account, "logs", "eu-west-2", Access.BOOTSTRAP)
    logs.create_log_group(logGroupName="/edgecdn/staging/lambda-edge/viewer-request")
    console, out = console_and_buffer()
    assert bootstrap(env, clients, console) == 0
    mark = clients.log.mark()
    from rollout.errors import InputError

    with pytest.raises(InputError) as caught:
        Deployer(real_set("staging"), clients, console).run()
    assert (f"{account}  eu-west-2      log group  /edgecdn/staging/lambda-edge/viewer-request  "
            "(lambda_edge.json/ViewerRequestEdgeLogGroup)") in str(caught.value)
    assert "deploy.py retained" in str(caught.value)
    assert clients.log.since(mark).mutating == []


@pytest.mark.parametrize("name", ["prod"])
def test_the_gain_regions_rehearsal(moto_endpoint: str, name: str) -> None:
    """deploy.py rehearse --scenario gain-regions: prod (three accounts) gains nine log regions; Lambda had
    made default-named groups in us-east-1 and those nine: 3 x 10 x 3 functions."""
    console, out = console_and_buffer()
    report = rehearse(real_set(name), console, endpoint_url=moto_endpoint, scenario="gain-regions")
    text = out.getvalue()
    assert report.ok, text
    assert "ok   gaining 9 region(s) took one deploy of 2 stack-set operation(s), each with its regions in " \
           "parallel (UPDATE PARALLEL, CREATE PARALLEL)" in text
    assert "ok   the 90 log groups Lambda created under the default name are untouched, every event kept" in text
    assert "ok   deploy --expire-legacy-edge-logs gave them retention 90 days (90 PutRetentionPolicy calls" in text


def test_the_stack_set_operations_carry_their_preferences(moto: str) -> None:
    """The emulator returns OperationPreferences, as StackSets does: the rollout's regions went at once."""
    env = load_environment("dev")
    seed_accounts(env)
    clients = moto_clients(moto)
    console, out = console_and_buffer()
    bootstrap(env, clients, console)
    deployer = Deployer(real_set("dev"), clients, console)
    assert deployer.run() == 0
    cfn = clients.admin("cloudformation", "us-east-1")
    (operation,) = [cfn.describe_stack_set_operation(StackSetName="edgecdn-dev", OperationId=op)["StackSetOperation"]
                    for op in deployer.ops.started]
    assert operation["OperationPreferences"] == {"RegionConcurrencyType": "PARALLEL", "FailureToleranceCount": 0,
                                                 "MaxConcurrentCount": 1}
    assert operation["Action"] == "CREATE"
