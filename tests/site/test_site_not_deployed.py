"""An environment or account not deployed (or deployed before the publisher role) is bad input: exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

import deploy
from rollout.aws import Access
from rollout.rehearse import reset_moto
from rollout_support import sample_set
from site_support import SITE, deploy as deploy_environment, write_site
from templates.config import load_environment


def cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    status = deploy.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.parametrize("action", [["sync"], ["releases"], ["rollback"]])
def test_an_environment_that_is_not_deployed(moto_endpoint: str, tmp_path: Path, credentials: None,
                                             capsys: pytest.CaptureFixture, action: list[str]) -> None:
    reset_moto(moto_endpoint)
    site = write_site(tmp_path / "site", SITE)
    argv = ["site", *action, "--env", "staging", "--endpoint-url", moto_endpoint] + ([str(site)] if action == [
        "sync"] else [])
    status, out, err = cli(argv, capsys)
    assert status == 2
    assert ("deploy.py: error: environment staging is not deployed: stack set edgecdn-staging does not exist in "
            "us-east-1 of account 123456789012 (run `python deploy.py deploy --env staging` first)") in err


def test_stacks_that_predate_the_publisher_role_and_an_account_without_instances(
        moto_endpoint: str, tmp_path: Path, credentials: None, capsys: pytest.CaptureFixture) -> None:
    # The tests' sample templates have no SitePublisherRoleArn output: stacks deployed before `site` existed.
    deployment = deploy_environment(sample_set(load_environment("prod"), tmp_path / "output"), moto_endpoint,
                                    with_targets=False)
    site = write_site(tmp_path / "site", SITE)
    status, out, err = cli(["site", "sync", "--env", "prod", str(site), "--endpoint-url", moto_endpoint], capsys)
    assert status == 2
    assert ("account 333333333333: the stacks of stack set edgecdn-prod lack the output(s) SitePublisherRoleArn "
            "(us-west-2): they predate `site` or their last deploy failed; run `python deploy.py deploy --env prod`"
            ) in err
    cfn = deployment.clients().admin("cloudformation", "us-east-1")
    cfn.delete_stack_instances(StackSetName="edgecdn-prod", Accounts=["444444444444"], Regions=["us-east-1"],
                               RetainStacks=False)
    status, out, err = cli(["site", "sync", "--env", "prod", str(site), "--endpoint-url", moto_endpoint,
                            "--account", "444444444444"], capsys)
    assert status == 2
    assert ("account 444444444444 is not deployed in us-east-1 (stack set edgecdn-prod has no stack there; run "
            "`python deploy.py deploy --env prod`)") in err
    for account in ("333333333333", "444444444444", "555555555555"):
        s3 = deployment.clients().target(account, "s3", "us-west-2", Access.BOOTSTRAP)
        assert s3.list_objects_v2(Bucket=f"edgecdn-prod-origin-{account}-us-west-2").get("KeyCount") == 0
