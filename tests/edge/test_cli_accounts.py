"""`deploy.py edge-config` across the accounts of an environment, on a moto server entered through STS as on AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.iam.models import iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend, sts_backends

import deploy
from edgeconfig.accounts import EnvironmentTables, push, rollback
from edgeconfig.model import load_edge_config
from rollout.aws import Clients
from rollout.bootstrap import execution_trust_statement
from rollout.naming import EXECUTION_ROLE_NAME
from rollout.rehearse import rehearsal_session, reset_moto
from templates.config import load_environment

PROD = load_environment("prod")
TABLE = PROD.edge_config_table_name
FIRST, SECOND, THIRD = PROD.deploy.accounts


@pytest.fixture
def endpoint(moto_endpoint: str, cf) -> str:
    """moto, emptied, with each of prod's accounts bootstrapped: its execution role trusts the deploying account."""
    reset_moto(moto_endpoint)
    for account in PROD.deploy.accounts:
        cf.bootstrap_account(account)
    return moto_endpoint


@pytest.fixture
def tables(endpoint, cf) -> dict:
    """The edge-config table in each of prod's three accounts, as the dynamodb stack creates it."""
    return {account: cf.create_table(TABLE, PROD.primary_region, account, endpoint) for account in PROD.deploy.accounts}


def cli(capsys, endpoint: str, *args: str) -> tuple[int, str, str]:
    code = deploy.main(["edge-config", *args, "--env", "prod", "--endpoint-url", endpoint])
    out, err = capsys.readouterr()
    return code, out, err


def edge_file(tmp_path: Path, target: str, name: str | None = None) -> str:
    """An edge configuration whose one redirect points at `target` (so each target is a distinct content)."""
    path = tmp_path / (name or f"{target.strip('/') or 'root'}.yaml")
    path.write_text(yaml.safe_dump({"redirects": [{"from": "/old", "to": target}]}))
    return str(path)


def deployed(tables: dict) -> dict[str, tuple[int, str] | None]:
    """(version, content hash) of the current item in each account's table, None where nothing was pushed."""
    found = {}
    for account, client in tables.items():
        item = client.get_item(TableName=TABLE, Key={"config_id": {"S": "prod"}, "version": {"N": "0"}}).get("Item")
        found[account] = (int(item["config_version"]["N"]), item["content_hash"]["S"]) if item else None
    return found


def history(client) -> list[int]:
    items = client.scan(TableName=TABLE)["Items"]
    return sorted(int(i["version"]["N"]) for i in items if i["version"]["N"] != "0")


def row(out: str, account: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(account))


@pytest.fixture
def deny_writes(monkeypatch) -> set[str]:
    """Accounts whose DynamoDB answers TransactWriteItems with AccessDeniedException, as AWS does."""
    denied: set[str] = set()
    real = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        if self.account_id in denied:
            raise DynamodbException(
                ERROR_TYPE_PREFIX + "AccessDeniedException",
                f"User: arn:aws:sts::{self.account_id}:assumed-role/AWSCloudFormationStackSetExecutionRole/"
                f"edgecdn-deploy-edge-config-write is not authorized to perform: dynamodb:PutItem on resource: "
                f"arn:aws:dynamodb:{PROD.primary_region}:{self.account_id}:table/{TABLE} with an explicit deny "
                "in a service control policy")
        return real(self, transact_items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact_write_items)
    return denied


# --- every account -----------------------------------------------------------------------------


