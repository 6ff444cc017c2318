"""The rehearsal's scenarios, and a rehearsal that rejects what AWS would reject (the old prod config)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from rollout.rehearse import rehearse, run_rehearsal
from rollout.scenarios import templates_for
from rollout_support import ROOT, console_and_buffer, real_set
from templates.config import DomainConfig, load_environment

from test_rehearsal import _clean_env


def _checks(report) -> dict[str, bool]:
    return {check.text: check.ok for check in report.checks}


def test_a_first_create_that_fails_part_way_rolls_back_and_succeeds_after_the_fix(moto_endpoint: str) -> None:
    console, out = console_and_buffer()
    report = rehearse(real_set("staging"), console, endpoint_url=moto_endpoint, scenario="failed-first-create")
    text = out.getvalue()
    assert report.ok, text
    assert ("account 222222222222 region us-east-1: CloudfrontStack/Distribution (AWS::CloudFront::Distribution) "
            "CREATE_FAILED: CNAMEAlreadyExists: One or more of the CNAMEs you provided are already associated with "
            "a different resource.") in text
    checks = _checks(report)
    assert checks["222222222222 us-east-1: the instance is OUTDATED, FAILED (OUTDATED, FAILED)"]
    assert checks["222222222222: the rollback left no named resource behind (RetainExceptOnCreate deletes what a "
                  "failed create made): none"]
    # The retry is one operation per instance still to create: the failed edge instance, then the primary.
    assert report.phase("deploy (first create, fails)").operations == 1
    assert report.phase("deploy").operations == 2
    assert report.phase("deploy again (no-op)").mutating == 0


def test_failed_first_create_without_a_domain_from_the_command_line(tmp_path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "deploy.py"), "rehearse", "--env", "dev",
                             "--scenario", "failed-first-create"], cwd=tmp_path, env=_clean_env(),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "injected: an origin access control named edgecdn-dev-origin already exists" in result.stdout
    assert ("CloudfrontStack/OriginAccessControl (AWS::CloudFront::OriginAccessControl) CREATE_FAILED: "
            "OriginAccessControlAlreadyExists: edgecdn-dev-origin") in result.stdout
    assert "Rehearsal passed:" in result.stdout


def test_destroy_then_deploy_is_refused_until_the_retained_resources_are_dealt_with(moto_endpoint: str) -> None:
    console, out = console_and_buffer()
    report = rehearse(real_set("staging"), console, endpoint_url=moto_endpoint, scenario="redeploy-after-destroy")
    text = out.getvalue()
    assert report.ok, text
    checks = _checks(report)
    assert checks["deploy after destroy is refused before any change (exit 2), naming every retained resource "
                  "and the way out"]
    assert checks["--delete-empty deleted what held nothing and kept what holds data: 3 kept (bucket, table)"]
    refused = report.phase("deploy after destroy (refused)")
    assert refused.mutating == 0 and refused.operations == 0
    assert ("222222222222  us-west-2      bucket     edgecdn-staging-origin-222222222222-us-west-2  1 object "
            "version(s)  (s3.json/OriginBucket)  -> kept: holds data (--delete-data deletes it)") in text
    assert "222222222222  us-west-2      table      edgecdn-edge-config-staging  holds items" in text
    assert report.phase("deploy after the cleanup").operations == 2


def test_an_account_added_to_a_running_environment(moto_endpoint: str) -> None:
    console, out = console_and_buffer()
    report = rehearse(real_set("prod"), console, endpoint_url=moto_endpoint, scenario="add-account")
    text = out.getvalue()
    assert report.ok, text
    assert report.phase("deploy").operations == 1 + 2  # two accounts first
    # The template names the new account (its domain, the allowed accounts): one UpdateStackSet,
    # then its us-east-1 instance, then its primary instance with its distribution's ARN.
    assert report.phase("deploy (account added)").operations == 3
    assert "Started operation" in text
    assert "create instance(s) for account(s) 555555555555 in 12 region(s) in parallel: us-east-1, " in text


def test_add_account_needs_two_accounts(capsys: pytest.CaptureFixture) -> None:
    import deploy

    assert deploy.main(["rehearse", "--env", "staging", "--scenario", "add-account"]) == 2
    assert "--scenario add-account: needs an environment with two accounts or more (staging.yaml has 1)" \
        in capsys.readouterr().err


# --- the old prod config: three accounts sharing example.com, www.example.com and one zone -------


OLD_PROD_DOMAIN = DomainConfig("example.com", "Z0PROD00000EXAMPLE0001", ("example.com", "www.example.com"))


def _old_prod(zone_ids: tuple[str, ...] | None = None):
    """prod as it was: every account with the same aliases (and, unless given, the same zone id).

    generate.py refuses this config (an alias claimed twice); the templates are built here without
    that check, as a user who bypassed it would have them.
    """
    env = load_environment("prod")
    ids = zone_ids or (OLD_PROD_DOMAIN.hosted_zone_id,) * len(env.deploy.accounts)
    domains = tuple((account, dataclasses.replace(OLD_PROD_DOMAIN, hosted_zone_id=zone_id))
                    for account, zone_id in zip(env.deploy.accounts, ids))
    return templates_for(dataclasses.replace(env, account_domains=domains))


def test_the_rehearsal_rejects_the_old_prod_config_one_zone_in_one_account(moto_endpoint: str) -> None:
    console, out = console_and_buffer()
    assert run_rehearsal(_old_prod(), console, endpoint_url=moto_endpoint) == 1
    text = out.getvalue()
    # The zone exists in the first account only: the second account cannot validate its certificate.
    assert ("account 444444444444 region us-east-1: CloudfrontStack/Certificate444444444444 "
            "(AWS::CertificateManager::Certificate) "
            "CREATE_FAILED: NoSuchHostedZone: No hosted zone found with ID: Z0PROD00000EXAMPLE0001") in text
    assert "Rehearsal failed: the rollout of edgecdn-prod stopped: instances in us-east-1, us-east-2, " in text


def test_the_rehearsal_rejects_the_old_prod_config_aliases_on_two_distributions(moto_endpoint: str) -> None:
    """Even with a zone of its own in each account, the second distribution cannot claim the aliases."""
    console, out = console_and_buffer()
    templates = _old_prod(("Z0PROD00000EXAMPLE0001", "Z0PROD00000EXAMPLE0002", "Z0PROD00000EXAMPLE0003"))
    assert run_rehearsal(templates, console, endpoint_url=moto_endpoint) == 1
    text = out.getvalue()
    assert ("account 444444444444 region us-east-1: CloudfrontStack/Distribution (AWS::CloudFront::Distribution) "
            "CREATE_FAILED: CNAMEAlreadyExists: One or more of the CNAMEs you provided are already associated "
            "with a different resource.") in text
    assert "555555555555  us-east-1      CANCELLED" in text
