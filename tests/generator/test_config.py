"""The configuration model: the committed files load; each kind of bad input names file and field."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from templates.config import ConfigError, load_config, load_environment

PROJECT = Path(__file__).resolve().parents[2]

VALID = textwrap.dedent(
    """\
    project: shop
    primary_region: us-west-2
    deploy:
      accounts: ["123456789012"]
    """
)


def write(tmp_path: Path, text: str, name: str = "qa.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_committed_environments_load():
    prod = load_environment("prod")
    assert prod.edge_config_table_name == "edgecdn-edge-config-prod"
    assert prod.table_regions == ("us-west-2", "eu-west-1", "ap-southeast-2")
    assert prod.domain_for("333333333333").aliases == ("example.com", "www.example.com")
    assert prod.domain_for("444444444444").hosted_zone_id == "Z0PRODSHOP0EXAMPLE0002"
    assert load_environment("staging").domain_for("222222222222").aliases == ("staging.example.com",)
    assert load_environment("dev").single_region


def test_defaults_of_a_minimal_file(tmp_path):
    env = load_config(write(tmp_path, VALID))
    assert env.environment == "qa"
    assert env.name_prefix == "shop-qa"
    assert env.waf_rate_limit == 2000
    assert env.viewer_request.memory_mb == 128 and env.viewer_request.timeout_seconds == 5
    assert env.domain_for("123456789012") is None and not env.custom_domain
    assert env.deploy.accounts == ("123456789012",)


BAD = [
    # (extra YAML appended to a valid file, field path in the message, words of the message)
    ("projct: shop\n", "projct", "unknown key"),
    ("waf: {rate_limit: fast}\n", "waf.rate_limit", "must be an integer"),
    ("waf: {rate_limit: 5}\n", "waf.rate_limit", "from 10 to 2000000000"),
    ("waf: {rate_limit: true}\n", "waf.rate_limit", "got a boolean"),
    ("waf: {blocked_countries: [kp]}\n", "waf.blocked_countries[0]", "country code"),
    ("edge_config: {replica_regions: [mars-1]}\n", "edge_config.replica_regions[0]", "one of us-east-1"),
    ("edge_config: {replica_regions: [us-west-2]}\n", "edge_config.replica_regions", "primary region"),
    ("monitoring: {alarm_email: not-an-email}\n", "monitoring.alarm_email", "e-mail address"),
    ("domain: {zone_name: Example..com}\n", "domain.zone_name", "DNS name"),
    ("domain: {zone_name: example.com, hosted_zone_id: Z123ABC, aliases: [www.other.org]}\n",
     "domain.aliases[0]", "under it"),
    ("domain: {zone_name: example.com, aliases: [www.example.com]}\n", "domain.hosted_zone_id",
     "delegated zone"),
    ("domain: {zone_name: example.com, hosted_zone_id: bad}\n", "domain.hosted_zone_id", "hosted zone id"),
    ("edge_functions: {viewer_request: {memory_mb: 256}}\n", "edge_functions.viewer_request.memory_mb",
     "128 to 128"),
    ("edge_functions: {origin_response: {timeout_seconds: 60}}\n",
     "edge_functions.origin_response.timeout_seconds", "1 to 30"),
    ("retention: {waf_logs_days: 10}\n", "retention.waf_logs_days", "one of 1, 3, 5"),
    ("cdn: {price_class: PriceClass_50}\n", "cdn.price_class", "PriceClass_100"),
    ("tags: {Project: other}\n", "tags.Project", "always set"),
    ("tags: {Team: \"web;ops\"}\n", "tags.Team", "AWS tag values"),
    ("tags: {\"Team\\n\": web}\n", "tags.Team\n", "must be a tag key"),
    ("cdn: {content_security_policy: \"default-src 'self'\\r\"}\n", "cdn.content_security_policy",
     "printable ASCII"),
    # A trailing newline passed regexes ending in $, and would have reached resource names.
    ("monitoring: {alarm_email: \"ops@example.com\\n\"}\n", "monitoring.alarm_email", "e-mail address"),
    ("waf: {blocked_countries: [\"KP\\n\"]}\n", "waf.blocked_countries[0]", "country code"),
    ("domain: {zone_name: \"example.com\\n\"}\n", "domain.zone_name", "DNS name"),
    ("domain: {zone_name: example.com, hosted_zone_id: Z1, aliases: [" + ", ".join(
        f"n{i}.example.com" for i in range(11)) + "]}\n", "domain.aliases", "at most 10"),
    ("cdn: {spa_fallback: true}\n", "cdn.spa_fallback", "rewrites.spa_fallback in config/edge/<env>.yaml"),
    # Lambda@Edge only runs (and logs) in the regional-edge-cache regions.
    ("edge_functions: {log_regions: [ca-central-1]}\n", "edge_functions.log_regions[0]",
     "regional-edge-cache region, one of us-east-1"),
    ("edge_functions: {log_regions: all}\n", "edge_functions.log_regions", "must be a list of"),
    ("edge_functions: {log_regions: [eu-west-1, eu-west-1]}\n", "edge_functions.log_regions", "must not repeat"),
    ("monitoring: {replication_latency_ms: 5}\n", "monitoring.replication_latency_ms", "from 100 to 3600000"),
]


@pytest.mark.parametrize("extra, field, words", BAD, ids=[b[1] for b in BAD])
def test_bad_value_names_file_and_field(tmp_path, extra, field, words):
    path = write(tmp_path, VALID + extra)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}: {field}: " in message
    assert words in message


@pytest.mark.parametrize(
    "text, field, words",
    [
        ("primary_region: af-south-1\ndeploy: {accounts: ['123456789012']}\n", "project", "is required"),
        ("project: shop\nprimary_region: af-south-1\ndeploy: {accounts: ['123456789012']}\n",
         "primary_region", "one of us-east-1"),
        ("project: shop\ndeploy: {accounts: [123456789012]}\n", "deploy.accounts[0]", "in quotes"),
        ("project: shop\n", "deploy.accounts", "is required"),
        ("project: \"shop\\n\"\ndeploy: {accounts: ['123456789012']}\n", "project", "lowercase letters"),
        ("project: shop\ndeploy: {accounts: [\"123456789012\\n\"]}\n", "deploy.accounts[0]", "12-digit"),
        ("project: shop\ndeploy: {accounts: ['123456789012'], failure_tolerance_count: 1}\n",
         "deploy.failure_tolerance_count", "lower than deploy.max_concurrent_count"),
        ("project: [shop\nwaf: 1\n", "line 2", "not valid YAML"),
        ("- just\n- a list\n", "(top level)", "must be a mapping"),
        ("", "(top level)", "empty"),
    ],
)
def test_structural_problems(tmp_path, text, field, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{field}: " in str(caught.value) and words in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, "project: X\nwaf: {rate_limit: 1}\nbogus: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    fields = [field for field, _ in caught.value.problems]
    assert {"project", "waf.rate_limit", "bogus", "deploy.accounts"} <= set(fields)


def test_environment_name_comes_from_the_file_name(tmp_path):
    with pytest.raises(ConfigError, match="environment name"):
        load_config(write(tmp_path, VALID, name="Prod_EU.yaml"))


def test_unknown_environment_lists_the_known_ones():
    with pytest.raises(ConfigError, match="no such environment 'qa'; known: dev, prod, staging"):
        load_environment("qa")


def test_config_is_immutable():
    env = load_environment("dev")
    with pytest.raises(AttributeError):
        env.project = "other"


def test_generate_rejects_bad_config_with_exit_2_and_writes_nothing(tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    write(config_dir, VALID, "good.yaml")
    write(config_dir, VALID + "waf: {rate_limit: 1}\n", "bad.yaml")
    output = tmp_path / "output"
    (output / "good").mkdir(parents=True)
    (output / "good" / "root.json").write_text("previous\n")
    result = subprocess.run(
        [sys.executable, str(PROJECT / "generate.py"), "--config-dir", str(config_dir), "--output", str(output)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 2
    assert f"{config_dir / 'bad.yaml'}: waf.rate_limit: must be an integer from 10" in result.stderr
    assert sorted(p.name for p in output.rglob("*")) == ["good", "root.json"]
    assert (output / "good" / "root.json").read_text() == "previous\n"


def test_generate_rejects_unknown_environment(tmp_path):
    result = subprocess.run(
        [sys.executable, str(PROJECT / "generate.py"), "--env", "qa", "--check"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "config/qa.yaml: (file): no such environment 'qa'" in result.stderr


ACCOUNTS = textwrap.dedent(
    """\
    project: shop
    deploy:
      accounts:
        - id: "111111111111"
          domain: {zone_name: a.example.org, hosted_zone_id: Z1A, aliases: [a.example.org, www.a.example.org]}
        - "222222222222"
        - id: "333333333333"
          domain: {zone_name: c.example.org}
    """
)


def test_each_account_may_have_its_own_domain(tmp_path):
    env = load_config(write(tmp_path, ACCOUNTS))
    assert env.deploy.accounts == ("111111111111", "222222222222", "333333333333")
    first = env.domain_for("111111111111")
    assert (first.zone_name, first.hosted_zone_id, first.aliases) == (
        "a.example.org", "Z1A", ("a.example.org", "www.a.example.org"))
    assert first.where == "deploy.accounts[0].domain"
    assert env.domain_for("222222222222") is None
    assert env.domain_for("333333333333").creates_zone
    assert env.custom_domain and env.has_domain


def test_an_environment_level_domain_is_that_single_accounts_domain(tmp_path):
    env = load_config(write(tmp_path, VALID + "domain: {zone_name: example.com, hosted_zone_id: Z1, "
                                              "aliases: [www.example.com]}\n"))
    assert env.domain_for("123456789012").aliases == ("www.example.com",)


@pytest.mark.parametrize(
    "text, field, words",
    [
        (ACCOUNTS + "domain: {zone_name: example.com, hosted_zone_id: Z1, aliases: [example.com]}\n",
         "domain", "applies to a single account, but deploy.accounts lists 3"),
        ("project: shop\ndeploy: {accounts: ['111111111111', '111111111111']}\n", "deploy.accounts[1]",
         "repeats account 111111111111"),
        ("project: shop\ndeploy: {accounts: [{id: '111111111111', domain: {zone_name: a.example.org, "
         "aliases: [a.example.org]}}]}\n", "deploy.accounts[0].domain.hosted_zone_id", "delegated zone"),
        ("project: shop\ndeploy: {accounts: [{id: '111111111111', zone: x}]}\n", "deploy.accounts[0].zone",
         "unknown key"),
        ("project: shop\ndeploy: {accounts: [{domain: {zone_name: a.example.org}}]}\n", "deploy.accounts[0].id",
         "is required"),
        ("project: shop\ndeploy: {accounts: [{id: '111111111111', domain: {zone_name: a.example.org}}]}\n"
         "domain: {zone_name: b.example.org}\n", "domain", "given twice"),
        ("project: shop\ndeploy: {accounts: '111111111111'}\n", "deploy.accounts", "must be a list"),
    ],
)
def test_per_account_domain_problems_name_the_field(tmp_path, text, field, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: {field}: " in str(caught.value) and words in str(caught.value), str(caught.value)
