"""deploy's pre-flight and `retained`: names taken outside the stack set's live stacks, found before any change."""

from __future__ import annotations

import dataclasses
import json

import pytest

import deploy
from rollout.aws import MAX_SESSION_POLICY_CHARS, Access
from rollout.bootstrap import bootstrap
from rollout.deployer import Deployer
from rollout.leftovers import Leftover, Planned, planned_resources
from rollout.moto_models.assume_role import seed_role
from rollout.retained import Retained, scoped_policies
from rollout.rehearse import seed_accounts
from rollout.scenarios import templates_for
from rollout_support import console_and_buffer, moto_clients, real_set
from templates.config import load_environment

STAGING_ACCOUNT = "222222222222"
OUTSIDE_ACCOUNT = "999999999999"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials of moto's default account for the command line."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def _bootstrapped(moto: str, name: str):
    env = load_environment(name)
    seed_accounts(env)
    clients = moto_clients(moto)
    assert bootstrap(env, clients, console_and_buffer()[0]) == 0
    return env, clients


def _api_distribution(alias: str) -> dict:
    return {"CallerReference": alias, "Comment": "", "Enabled": True, "Aliases": {"Quantity": 1, "Items": [alias]},
            "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "o.s3.us-east-1.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}


def test_the_templates_planned_names_resolve_in_every_account_and_region() -> None:
    """Every named resource of the generated output is found (nothing the pre-flight cannot check)."""
    for name in ("dev", "staging", "prod"):
        templates = real_set(name)
        for account in templates.env.deploy.accounts:
            for region in templates.env.regions:
                unresolved: list[str] = []
                named, aliases = planned_resources(templates, account, region, unresolved)
                assert unresolved == []
                kinds = {p.kind for p in named}
                if region == "us-east-1":
                    assert {"function", "log group", "bucket", "role"} <= kinds
                    domain = templates.env.domain_for(account)
                    assert sorted(a for a, _ in aliases) == sorted(domain.aliases if domain else ())
                if region == templates.env.primary_region:
                    assert {"bucket", "table"} <= kinds
    prod = real_set("prod")
    named, aliases = planned_resources(prod, "444444444444", "us-east-1")
    assert aliases == [("shop.example.com", "cloudfront.json/Distribution")]
    assert Planned("444444444444", "us-west-2", "AWS::S3::Bucket", "edgecdn-prod-origin-444444444444-us-west-2",
                   "s3.json/OriginBucket") in planned_resources(prod, "444444444444", "us-west-2")[0]


def test_an_alias_on_a_distribution_outside_the_stack_set_refuses_the_deploy(
        moto: str, aws_env: None, capsys: pytest.CaptureFixture) -> None:
    env, clients = _bootstrapped(moto, "staging")
    held = clients.target(STAGING_ACCOUNT, "cloudfront", "us-east-1", Access.BOOTSTRAP).create_distribution(
        DistributionConfig=_api_distribution("staging.example.com"))["Distribution"]["Id"]
    status = deploy.main(["deploy", "--env", "staging", "--endpoint-url", moto])
    out, err = capsys.readouterr()
    assert status == 2, out + err
    assert (f"222222222222  alias staging.example.com is held by distribution {held} in account 222222222222; "
            "that distribution is not this stack set's: remove the alias from it (or delete it) first") in err
    assert "Nothing was changed." in err
    assert "Created stack set" not in out
    cfn = clients.admin("cloudformation", "us-east-1")
    assert [s for s in cfn.list_stack_sets()["Summaries"] if s["StackSetName"] == "edgecdn-staging"] == []


