"""`deploy.py edge-config` as users run it: validate, push, show, diff, rollback, conflicts and exit codes, on moto."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import deploy
from edgeconfig.model import EDGE_CONFIG_DIR, load_edge_config
from edgeconfig.store import ConflictError, EdgeConfigStore
from templates.config import PROJECT_ROOT, load_environment

PROD = load_environment("prod")
FIRST = PROD.deploy.accounts[0]


@pytest.fixture
def prod_accounts(aws, cf):
    """prod's accounts as `deploy.py bootstrap` leaves them: their execution roles trust the deploying account."""
    for account in PROD.deploy.accounts:
        cf.bootstrap_account(account)


@pytest.fixture
def prod_table(prod_accounts, cf):
    """The table in each of prod's accounts; the client of the first account's (tests look there)."""
    clients = [cf.create_table(PROD.edge_config_table_name, PROD.primary_region, account)
               for account in PROD.deploy.accounts]
    return clients[0]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = deploy.main(["edge-config", *args])
    out, err = capsys.readouterr()
    return code, out, err


def edge_file(tmp_path: Path, doc: dict, name: str = "prod.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def items(client) -> list[dict]:
    return client.scan(TableName=PROD.edge_config_table_name)["Items"]


def store(client) -> EdgeConfigStore:
    return EdgeConfigStore(client, PROD.edge_config_table_name, "prod")


# --- validate ----------------------------------------------------------------------------------


def test_validate_accepts_the_committed_file(capsys):
    code, out, _ = cli(capsys, "validate", "--env", "prod")
    assert code == 0
    assert out.startswith("config/edge/prod.yaml: valid: 3 exact and 2 prefix redirects, 1 experiments")


def test_validate_reports_every_problem_with_file_and_field_and_exits_2(capsys, tmp_path):
    path = edge_file(tmp_path, {"redirects": [{"from": "/a", "to": "/b"}, {"from": "/c", "to": "/d"},
                                              {"from": "/e", "to": "/f"}, {"from": "/g", "to": "/h", "status": 303}],
                                "maintenance": {"allow_cidrs": ["300.1.1.1"]}})
    code, out, err = cli(capsys, "validate", "--env", "prod", "--file", path)
    assert code == 2 and out == ""
    assert f"{path}: redirects[3].status: must be one of 301, 302, 307, 308, got 303" in err
    assert f"{path}: maintenance.allow_cidrs[0]: must be an IPv4 or IPv6 address" in err


@pytest.mark.parametrize("args, message", [
    (["--env", "nope"], "no such environment 'nope'"),
    (["--env", "prod", "--file", "/nonexistent/edge.yaml"], "(file): cannot be read"),
])
def test_unknown_environment_or_file_exits_2(capsys, args, message):
    code, _, err = cli(capsys, "validate", *args)
    assert code == 2 and message in err


def test_help_documents_actions_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        deploy.main(["edge-config", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for word in ("validate", "push", "show", "diff", "rollback", "exit status", "docs/edge-config.md"):
        assert word in out


# --- push, show, diff, rollback ----------------------------------------------------------------


def test_push_show_diff_rollback_round_trip(capsys, tmp_path, prod_table):
    v1 = {"redirects": [{"from": "/a", "to": "/one"}]}
    v2 = {"redirects": [{"from": "/a", "to": "/two"}], "maintenance": {"enabled": True}}
    file = edge_file(tmp_path, v1)

    code, out, _ = cli(capsys, "push", "--env", "prod", "--file", file, "-m", "first")
    assert code == 0 and "pushed version 1" in out and "within 60 s" in out

    code, out, _ = cli(capsys, "show", "--env", "prod")
    assert code == 0
    assert "version 1" in out and "first" in out and "to: /one" in out
    assert load_edge_config(file).content_hash in out

    code, out, _ = cli(capsys, "push", "--env", "prod", "--file", file)
    assert code == 0 and "nothing to push" in out
    assert len(items(prod_table)) == 2  # the current item and version 1

    code, out, _ = cli(capsys, "diff", "--env", "prod", "--file", file)
    assert code == 0 and "no differences" in out

    file = edge_file(tmp_path, v2)
    code, out, _ = cli(capsys, "diff", "--env", "prod", "--file", file)
    assert code == 1
    assert "--- deployed version 1" in out and "-  to: /one" in out and "+  to: /two" in out
    assert "-  enabled: false" in out and "+  enabled: true" in out

    assert cli(capsys, "push", "--env", "prod", "--file", file)[0] == 0

    code, out, _ = cli(capsys, "rollback", "--env", "prod", "-m", "maintenance by mistake")
    assert code == 0 and "version 3" in out and "content of version 1" in out
    current = store(prod_table).current()
    assert (current.version, current.action, current.restored_from) == (3, "rollback", 1)
    assert current.content == store(prod_table).version(1).content

    code, out, _ = cli(capsys, "rollback", "--env", "prod", "--to-version", "2")
    assert code == 0 and store(prod_table).current().content == store(prod_table).version(2).content

    code, out, _ = cli(capsys, "show", "--env", "prod", "--history", "--account", FIRST)
    assert code == 0
    lines = [line for line in out.splitlines() if not line.startswith("#")]
    assert [re.search(r"version (\d+)", line).group(1) for line in lines] == ["4", "3", "2", "1"]
    assert lines[0].startswith("* ") and "rollback to version 2" in lines[0]

    code, out, _ = cli(capsys, "show", "--env", "prod", "--version", "2")
    assert code == 0 and "to: /two" in out and "enabled: true" in out


def test_history_items_are_immutable_and_complete(capsys, tmp_path, prod_table):
    for n in range(3):
        cli(capsys, "push", "--env", "prod", "--file", edge_file(tmp_path, {"redirects": [{"from": "/a", "to": f"/{n}"}]}))
    versions = sorted(int(item["version"]["N"]) for item in items(prod_table))
    assert versions == [0, 1, 2, 3]
    for stored in store(prod_table).history():
        assert stored.config().document["redirects"][0]["to"] == f"/{stored.version - 1}"


@pytest.mark.parametrize("args, message", [
    ([], "nothing to roll back"),
    (["--to-version", "9"], "nothing to roll back"),
])
def test_rollback_with_nothing_deployed_fails(capsys, prod_table, args, message):
    code, _, err = cli(capsys, "rollback", "--env", "prod", *args)
    assert code == 1 and message in err


def test_rollback_needs_an_existing_earlier_version(capsys, tmp_path, prod_table):
    cli(capsys, "push", "--env", "prod", "--file", edge_file(tmp_path, {}))
    code, _, err = cli(capsys, "rollback", "--env", "prod")
    assert code == 1 and "first version" in err
    code, _, err = cli(capsys, "rollback", "--env", "prod", "--to-version", "7")
    assert code == 1 and "no version 7" in err
    code, out, _ = cli(capsys, "rollback", "--env", "prod", "--to-version", "1")
    assert code == 0 and "nothing to do" in out


def test_show_and_diff_with_nothing_deployed(capsys, tmp_path, prod_table):
    code, _, err = cli(capsys, "show", "--env", "prod")
    assert code == 1 and "nothing pushed" in err
    code, out, _ = cli(capsys, "diff", "--env", "prod")
    assert code == 1 and "--- deployed (nothing yet)" in out and "+redirects:" in out


def test_invalid_file_is_never_written(capsys, tmp_path, prod_table):
    file = edge_file(tmp_path, {"experiments": [{"name": "x", "prefix": "/", "variants": []}]})
    code, _, err = cli(capsys, "push", "--env", "prod", "--file", file)
    assert code == 2 and "experiments[0].variants" in err
    assert items(prod_table) == []


def test_validate_and_push_refuse_a_redirect_loop_that_the_edge_does_not_look_for(capsys, tmp_path, prod_table):
    # The functions leave chains and loops to the CLI (edge_handler._check_redirect_chains): it must refuse them.
    file = edge_file(tmp_path, {"redirects": [{"from": "/a", "to": "/b"}, {"prefix": "/b", "to": "/a"}]})
    for action in ("validate", "push"):
        code, out, err = cli(capsys, action, "--env", "prod", "--file", file)
        assert code == 2 and out == ""
        assert f"{file}: redirects[0]: makes a redirect loop with redirects[1]: /a -> /b -> /a" in err
    assert items(prod_table) == []


# --- conflicts ---------------------------------------------------------------------------------


def test_concurrent_push_loses_with_a_conflict_and_writes_nothing(capsys, tmp_path, prod_table, monkeypatch):
    cli(capsys, "push", "--env", "prod", "--file", edge_file(tmp_path, {"redirects": [{"from": "/a", "to": "/base"}]}))
    rival = load_edge_config(edge_file(tmp_path, {"redirects": [{"from": "/a", "to": "/rival"}]}, "rival.yaml"))
    real_write = EdgeConfigStore.write

    def rival_pushes_first(self, config, expected_version, *args, **kwargs):
        # The other operator's push lands between this push's read and its write.
        real_write(self, rival, expected_version, "rival")
        return real_write(self, config, expected_version, *args, **kwargs)

    monkeypatch.setattr(EdgeConfigStore, "write", rival_pushes_first)
    code, _, err = cli(capsys, "push", "--env", "prod", "--file",
                       edge_file(tmp_path, {"redirects": [{"from": "/a", "to": "/mine"}]}))
    assert code == 1
    assert "conflict: expected the deployed configuration to be at version 1, but it is now at version 2" in err
    current = store(prod_table).current()
    assert (current.version, current.pushed_by) == (2, "rival")
    assert sorted(int(i["version"]["N"]) for i in items(prod_table)) == [0, 1, 2]


def test_two_writers_on_the_same_base_version_one_wins(prod_table, tmp_path):
    a = load_edge_config(edge_file(tmp_path, {"redirects": [{"from": "/a", "to": "/aa"}]}, "a.yaml"))
    b = load_edge_config(edge_file(tmp_path, {"redirects": [{"from": "/b", "to": "/bb"}]}, "b.yaml"))
    first, second = store(prod_table), store(prod_table)
    first.write(a, None, "alice")
    with pytest.raises(ConflictError) as conflict:
        second.write(b, None, "bob")
    assert (conflict.value.expected, conflict.value.found) == (None, 1)
    assert first.current().content == a.content and len(items(prod_table)) == 2


def test_expect_version_guards_a_reviewed_diff(capsys, tmp_path, prod_table):
    file = edge_file(tmp_path, {"redirects": [{"from": "/a", "to": "/x"}]})
    code, _, err = cli(capsys, "push", "--env", "prod", "--file", file, "--expect-version", "3")
    assert code == 1 and "conflict" in err and items(prod_table) == []
    assert cli(capsys, "push", "--env", "prod", "--file", file, "--expect-version", "0")[0] == 0
    other = edge_file(tmp_path, {"redirects": [{"from": "/a", "to": "/y"}]}, "other.yaml")
    code, _, err = cli(capsys, "push", "--env", "prod", "--file", other, "--expect-version", "0")
    assert code == 1 and f"expected version 0 deployed (--expect-version), but {FIRST} runs version 1" in err
    # The file's content is already deployed: whatever the expected version, nothing is written.
    code, out, _ = cli(capsys, "push", "--env", "prod", "--file", file, "--expect-version", "0")
    assert code == 0 and "nothing to push" in out and len(items(prod_table)) == 2


def test_expect_version_with_the_deployed_content_writes_nothing(capsys, tmp_path, prod_table):
    file = edge_file(tmp_path, {"redirects": [{"from": "/a", "to": "/x"}]})
    assert cli(capsys, "push", "--env", "prod", "--file", file)[0] == 0
    before = items(prod_table)
    code, out, err = cli(capsys, "push", "--env", "prod", "--file", file, "--expect-version", "1")
    assert code == 0 and err == ""
    assert "nothing to push: the 3 account(s) already run this content" in out
    assert items(prod_table) == before


def test_show_of_a_version_that_does_not_exist_says_so(capsys, tmp_path, prod_table):
    cli(capsys, "push", "--env", "prod", "--file", edge_file(tmp_path, {}))
    code, out, err = cli(capsys, "show", "--env", "prod", "--version", "99")
    assert code == 1
    assert "FAILED: no version 99" in out and "pushed at" in out
    assert f"no version 99 in {PROD.edge_config_table_name}" in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["push", "--endpoint-url", "notaurl"], "argument --endpoint-url: must be an http(s) URL such as "
                                            "http://localhost:5000, got 'notaurl'"),
    (["show", "--endpoint-url", "localhost:8000"], "argument --endpoint-url: must be an http(s) URL"),
    (["diff", "--endpoint-url", "http://localhost:99999"], "argument --endpoint-url: must be an http(s) URL"),
    (["show", "--region", "us west 2"], "argument --region: must be an AWS region such as us-west-2, got 'us west 2'"),
    (["push", "-m", "x" * 1001], "argument --message/-m: must be one line of at most 1000 printable characters"),
    (["rollback", "-m", "two\nlines"], "argument --message/-m: must be one line"),
    (["push", "--expect-version", "-1"], "argument --expect-version: must be 0 or more, got -1"),
    (["show", "--version", "0"], "argument --version: must be 1 or more, got 0"),
    (["rollback", "--to-version", "9" * 40], "argument --to-version: must be a version number, at most 1000000000"),
    (["show", "--version", "2", "--history"], "argument --history: not allowed with argument --version"),
])
def test_bad_options_exit_2_with_one_message_naming_the_option(capsys, args, message):
    with pytest.raises(SystemExit) as stopped:
        deploy.main(["edge-config", *args, "--env", "prod"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert message in err and "Traceback" not in err
    assert [line for line in err.splitlines() if "error:" in line] == [err.splitlines()[-1]]


@pytest.mark.parametrize("attribute, value, message", [
    ("config_version", None, "config_version: is missing"),
    ("config_version", {"S": "1"}, "config_version: must be a DynamoDB number (N)"),
    ("content", {"N": "1"}, "content: must be a DynamoDB string (S)"),
])
def test_a_malformed_table_item_is_named_not_a_traceback(capsys, cf, prod_table, attribute, value, message):
    item = cf.current_item("prod", {}, 1)
    if value is None:
        del item[attribute]
    else:
        item[attribute] = value
    prod_table.put_item(TableName=PROD.edge_config_table_name, Item=item)
    for action in ("show", "diff", "push", "rollback"):
        code, _, err = cli(capsys, action, "--env", "prod", *(["--file", str(EDGE_CONFIG_DIR / "prod.yaml")]
                                                               if action in ("diff", "push") else []))
        assert code == 2 and "Traceback" not in err
        assert err == f"table item (config_id=prod, version=0): {message}\n"


# --- AWS setup problems ------------------------------------------------------------------------


def test_missing_table_is_a_failed_operation(capsys, prod_accounts):
    code, _, err = cli(capsys, "show", "--env", "prod")
    assert code == 1 and f"table {PROD.edge_config_table_name} not found in {PROD.primary_region}" in err


def test_region_override_writes_where_asked(capsys, tmp_path, prod_accounts, cf):
    clients = [cf.create_table(PROD.edge_config_table_name, "eu-west-1", account) for account in PROD.deploy.accounts]
    assert cli(capsys, "push", "--env", "prod", "--region", "eu-west-1", "--file", edge_file(tmp_path, {}))[0] == 0
    assert [len(items(client)) for client in clients] == [2, 2, 2]


def test_missing_credentials_exit_2(capsys, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, _, err = cli(capsys, "show", "--env", "prod")
    assert code == 2 and "no AWS credentials found" in err


def test_unknown_profile_exits_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, _, err = cli(capsys, "show", "--env", "prod", "--profile", "no-such-profile")
    assert code == 2 and "no-such-profile" in err


# --- the real command line, from another directory, against a moto server ----------------------


def test_deploy_py_runs_from_any_directory_against_an_endpoint(tmp_path, cf):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        dev = load_environment("dev")
        cf.bootstrap_account(dev.deploy.accounts[0])
        cf.create_table(dev.edge_config_table_name, dev.primary_region, dev.deploy.accounts[0], endpoint)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, str(PROJECT_ROOT / "deploy.py"), "edge-config", *args,
                                   "--env", "dev", "--endpoint-url", endpoint],
                                  cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

        pushed = run("push", "-m", "from the test")
        assert pushed.returncode == 0, pushed.stderr
        assert "pushed version 1" in pushed.stdout
        shown = run("show")
        assert shown.returncode == 0 and "from the test" in shown.stdout
        assert yaml.safe_load(shown.stdout.rsplit("\n# in account(s) 111111111111\n", 1)[1]) == yaml.safe_load(
            load_edge_config(EDGE_CONFIG_DIR / "dev.yaml").to_yaml())
        assert run("diff").returncode == 0
    finally:
        server.stop()


def test_show_and_diff_survive_a_stored_version_that_no_longer_validates(capsys, prod_table, cf):
    bad = '{"redirects":[{"from":"/a","to":"/b","status":303}]}'
    item = cf.current_item("prod", {}, 1, content={"S": bad}, content_hash={"S": "sha256:x"})
    prod_table.put_item(TableName=PROD.edge_config_table_name, Item=item)
    code, out, _ = cli(capsys, "show", "--env", "prod", "--account", FIRST)
    assert code == 0 and "WARNING: version 1 does not pass today's validation" in out and bad in out
    code, out, _ = cli(capsys, "diff", "--env", "prod", "--account", FIRST)
    assert code == 1 and "+++ config/edge/prod.yaml" in out
