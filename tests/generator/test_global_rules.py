"""Rules across accounts and environments, checked before anything is generated (exit 2, both places named)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from troposphere import Sub

from templates import s3
from templates.build import BuildError, build_templates, render_checked
from templates.config import load_environment
from templates.global_rules import longest_names_variant, name_problems

PROJECT = Path(__file__).resolve().parents[2]


def generate(config_dir: Path, *args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT / "generate.py"), "--config-dir", str(config_dir),
         "--output", str(tmp_path / "output"), "--no-lint", *args],
        capture_output=True, text=True, cwd=tmp_path,
    )


def write_configs(tmp_path: Path, **files: str) -> Path:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    for name, text in files.items():
        (config_dir / f"{name}.yaml").write_text(textwrap.dedent(text))
    return config_dir


def test_an_alias_claimed_by_two_accounts_names_both_places(tmp_path):
    config_dir = write_configs(tmp_path, prod="""\
        project: shop
        deploy:
          accounts:
            - id: "111111111111"
              domain: {zone_name: example.org, hosted_zone_id: Z1A, aliases: [example.org, www.example.org]}
            - id: "222222222222"
              domain: {zone_name: www.example.org, hosted_zone_id: Z2B, aliases: [www.example.org]}
        """)
    result = generate(config_dir, tmp_path=tmp_path)
    assert result.returncode == 2
    assert (f"{config_dir / 'prod.yaml'}: deploy.accounts[1].domain.aliases[0]: www.example.org (account "
            f"222222222222) is also an alias at {config_dir / 'prod.yaml'}: deploy.accounts[0].domain.aliases[1] "
            "(account 111111111111)") in result.stderr
    assert "CNAMEAlreadyExists" in result.stderr
    assert not (tmp_path / "output").exists()


def test_an_alias_claimed_by_two_environments_fails_even_when_one_is_generated(tmp_path):
    config_dir = write_configs(
        tmp_path,
        prod="""\
            project: shop
            domain: {zone_name: example.org, hosted_zone_id: Z1A, aliases: [example.org]}
            deploy: {accounts: ["111111111111"]}
            """,
        qa="""\
            project: shop
            domain: {zone_name: example.org, hosted_zone_id: Z1A, aliases: [example.org]}
            deploy: {accounts: ["111111111111"]}
            """,
    )
    result = generate(config_dir, "--env", "qa", tmp_path=tmp_path)
    assert result.returncode == 2
    assert (f"{config_dir / 'qa.yaml'}: domain.aliases[0]: example.org (account 111111111111) is also an alias "
            f"at {config_dir / 'prod.yaml'}: domain.aliases[0]") in result.stderr


@pytest.mark.parametrize(
    "second, words",
    [
        ('domain: {zone_name: example.org, hosted_zone_id: Z1A, aliases: [qa.example.org]}\n'
         'deploy: {accounts: ["222222222222"]}\n',
         "hosted zone Z1A is named for account 222222222222 here and for account 111111111111"),
        ('domain: {zone_name: example.org, hosted_zone_id: Z9Z, aliases: [qa.example.org]}\n'
         'deploy: {accounts: ["111111111111"]}\n',
         "zone example.org is Z9Z here but Z1A at"),
        ('domain: {zone_name: other.org, hosted_zone_id: Z1A, aliases: [qa.other.org]}\n'
         'deploy: {accounts: ["111111111111"]}\n',
         "hosted zone Z1A is other.org here but example.org at"),
    ],
    ids=["zone in two accounts", "two zones of one name", "one zone, two names"],
)
def test_a_hosted_zone_belongs_to_one_account_and_one_name(tmp_path, second, words):
    config_dir = write_configs(
        tmp_path,
        prod="""\
            project: shop
            domain: {zone_name: example.org, hosted_zone_id: Z1A, aliases: [example.org]}
            deploy: {accounts: ["111111111111"]}
            """,
        qa="project: shop\n" + second,
    )
    result = generate(config_dir, tmp_path=tmp_path)
    assert result.returncode == 2
    assert f"{config_dir / 'qa.yaml'}: domain.hosted_zone_id: {words}" in result.stderr, result.stderr


def test_two_environments_may_share_a_zone_in_one_account(tmp_path):
    config_dir = write_configs(
        tmp_path,
        prod="""\
            project: shop
            domain: {zone_name: example.org, hosted_zone_id: Z1A, aliases: [example.org]}
            deploy: {accounts: ["111111111111"]}
            """,
        qa="""\
            project: shop
            domain: {zone_name: example.org, hosted_zone_id: Z1A, aliases: [qa.example.org]}
            deploy: {accounts: ["111111111111"]}
            """,
    )
    result = generate(config_dir, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_names_fit_for_the_longest_project_and_environment_the_config_allows():
    for name in ("dev", "staging", "prod"):
        env = load_environment(name)
        longest = build_templates(longest_names_variant(env))
        assert name_problems(env, longest) == []
        bucket = longest["s3"]["Resources"]["OriginBucket"]["Properties"]["BucketName"]["Fn::Sub"]
        assert bucket == "pppppppppppppppp-eeeeeeeeee-origin-${AWS::AccountId}-" + env.primary_region


def test_a_name_that_could_grow_too_long_fails_the_build(monkeypatch):
    # A fork renaming the logs bucket: fine for "edgecdn-prod", too long for a 16 + 10 character prefix.
    monkeypatch.setattr(s3, "regional_name",
                        lambda env, purpose: Sub(f"{env.name_prefix}-{purpose}-archive-${{AWS::AccountId}}-${{AWS::Region}}"))
    with pytest.raises(BuildError) as caught:
        render_checked(load_environment("prod"))
    assert ("prod: s3.json LogsBucket.BucketName: is 68 characters for the longest project (16), environment (10), "
            "account and region (ap-northeast-1) the configuration allows; AWS allows 63") in str(caught.value)


def test_a_name_whose_length_cannot_be_bounded_is_reported(monkeypatch):
    monkeypatch.setattr(s3, "regional_name", lambda env, purpose: Sub("${AWS::StackName}-logs"))
    with pytest.raises(BuildError, match="LogsBucket.BucketName: the length of AWS::S3::Bucket names cannot be bounded"):
        render_checked(load_environment("staging"))