def test_push_writes_every_account_and_the_same_push_again_writes_nothing(capsys, tmp_path, endpoint, tables):
    file = edge_file(tmp_path, "/one")
    content_hash = load_edge_config(file).content_hash
    code, out, _ = cli(capsys, endpoint, "push", "--file", file, "-m", "first")
    assert code == 0
    for account in PROD.deploy.accounts:
        assert row(out, account).split()[1:] == [TABLE, f"({PROD.primary_region})", "-", "1",
                                                 content_hash[:19], "pushed", "version", "1"]
    assert "pushed version 1 to 3 of 3 account(s)" in out
    assert deployed(tables) == {account: (1, content_hash) for account in PROD.deploy.accounts}

    code, out, _ = cli(capsys, endpoint, "push", "--file", file)
    assert code == 0 and "nothing to push: the 3 account(s) already run this content" in out
    assert all("unchanged: already this content" in row(out, a) for a in PROD.deploy.accounts)
    assert [history(client) for client in tables.values()] == [[1], [1], [1]]


def test_each_account_is_entered_with_the_execution_role_narrowed_to_the_table(capsys, tmp_path, endpoint, tables):
    file = edge_file(tmp_path, "/one")
    assert cli(capsys, endpoint, "push", "--file", file)[0] == 0
    assert cli(capsys, endpoint, "diff", "--file", file)[0] == 0
    table_arn = f"arn:aws:dynamodb:{PROD.primary_region}:*:table/{TABLE}"
    for account in PROD.deploy.accounts:
        sessions = {role.session_name: role for role in sts_backends[account]["aws"].assumed_roles
                    if role.session_name != "test-setup"}
        assert set(sessions) == {"edgecdn-deploy-edge-config-write", "edgecdn-deploy-edge-config-read"}
        for name, actions in (("edgecdn-deploy-edge-config-write", ["GetItem", "Query", "PutItem"]),
                              ("edgecdn-deploy-edge-config-read", ["GetItem", "Query"])):
            assert sessions[name].role_arn == f"arn:aws:iam::{account}:role/AWSCloudFormationStackSetExecutionRole"
            assert json.loads(sessions[name].policy)["Statement"] == [
                {"Effect": "Allow", "Action": [f"dynamodb:{a}" for a in actions], "Resource": table_arn}]


def test_the_session_policy_allows_every_call_push_and_rollback_make(tmp_path, endpoint, tables):
    clients = Clients(rehearsal_session(), endpoint_url=endpoint)
    write = EnvironmentTables(PROD, clients, PROD.deploy.accounts, write=True)
    policy = json.loads(clients._accesses[write.access][1])["Statement"][0]
    allowed = {action.split(":")[1] for action in policy["Action"]}
    mark = clients.log.mark()
    for target in ("/one", "/two"):
        assert push(write, load_edge_config(edge_file(tmp_path, target)), None, "test").ok
    assert rollback(write, None, "test").ok
    made = {operation for service, operation in clients.log.since(mark).calls if service == "dynamodb"}
    # A transaction's puts are authorized as dynamodb:PutItem.
    needed = {"PutItem" if operation == "TransactWriteItems" else operation for operation in made}
    assert made == {"GetItem", "Query", "TransactWriteItems"} and needed == allowed


# --- a failure in the middle --------------------------------------------------------------------


def test_a_table_missing_in_the_second_account_stops_the_push_before_any_write(capsys, tmp_path, endpoint, cf):
    tables = {a: cf.create_table(TABLE, PROD.primary_region, a, endpoint) for a in (FIRST, THIRD)}
    file = edge_file(tmp_path, "/one")
    code, out, err = cli(capsys, endpoint, "push", "--file", file)
    assert code == 1
    assert "FAILED: table missing" in row(out, SECOND)
    assert "not written" in row(out, FIRST) and "not written" in row(out, THIRD)
    assert f"error: {SECOND}: table {TABLE} not found in {PROD.primary_region}" in err
    assert "1 of 3 account(s) could not be read, so no account was written" in err
    assert deployed(tables) == {FIRST: None, THIRD: None}

    tables[SECOND] = cf.create_table(TABLE, PROD.primary_region, SECOND, endpoint)
    assert cli(capsys, endpoint, "push", "--file", file)[0] == 0
    assert {v[0] for v in deployed(tables).values()} == {1}