def test_a_bucket_name_another_account_holds_refuses_the_deploy_and_retained_cannot_free_it(
        moto: str, aws_env: None, capsys: pytest.CaptureFixture) -> None:
    env, clients = _bootstrapped(moto, "staging")
    taken = f"edgecdn-staging-origin-{STAGING_ACCOUNT}-us-west-2"
    seed_role(OUTSIDE_ACCOUNT, clients.bootstrap_role_name, clients.account)  # that account lets this one in
    clients.target(OUTSIDE_ACCOUNT, "s3", "us-west-2", Access.BOOTSTRAP).create_bucket(
        Bucket=taken, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert deploy.main(["deploy", "--env", "staging", "--endpoint-url", moto]) == 2
    err = capsys.readouterr().err
    assert (f"222222222222  us-west-2      bucket     {taken}  name taken by another AWS account (bucket names "
            "are global)") in err
    assert deploy.main(["retained", "--env", "staging", "--endpoint-url", moto, "--delete-data"]) == 1
    out = capsys.readouterr().out
    assert "A bucket name taken by another AWS account cannot be freed from here" in out
    clients.target(OUTSIDE_ACCOUNT, "s3", "us-west-2", Access.BOOTSTRAP).head_bucket(Bucket=taken)  # untouched


def test_an_alias_moving_between_accounts_of_the_stack_set_needs_two_deploys(moto: str) -> None:
    env, clients = _bootstrapped(moto, "prod")
    console, out = console_and_buffer()
    assert Deployer(real_set("prod"), clients, console).run() == 0, out.getvalue()
    # The config moves shop.example.com from 444444444444 to 555555555555 in one step.
    domains = dict(env.account_domains)
    moved = dataclasses.replace(env, account_domains=(
        ("333333333333", domains["333333333333"]),
        ("444444444444", dataclasses.replace(domains["444444444444"], aliases=())),
        ("555555555555", dataclasses.replace(domains["555555555555"],
                                             aliases=("docs.example.com", "shop.example.com")))))
    console, out = console_and_buffer()
    with pytest.raises(Exception) as excinfo:
        Deployer(templates_for(moved), clients, console).run()
    message = str(excinfo.value)
    assert type(excinfo.value).__name__ == "InputError"
    assert ("555555555555  alias shop.example.com is held by distribution" in message
            and "in account 444444444444; it belongs to account 444444444444's stack of this stack set: deploy "
                "once with the alias removed from 444444444444's domain, then add it to 555555555555" in message)
    # A normal update of the running environment is not refused: its names are its own stacks'.
    console, out = console_and_buffer()
    assert Deployer(real_set("prod"), clients, console).run() == 0, out.getvalue()
    assert "No changes were made." in out.getvalue()


def test_retained_with_nothing_left_says_so_and_refuses_unknown_accounts(
        moto: str, aws_env: None, capsys: pytest.CaptureFixture) -> None:
    _bootstrapped(moto, "dev")
    assert deploy.main(["retained", "--env", "dev", "--endpoint-url", moto]) == 0
    assert ("No leftovers: none of the names edgecdn-dev creates exists outside its stacks in account(s) "
            "111111111111, region(s) us-east-1, us-east-2, us-west-1, us-west-2, eu-central-1, eu-west-1, "
            "eu-west-2. A deploy will not collide.") in capsys.readouterr().out
    assert deploy.main(["retained", "--env", "dev", "--endpoint-url", moto, "--account", "000000000000"]) == 2
    assert ("--account 000000000000: not an account of dev.yaml (deploy.accounts: 111111111111)"
            in capsys.readouterr().err)


def test_deploy_before_bootstrap_says_what_to_run(moto: str, aws_env: None, capsys: pytest.CaptureFixture) -> None:
    assert deploy.main(["deploy", "--env", "dev", "--endpoint-url", moto]) == 2
    assert ("template bucket edgecdn-stacksets-123456789012-us-east-1 does not exist: run "
            "`python deploy.py bootstrap --env dev` first") in capsys.readouterr().err


def test_scoped_session_policies_name_exactly_the_leftovers_and_fit_sts_limit() -> None:
    account = "444444444444"
    leftovers = [Leftover(Planned(account, region, kind, f"edgecdn-prod-{index:02d}-{region}-name", "x/y"), region)
                 for index, (kind, region) in enumerate(
                     [("AWS::S3::Bucket", "us-west-2"), ("AWS::DynamoDB::GlobalTable", "us-west-2"),
                      ("AWS::Logs::LogGroup", "us-east-1"), ("AWS::Lambda::Function", "us-east-1"),
                      ("AWS::IAM::Role", "us-east-1"), ("AWS::KMS::Alias", "us-west-2")] * 4)]
    for purpose, kinds in (("read", {"bucket", "table", "log group"}),
                           ("delete", {"bucket", "table", "log group", "function", "role", "KMS alias"})):
        policies = scoped_policies(leftovers, purpose)
        if purpose == "delete":
            assert len(policies) > 1  # 24 resources to delete do not fit one session policy
        covered = [l for _, members in policies for l in members]
        assert sorted(id(l) for l in covered) == sorted(id(l) for l in leftovers if l.planned.kind in kinds)
        for policy, members in policies:
            assert len(policy) <= MAX_SESSION_POLICY_CHARS
            document = json.loads(policy)
            resources = {s["Resource"] for s in document["Statement"]}
            assert "*" not in resources
            for leftover in members:
                assert any(leftover.planned.name in r for r in resources)
            actions = {a for s in document["Statement"] for a in s["Action"]}
            if purpose == "read":
                assert actions <= {"s3:ListBucketVersions", "dynamodb:Scan", "dynamodb:DescribeTable",
                                   "logs:DescribeLogStreams"}


def test_a_global_tables_replicas_go_one_at_a_time_each_unprotected_first(stubbed) -> None:
    """The order DynamoDB needs for a 2019.11.21 global table (moto has no replicas to show it)."""
    account, name = "444444444444", "edgecdn-edge-config-prod"
    leftover = Leftover(Planned(account, "us-west-2", "AWS::DynamoDB::GlobalTable", name, "dynamodb.json/T"),
                        "us-west-2")
    retained = Retained(real_set("prod"), stubbed, console_and_buffer()[0])
    retained._scope([leftover], "delete")
    primary = stubbed.stub("dynamodb", "us-west-2", account)
    replica = stubbed.stub("dynamodb", "eu-west-1", account)

    def table(status: str = "ACTIVE", protected: bool = True, replicas: tuple[str, ...] = ()) -> dict:
        return {"Table": {"TableName": name, "TableStatus": status, "DeletionProtectionEnabled": protected,
                          "Replicas": [{"RegionName": r} for r in replicas]}}

    primary.add_response("describe_table", table(replicas=("us-west-2", "eu-west-1")), {"TableName": name})
    replica.add_response("describe_table", table(), {"TableName": name})
    replica.add_response("update_table", {}, {"TableName": name, "DeletionProtectionEnabled": False})
    replica.add_response("describe_table", table("UPDATING"), {"TableName": name})
    replica.add_response("describe_table", table(protected=False), {"TableName": name})
    primary.add_response("update_table", {}, {"TableName": name,
                                              "ReplicaUpdates": [{"Delete": {"RegionName": "eu-west-1"}}]})
    primary.add_response("describe_table", table("UPDATING", replicas=("us-west-2", "eu-west-1")), {"TableName": name})
    primary.add_response("describe_table", table(replicas=("us-west-2",)), {"TableName": name})
    primary.add_response("describe_table", table(replicas=("us-west-2",)), {"TableName": name})
    primary.add_response("update_table", {}, {"TableName": name, "DeletionProtectionEnabled": False})
    primary.add_response("describe_table", table(protected=False), {"TableName": name})
    primary.add_response("delete_table", {}, {"TableName": name})
    assert retained._delete(leftover) == "deleted"
    stubbed.assert_done()
    assert stubbed.sleeps == [10.0, 10.0]
    policy = json.loads(retained.sessions[id(leftover)])
    assert policy["Statement"] == [{"Effect": "Allow", "Action": [
        "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:DeleteTableReplica"],
        "Resource": f"arn:aws:dynamodb:*:{account}:table/{name}"}]


def test_a_replica_of_a_table_with_items_holds_data_too() -> None:
    """moto does not replicate items between a global table's replicas; DynamoDB does."""
    def table(region: str, items: bool) -> Leftover:
        leftover = Leftover(Planned("444444444444", "us-west-2", "AWS::DynamoDB::GlobalTable",
                                    "edgecdn-edge-config-prod", "dynamodb.json/EdgeConfigTable"), region)
        leftover.holds_data = items
        return leftover

    leftovers = [table("us-west-2", True), table("eu-west-1", False), table("ap-southeast-2", False)]
    Retained._share_table_data(leftovers)
    assert [l.holds_data for l in leftovers] == [True, True, True]
    assert leftovers[2].content == "a replica of the table that holds items in us-west-2"
