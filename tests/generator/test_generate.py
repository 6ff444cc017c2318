"""generate.py as users run it: golden output, byte stability, atomic writes, checks that fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import generate
from templates import build
from templates.config import load_environment
from templates.lint import LintResults

PROJECT = Path(__file__).resolve().parents[2]
GENERATE = str(PROJECT / "generate.py")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run generate.py from another working directory, as a user in CI would."""
    return subprocess.run([sys.executable, GENERATE, *args], capture_output=True, text=True, cwd=cwd)


def test_committed_output_is_current(tmp_path):
    """The golden test: output/ is exactly what the builders generate from config/."""
    result = run("--check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "output/ is up to date (23 templates)" in result.stdout


def test_output_is_byte_stable_across_processes(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        assert run("--no-lint", "--output", str(out), cwd=tmp_path).returncode == 0
    files = sorted(p.relative_to(first) for p in first.rglob("*.json"))
    assert len(files) == 23
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_full_run_lints_and_prints_the_table(tmp_path):
    out = tmp_path / "out"
    result = run("--env", "prod", "--output", str(out), "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("prod (prod.yaml; linted for us-east-1 + us-west-2 + us-east-2 + us-west-1 + ap-south-1 + "
            "ap-northeast-1 + ap-northeast-2 + ap-southeast-1 + ap-southeast-2 + eu-central-1 + eu-west-1 + "
            "eu-west-2 + sa-east-1)") in result.stdout
    # What each account runs and pays for its keys: an instance per region, a logs key in each.
    assert "13 instances and 19 KMS keys per account ($19-57 a month in keys); 3 account(s)" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] and line.split()[0].endswith(".json")]
    assert {row[0] for row in rows} == {f"{c}.json" for c in ("root", *build.root.COMPONENTS)}
    assert all(row[-1] == "0" for row in rows), rows
    assert "lint: 8 templates linted, 0 reused from the cache" in result.stdout
    assert sorted(p.name for p in (out / "prod").iterdir()) == sorted(r[0] for r in rows)


def test_check_names_the_stale_files_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(PROJECT / "output", out)
    (out / "dev" / "waf.json").write_text("{}\n")
    (out / "dev" / "route53.json").write_text("{}\n")
    (out / "prod" / "s3.json").unlink()
    result = run("--check", "--output", str(out), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{out}/dev/waf.json: differs" in result.stderr
    assert f"{out}/dev/route53.json: not generated any more" in result.stderr
    assert f"{out}/prod/s3.json: missing" in result.stderr
    assert (out / "dev" / "waf.json").read_text() == "{}\n"
    assert not (out / "prod" / "s3.json").exists()


def test_one_environment_replaces_only_its_directory(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(PROJECT / "output", out)
    stale = json.loads((out / "prod" / "waf.json").read_text())  # a template of a component since removed
    (out / "prod" / "old_component.json").write_text(json.dumps(stale))
    (out / "dev" / "waf.json").write_text("{}\n")
    assert run("--env", "prod", "--no-lint", "--output", str(out), cwd=tmp_path).returncode == 0
    assert not (out / "prod" / "old_component.json").exists()
    assert (out / "dev" / "waf.json").read_text() == "{}\n"  # untouched
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "staging directories are cleaned up"


# --- only what generate.py wrote is ever replaced or removed ------------------------------------


def test_output_into_a_directory_with_other_files_keeps_them(tmp_path):
    """The issue's example: --output DIR deleted every file in DIR that generate.py had not written."""
    out = tmp_path / "somewhere"
    (out / "photos").mkdir(parents=True)
    (out / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    (out / "notes.txt").write_text("mine")
    (out / "prod").mkdir()
    (out / "prod" / "README.md").write_text("prod templates, reviewed by ops")
    (out / "prod" / "custom.json").write_text('{"Description": "my own template"}')
    (out / "prod" / "drafts").mkdir()
    (out / "prod" / "drafts" / "x.yaml").write_text("a: 1")
    assert generate.main(["--no-lint", "--output", str(out)]) == 0
    assert (out / "photos" / "cat.jpg").read_bytes() == b"\xff\xd8"
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "prod" / "README.md").read_text() == "prod templates, reviewed by ops"
    assert (out / "prod" / "custom.json").read_text() == '{"Description": "my own template"}'
    assert (out / "prod" / "drafts" / "x.yaml").read_text() == "a: 1"
    assert (out / "prod" / "root.json").read_bytes() == (PROJECT / "output" / "prod" / "root.json").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["dev", "notes.txt", "photos", "prod", "staging"]


def test_an_untracked_file_in_output_survives_a_full_run(tmp_path):
    out = tmp_path / "output"
    shutil.copytree(PROJECT / "output", out)
    (out / "DEPLOYED.md").write_text("prod deployed on Monday")
    (out / "staging" / ".reviewed").write_text("yes")
    assert generate.main(["--no-lint", "--output", str(out)]) == 0
    assert (out / "DEPLOYED.md").read_text() == "prod deployed on Monday"
    assert (out / "staging" / ".reviewed").read_text() == "yes"


def test_templates_of_a_removed_environment_go_and_nothing_else(tmp_path, capsys):
    out = tmp_path / "output"
    shutil.copytree(PROJECT / "output", out)
    shutil.copytree(out / "staging", out / "qa")  # config/qa.yaml was deleted since
    (out / "qa" / "notes.txt").write_text("keep")
    shutil.copytree(out / "staging", out / "archive")
    (out / "archive" / "root.json").write_text('{"Description": "hand-made"}')
    assert generate.main(["--no-lint", "--check", "--output", str(out)]) == 1
    assert f"{out}/qa/root.json: its environment is not in the config directory any more" in capsys.readouterr().err
    assert generate.main(["--no-lint", "--output", str(out)]) == 0
    assert f"removed {out}/qa/s3.json" in capsys.readouterr().out
    assert [p.name for p in (out / "qa").iterdir()] == ["notes.txt"]
    assert not (out / "archive" / "s3.json").exists()
    assert (out / "archive" / "root.json").read_text() == '{"Description": "hand-made"}'
    assert generate.main(["--no-lint", "--env", "prod", "--output", str(out)]) == 0  # one env: others untouched
    assert (out / "qa" / "notes.txt").exists()


def test_a_failed_write_replaces_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "output"
    shutil.copytree(PROJECT / "output", out)
    (out / "prod" / "root.json").write_text("{}")
    real_write = Path.write_bytes

    def disk_full(path, data):  # the last environment fails, after dev and prod were staged
        if path.parent.name.startswith(".staging-new-") and path.name == "waf.json":
            raise OSError(28, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    assert generate.main(["--no-lint", "--output", str(out)]) == 1
    assert f"error: writing to --output {out} failed: [Errno 28] No space left on device" in capsys.readouterr().err
    assert (out / "prod" / "root.json").read_text() == "{}"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("args, message", [
    (["--output", "{file}"], "error: --output {file}: {file} is not a directory"),
    (["--output", "{file}/sub"], "error: --output {file}/sub: {file} is not a directory"),
    (["--env", "../config/prod"], "no such environment '../config/prod'"),
    (["--env", "nope"], "no such environment 'nope'; known: dev, prod, staging"),
    (["--config-dir", "{tmp}/empty"], "holds no <env>.yaml file"),
])
def test_bad_options_exit_2_with_one_message(tmp_path, capsys, args, message):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "empty").mkdir()
    values = {"file": str(tmp_path / "a-file"), "tmp": str(tmp_path)}
    assert generate.main(["--no-lint", *(a.format(**values) for a in args)]) == 2
    err = capsys.readouterr().err
    assert message.format(**values) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_an_environment_named_twice_is_generated_once(tmp_path, capsys):
    assert generate.main(["--no-lint", "--env", "dev", "--env", "dev", "--output", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("dev (dev.yaml; not linted)") == 1


def test_lint_findings_fail_the_run_and_write_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous")

    def findings(requests, jobs, cache, read_cache):
        waf = build.render_environment(load_environment("staging"))["waf.json"]
        return LintResults([["E3001 something is wrong (line 3)"] if r.body == waf else [] for r in requests], 0)

    monkeypatch.setattr(generate, "lint_templates", findings)
    assert generate.main(["--env", "staging", "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "staging/waf.json: E3001 something is wrong (line 3)" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_size_guard_names_the_template(monkeypatch):
    monkeypatch.setattr(build, "MAX_RESOURCES", 10)
    with pytest.raises(build.BuildError) as caught:
        build.render_checked(load_environment("prod"))
    assert "prod: monitoring.json has 18 resources; CloudFormation allows at most 10" in str(caught.value)
    assert "lambda_edge.json has 11 resources" in str(caught.value)


def test_size_guard_on_bytes(monkeypatch):
    monkeypatch.setattr(build, "MAX_TEMPLATE_BYTES", 100_000)
    with pytest.raises(build.BuildError, match=r"lambda_edge.json is \d+ bytes; CloudFormation accepts at most 100000"):
        build.render_checked(load_environment("dev"))


def test_wiring_check_accepts_the_generated_templates(built):
    for name, templates in built.items():
        assert build.check_wiring(templates) == [], name


def test_wiring_check_finds_each_kind_of_mismatch(built):
    templates = json.loads(json.dumps(built["prod"]))
    del templates["cloudfront"]["Parameters"]["WebAclArn"]           # passed but not declared
    templates["route53"]["Parameters"]["Extra"] = {"Type": "String"}  # required but not passed
    del templates["waf"]["Outputs"]["WebAclArn"]                      # read but not output
    templates["root"]["Resources"]["DynamodbStack"]["Properties"]["TemplateURL"] = "https://x/nothing.json"
    problems = build.check_wiring(templates)
    assert "root.CloudfrontStack passes WebAclArn, which cloudfront.json does not declare" in problems
    assert "root.Route53Stack does not pass Extra, which route53.json requires" in problems
    assert "root reads WafStack.Outputs.WebAclArn, which waf.json does not output" in problems
    assert "root.DynamodbStack: TemplateURL names no generated template (nothing)" in problems


def test_help_reads_like_documentation(tmp_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for words in ("--env NAME", "--check", "--no-lint", "--no-cache", "--jobs N", "--cache-dir DIR",
                  "Exit status: 0 success, 1 a failed check"):
        assert words in result.stdout


def test_region_check_names_a_nested_stack_missing_from_a_configured_region(monkeypatch):
    env = load_environment("prod")
    templates = build.build_templates(env)
    assert build.check_regions(env, templates) == []
    root = templates["root"]
    # The lambda_edge stack only where monitoring is: four of the thirteen edge log regions.
    root["Resources"]["LambdaEdgeStack"]["Condition"] = "IsMonitoredRegion"
    # A child whose Rules refuse a region the root creates it in.
    templates["waf"]["Rules"]["EdgeRegionOnly"]["Assertions"][0]["Assert"] = {
        "Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}
    problems = build.check_regions(env, templates)
    assert problems == [
        "root.LambdaEdgeStack does not create lambda_edge.json in us-east-2, us-west-1, ap-south-1, ap-northeast-1, "
        "ap-northeast-2, ap-southeast-1, eu-central-1, eu-west-2, sa-east-1",
        "root.WafStack creates waf.json in us-east-1, which its Rules refuse",
    ]


def test_footprint_counts_the_keys_each_region_creates():
    from templates.footprint import footprint

    env = load_environment("staging")
    keys = footprint(env, build.build_templates(env)).keys_by_region
    assert list(keys) == list(env.regions)
    assert sorted(keys["us-west-2"]) == ["lambda_edge/EdgeFunctionLogsKey", "monitoring/AlarmTopicKey",
                                         "s3/OriginBucketKey"]
    assert keys["eu-central-1"] == ["lambda_edge/EdgeFunctionLogsKey"]  # a log-only region: its logs key