# Real STS answers a refused AssumeRole with the code AccessDenied, which its service model does not list.
@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\) with code AccessDenied")
def test_an_account_that_cannot_be_entered_stops_the_push_before_any_write(capsys, tmp_path, endpoint, tables,
                                                                           monkeypatch):
    real = STSBackend.assume_role

    def assume_role(self, **kwargs):
        if f":{SECOND}:" in kwargs["role_arn"]:
            raise STSClientError("AccessDenied", f"User: arn:aws:sts::123456789012:user/ci is not authorized to "
                                                 f"perform: sts:AssumeRole on resource: {kwargs['role_arn']}")
        return real(self, **kwargs)

    monkeypatch.setattr(STSBackend, "assume_role", assume_role)
    code, out, err = cli(capsys, endpoint, "push", "--file", edge_file(tmp_path, "/one"))
    assert code == 1 and "FAILED: cannot enter the account" in row(out, SECOND)
    assert (f"cannot assume arn:aws:iam::{SECOND}:role/AWSCloudFormationStackSetExecutionRole (AccessDenied" in err
            and "run `deploy.py bootstrap` first" in err)
    assert set(deployed(tables).values()) == {None}


def test_a_write_denied_in_the_second_account_says_where_each_account_is_and_the_same_push_finishes(
        capsys, tmp_path, endpoint, tables, deny_writes):
    old, new = edge_file(tmp_path, "/old-target"), edge_file(tmp_path, "/new-target")
    old_hash, new_hash = load_edge_config(old).content_hash, load_edge_config(new).content_hash
    assert cli(capsys, endpoint, "push", "--file", old)[0] == 0

    deny_writes.add(SECOND)
    code, out, err = cli(capsys, endpoint, "push", "--file", new, "--expect-version", "1")
    assert code == 1
    assert row(out, FIRST).endswith("pushed version 2")
    assert row(out, SECOND).endswith("FAILED: AccessDeniedException")
    assert row(out, THIRD).endswith("not attempted")
    assert f"error: {SECOND}: TransactWriteItems: AccessDeniedException: User: " in err
    assert f"error: stopped at account {SECOND}: the accounts after it were not attempted" in err
    assert f"  version 2 ({new_hash}, {new}) in {FIRST}\n" in err
    assert f"  version 1 ({old_hash}) in {SECOND}, {THIRD}\n" in err
    assert "Run the same push again to finish" in err
    assert deployed(tables) == {FIRST: (2, new_hash), SECOND: (1, old_hash), THIRD: (1, old_hash)}

    # The same command, once the denial is lifted: the first account is not written again, and the
    # others get the same version number.
    deny_writes.clear()
    code, out, _ = cli(capsys, endpoint, "push", "--file", new, "--expect-version", "1")
    assert code == 0
    assert "unchanged: already this content" in row(out, FIRST)
    assert row(out, SECOND).endswith("pushed version 2") and row(out, THIRD).endswith("pushed version 2")
    assert "pushed version 2 to 2 of 3 account(s)" in out
    assert deployed(tables) == {account: (2, new_hash) for account in PROD.deploy.accounts}
    assert [history(client) for client in tables.values()] == [[1, 2], [1, 2], [1, 2]]

    code, out, _ = cli(capsys, endpoint, "push", "--file", new, "--expect-version", "1")
    assert code == 0 and "nothing to push" in out


def test_a_conflict_in_the_second_account_shows_the_version_someone_else_pushed(capsys, tmp_path, endpoint, tables,
                                                                                monkeypatch):
    assert cli(capsys, endpoint, "push", "--file", edge_file(tmp_path, "/base"))[0] == 0
    rival = load_edge_config(edge_file(tmp_path, "/rival"))
    real_store = EnvironmentTables.store

    def store(self, account):
        opened = real_store(self, account)
        if account == SECOND:
            real_write = opened.write

            def rival_pushes_first(config, expected_version, *args, **kwargs):
                real_write(rival, expected_version, "rival")
                return real_write(config, expected_version, *args, **kwargs)

            opened.write = rival_pushes_first
        return opened

    monkeypatch.setattr(EnvironmentTables, "store", store)
    mine = edge_file(tmp_path, "/mine")
    code, out, err = cli(capsys, endpoint, "push", "--file", mine)
    assert code == 1 and row(out, SECOND).endswith("FAILED: conflict")
    assert "conflict: expected the deployed configuration to be at version 1, but it is now at version 2" in err
    assert f"  version 2 ({rival.content_hash}) in {SECOND}\n" in err
    assert f"  version 2 ({load_edge_config(mine).content_hash}, {mine}) in {FIRST}\n" in err
    assert deployed(tables)[THIRD][0] == 1


# --- --expect-version and --account ------------------------------------------------------------


def test_expect_version_must_hold_in_every_account_the_push_writes(capsys, tmp_path, endpoint, tables):
    assert cli(capsys, endpoint, "push", "--file", edge_file(tmp_path, "/one"))[0] == 0
    assert cli(capsys, endpoint, "push", "--file", edge_file(tmp_path, "/two"), "--account", SECOND)[0] == 0
    before = deployed(tables)
    code, out, err = cli(capsys, endpoint, "push", "--file", edge_file(tmp_path, "/three"), "--expect-version", "1")
    assert code == 1
    assert f"expected version 1 deployed (--expect-version), but {SECOND} runs version 2. Nothing was written" in err
    assert "not written: version 2 deployed" in row(out, SECOND) and "not written" in row(out, FIRST)
    assert deployed(tables) == before
    # One push per group of accounts at the same version.
    three = edge_file(tmp_path, "/three")
    assert cli(capsys, endpoint, "push", "--file", three, "--expect-version", "1",
               "--account", FIRST, "--account", THIRD)[0] == 0
    assert cli(capsys, endpoint, "push", "--file", three, "--expect-version", "2", "--account", SECOND)[0] == 0
    assert {v[1] for v in deployed(tables).values()} == {load_edge_config(three).content_hash}


@pytest.mark.parametrize("action", ["push", "show", "diff", "rollback"])
@pytest.mark.parametrize("accounts, unknown", [
    (["999999999999"], "'999999999999'"),
    (["33333333333"], "'33333333333'"),
    ([""], "''"),
    ([FIRST, "nope", "123456789012"], "'nope', '123456789012'"),
])
def test_unknown_account_exits_2_naming_it_and_the_environments_accounts(capsys, action, accounts, unknown):
    options = [option for account in accounts for option in ("--account", account)]
    # Nothing listens on the discard port: any AWS call would fail the command with exit 1.
    code, out, err = cli(capsys, "http://127.0.0.1:9", action, *options)
    assert code == 2 and out == ""
    assert (f"--account {unknown}: not an account of environment prod; its accounts (config/prod.yaml "
            f"deploy.accounts): {FIRST}, {SECOND}, {THIRD}") in err


def test_account_selects_accounts_and_a_push_to_all_realigns_their_versions(capsys, tmp_path, endpoint, tables):
    one, two = edge_file(tmp_path, "/one"), edge_file(tmp_path, "/two")
    assert cli(capsys, endpoint, "push", "--file", one)[0] == 0
    code, out, _ = cli(capsys, endpoint, "push", "--file", two, "--account", SECOND, "--account", SECOND)
    assert code == 0 and [line.split()[0] for line in out.splitlines()[2:-1]] == [SECOND]
    assert [v[0] for v in deployed(tables).values()] == [1, 2, 1]

    code, out, _ = cli(capsys, endpoint, "diff", "--file", two)
    assert code == 1
    assert row(out, SECOND).endswith("no differences") and row(out, FIRST).endswith("differs")
    assert f"--- deployed version 1 in {FIRST}, {THIRD}" in out

    # The accounts that missed version 2 get it under that number: the versions line up again.
    code, out, _ = cli(capsys, endpoint, "push", "--file", two)
    assert code == 0 and row(out, FIRST).endswith("pushed version 2")
    assert [v[0] for v in deployed(tables).values()] == [2, 2, 2]
    assert history(tables[FIRST]) == [1, 2]

    # A version pushed to one account only is skipped elsewhere by the next push to all.
    assert cli(capsys, endpoint, "push", "--file", one, "--account", THIRD)[0] == 0
    assert cli(capsys, endpoint, "push", "--file", edge_file(tmp_path, "/four"))[0] == 0
    assert [v[0] for v in deployed(tables).values()] == [4, 4, 4]
    assert history(tables[FIRST]) == [1, 2, 4] and history(tables[THIRD]) == [1, 2, 3, 4]


# --- show, diff, rollback ----------------------------------------------------------------------


def test_show_and_diff_show_each_account(capsys, tmp_path, endpoint, tables):
    one, two = edge_file(tmp_path, "/one"), edge_file(tmp_path, "/two")
    assert cli(capsys, endpoint, "push", "--file", one, "-m", "everywhere")[0] == 0
    assert cli(capsys, endpoint, "push", "--file", two, "--account", FIRST, "-m", "first only")[0] == 0

    code, out, _ = cli(capsys, endpoint, "show")
    assert code == 0
    assert row(out, FIRST).split()[3] == "2" and row(out, SECOND).split()[3] == "1"
    assert f"# in account(s) {FIRST}\nredirects:\n- from: /old\n  to: /two" in out
    assert f"# in account(s) {SECOND}, {THIRD}\nredirects:\n- from: /old\n  to: /one" in out
    assert '"first only"' in out and '"everywhere"' in out

    code, out, err = cli(capsys, endpoint, "show", "--version", "2")
    assert code == 1 and "to: /two" in out
    assert row(out, SECOND).endswith("FAILED: no version 2")
    assert f"error: {SECOND}: no version 2 in {TABLE} ({PROD.primary_region})" in err

    code, out, _ = cli(capsys, endpoint, "show", "--history")
    assert code == 0
    assert out.count("# account ") == 3 and out.count("* version 1") == 2 and out.count("* version 2") == 1

    code, out, _ = cli(capsys, endpoint, "diff", "--file", one)
    assert code == 1 and row(out, FIRST).endswith("differs") and row(out, SECOND).endswith("no differences")
    assert f"--- deployed version 2 in {FIRST}\n+++ {one}" in out and "-  to: /two\n+  to: /one" in out


def test_rollback_restores_the_same_content_everywhere(capsys, tmp_path, endpoint, tables, deny_writes):
    one, two = edge_file(tmp_path, "/one"), edge_file(tmp_path, "/two")
    hash_one, hash_two = load_edge_config(one).content_hash, load_edge_config(two).content_hash
    for file in (one, two):
        assert cli(capsys, endpoint, "push", "--file", file)[0] == 0
    code, out, _ = cli(capsys, endpoint, "rollback", "-m", "undo two")
    assert code == 0 and "rolled back 3 of 3 account(s): version 3 holds the content of version 1" in out
    assert deployed(tables) == {account: (3, hash_one) for account in PROD.deploy.accounts}

    # A rollback denied in the second account: the report, and the command that finishes it.
    deny_writes.add(SECOND)
    code, out, err = cli(capsys, endpoint, "rollback", "--to-version", "2")
    assert code == 1 and row(out, THIRD).endswith("not attempted")
    assert f"  version 4 ({hash_two}) in {FIRST}\n  version 3 ({hash_one}) in {SECOND}, {THIRD}\n" in err
    assert (f"python deploy.py edge-config rollback --env prod --to-version 2 --account {SECOND} "
            f"--account {THIRD}") in err
    deny_writes.clear()

    # Now the accounts would restore different content by default: nothing is written.
    before = deployed(tables)
    code, out, err = cli(capsys, endpoint, "rollback")
    assert code == 1 and "the versions to restore hold different content in different accounts" in err
    assert f"{FIRST} version 3 ({hash_one}), {SECOND} version 2 ({hash_two})" in err
    assert deployed(tables) == before

    code, out, _ = cli(capsys, endpoint, "rollback", "--to-version", "2")
    assert code == 0 and "unchanged: already the content of version 2" in row(out, FIRST)
    assert deployed(tables) == {FIRST: (4, hash_two), SECOND: (4, hash_two), THIRD: (4, hash_two)}


def test_rollback_refuses_when_an_account_lacks_the_version(capsys, tmp_path, endpoint, tables):
    assert cli(capsys, endpoint, "push", "--file", edge_file(tmp_path, "/one"), "--account", FIRST)[0] == 0
    assert cli(capsys, endpoint, "push", "--file", edge_file(tmp_path, "/two"))[0] == 0
    before = deployed(tables)
    code, out, err = cli(capsys, endpoint, "rollback", "--to-version", "1")
    assert code == 1 and row(out, SECOND).endswith("FAILED: no version 1")
    assert f"error: {SECOND}: no version 1 (deployed: version 2)" in err
    assert "2 of 3 account(s) have no version to restore" in err
    assert deployed(tables) == before
    assert cli(capsys, endpoint, "rollback", "--to-version", "1", "--account", FIRST)[0] == 0


def test_an_interrupt_during_the_writes_still_reports_every_account(capsys, tmp_path, endpoint, tables, monkeypatch):
    real_store = EnvironmentTables.store

    def store(self, account):
        opened = real_store(self, account)
        if account == SECOND:
            def interrupted(*args, **kwargs):
                raise KeyboardInterrupt
            opened.write = interrupted
        return opened

    monkeypatch.setattr(EnvironmentTables, "store", store)
    file = edge_file(tmp_path, "/one")
    code, out, err = cli(capsys, endpoint, "push", "--file", file)
    assert code == 1
    assert row(out, FIRST).endswith("pushed version 1") and row(out, SECOND).endswith("FAILED: interrupted")
    assert row(out, THIRD).endswith("not attempted")
    assert f"  version 1 ({load_edge_config(file).content_hash}, {file}) in {FIRST}\n  nothing in {SECOND}, {THIRD}" in err


def test_credentials_of_one_of_the_accounts_are_used_there_directly(capsys, tmp_path, endpoint, tables, cf,
                                                                    monkeypatch):
    # The stack set is administered from FIRST: the other accounts' execution roles trust FIRST.
    for account in (SECOND, THIRD):
        iam_backends[account]["aws"].update_assume_role_policy(EXECUTION_ROLE_NAME, json.dumps({
            "Version": "2012-10-17", "Statement": [execution_trust_statement(FIRST)]}))
    iam = cf.account_client("iam", FIRST, "us-east-1", endpoint)
    iam.create_user(UserName="operator")
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    code, out, _ = cli(capsys, endpoint, "push", "--file", edge_file(tmp_path, "/one"))
    assert code == 0 and all(row(out, a).endswith("pushed version 1") for a in PROD.deploy.accounts)
    entered = {account: [r.session_name for r in sts_backends[account]["aws"].assumed_roles
                         if r.session_name.startswith("edgecdn-deploy")] for account in PROD.deploy.accounts}
    assert entered == {FIRST: [], SECOND: ["edgecdn-deploy-edge-config-write"],
                       THIRD: ["edgecdn-deploy-edge-config-write"]}
    pushed_by = tables[SECOND].get_item(TableName=TABLE, Key={"config_id": {"S": "prod"}, "version": {"N": "1"}})
    assert pushed_by["Item"]["pushed_by"]["S"] == f"arn:aws:iam::{FIRST}:user/operator"
