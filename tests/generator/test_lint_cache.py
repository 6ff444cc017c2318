"""The lint cache never hides a finding, survives sharing and corruption; linting on several processes
gives the findings of one, in the same order; generate.py's --jobs, --no-cache and --cache-dir."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from templates import lint, lint_cache
from templates.lint import LintRequest, lint_templates
from templates.lint_cache import LintCache

PROJECT = Path(__file__).resolve().parents[2]
GENERATE = str(PROJECT / "generate.py")
BAD = PROJECT / "tests" / "lint_rules" / "templates" / "bad"
WEB_ACL = (BAD / "web_acl_outside_edge_region.yaml").read_bytes()  # E9106 unless linted for us-east-1 only
EDGE_ONLY = ("us-east-1",)
BOTH = ("us-east-1", "us-west-2")


def rule_ids(findings: list[str]) -> set[str]:
    return {line.split()[0] for line in findings}


def lint_one_with(cache: LintCache, body: bytes, regions: tuple[str, ...], **options) -> tuple[list[str], int]:
    """(findings, how many came from the cache) of linting one template through ``cache``."""
    results = lint_templates([LintRequest(body, regions)], cache=cache, **options)
    return results.findings[0], results.from_cache


# ------------------------------------------------------------- what the key covers


def test_a_changed_template_is_linted_again(tmp_path):
    clean = (PROJECT / "output" / "dev" / "lambda_edge.json").read_bytes()
    cache = LintCache(tmp_path)
    assert lint_one_with(cache, clean, EDGE_ONLY) == ([], 0)
    assert lint_one_with(cache, clean, EDGE_ONLY) == ([], 1)
    template = json.loads(clean)
    template["Resources"]["ViewerRequestFunction"]["Properties"]["Environment"] = {"Variables": {"A": "b"}}
    findings, from_cache = lint_one_with(cache, json.dumps(template, indent=2).encode(), EDGE_ONLY)
    assert from_cache == 0 and "E9101" in rule_ids(findings)


def test_other_regions_are_linted_again(tmp_path):
    cache = LintCache(tmp_path)
    findings, _ = lint_one_with(cache, WEB_ACL, EDGE_ONLY)
    assert "E9106" not in rule_ids(findings) and "W2001" in rule_ids(findings)
    assert lint_one_with(cache, WEB_ACL, EDGE_ONLY)[1] == 1
    findings, from_cache = lint_one_with(cache, WEB_ACL, BOTH)
    assert from_cache == 0 and "E9106" in rule_ids(findings)


def poison(cache: LintCache, body: bytes, regions: tuple[str, ...]) -> None:
    """Store "no findings" for a template that has some, as an older cfn-lint or rule might have found."""
    cache.put(cache.key(body, regions), [])


def test_another_cfn_lint_version_lints_again(tmp_path, monkeypatch):
    real_version = lint_cache.cfn_lint_version()
    monkeypatch.setattr(lint_cache, "cfn_lint_version", lambda: "1.0.0")
    poison(LintCache(tmp_path), WEB_ACL, BOTH)
    assert lint_one_with(LintCache(tmp_path), WEB_ACL, BOTH) == ([], 1)  # the cache serves what it holds
    monkeypatch.setattr(lint_cache, "cfn_lint_version", lambda: real_version)
    findings, from_cache = lint_one_with(LintCache(tmp_path), WEB_ACL, BOTH)
    assert from_cache == 0 and {"E9106", "W2001"} <= rule_ids(findings)


def test_changed_cfn_lint_schemas_lint_again(tmp_path, monkeypatch):
    """What `cfn-lint --update-specs` does: a bundled schema rewritten in place, same version."""
    package = tmp_path / "site-packages" / "cfnlint"
    shutil.copytree(lint_cache.cfn_lint_package_dir(), package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(lint_cache, "cfn_lint_package_dir", lambda: package)
    cache_dir = tmp_path / "cache"
    poison(LintCache(cache_dir), WEB_ACL, BOTH)
    assert lint_one_with(LintCache(cache_dir), WEB_ACL, BOTH) == ([], 1)
    schema = package / "data" / "schemas" / "providers" / "us-east-1.json"  # resource type -> schema file
    schema.write_text(schema.read_text() + "\n")
    findings, from_cache = lint_one_with(LintCache(cache_dir), WEB_ACL, BOTH)
    assert from_cache == 0 and "E9106" in rule_ids(findings)


def test_the_cfn_lint_digest_is_reused_while_its_files_are_unchanged(tmp_path, monkeypatch):
    hashed = []
    real_hash = lint_cache._hash_files
    monkeypatch.setattr(lint_cache, "_hash_files", lambda d, files: hashed.append(d) or real_hash(d, files))
    first = LintCache(tmp_path).key(WEB_ACL, BOTH)
    assert LintCache(tmp_path).key(WEB_ACL, BOTH) == first
    assert hashed.count(lint_cache.cfn_lint_package_dir()) == 1
    (tmp_path / "cfn-lint-files.json").write_text('{"format": "x", "digest": "forged"')  # corrupt: hashed again
    assert LintCache(tmp_path).key(WEB_ACL, BOTH) == first
    assert hashed.count(lint_cache.cfn_lint_package_dir()) == 2


def test_a_cfnlintrc_is_part_of_the_key(tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    cache = tmp_path / "cache"
    (work / ".cfnlintrc").write_text("ignore_checks:\n  - E9106\n")
    findings, _ = lint_one_with(LintCache(cache), WEB_ACL, BOTH)
    assert "E9106" not in rule_ids(findings)  # cfn-lint honours it in-process too
    (work / ".cfnlintrc").unlink()
    findings, from_cache = lint_one_with(LintCache(cache), WEB_ACL, BOTH)
    assert from_cache == 0 and "E9106" in rule_ids(findings)
    (home / ".cfnlintrc.yaml").write_text("ignore_checks:\n  - W2001\n")
    findings, from_cache = lint_one_with(LintCache(cache), WEB_ACL, BOTH)
    assert from_cache == 0 and "W2001" not in rule_ids(findings)


def test_settings_that_name_other_files_turn_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with_spec_in_metadata = WEB_ACL + b"Metadata:\n  cfn-lint:\n    config:\n      override_spec: spec.json\n"
    assert LintCache(tmp_path / "cache").key(with_spec_in_metadata, BOTH) is None
    (tmp_path / ".cfnlintrc").write_text("override_spec: spec.json\n")
    cache = LintCache(tmp_path / "cache")
    assert cache.key(WEB_ACL, BOTH) is None
    assert "override_spec" in cache.disabled_reason
    lint_one_with(cache, WEB_ACL, BOTH)
    assert not list((tmp_path / "cache").glob("findings/*"))


# ------------------------------------------------------------- corrupt, foreign and shared entries


@pytest.mark.parametrize("content", [
    b"", b"{not json", b"[]", b"\xff\xfe", b'{"format": "edge-cdn lint cache 0", "key": "@KEY", "findings": []}',
    b'{"format": "@FORMAT", "key": "0000", "findings": []}', b'{"format": "@FORMAT", "key": "@KEY"}',
    b'{"format": "@FORMAT", "key": "@KEY", "findings": "none"}',
    b'{"format": "@FORMAT", "key": "@KEY", "findings": [null]}',
], ids=["empty", "bad-json", "not-an-object", "not-utf8", "older-format", "another-key", "no-findings",
        "findings-not-a-list", "finding-not-text"])
def test_a_corrupt_or_foreign_entry_is_linted_again_and_replaced(tmp_path, content):
    cache = LintCache(tmp_path)
    key = cache.key(WEB_ACL, BOTH)
    entry = tmp_path / "findings" / f"{key}.json"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(content.replace(b"@KEY", key.encode()).replace(b"@FORMAT", lint_cache.FORMAT.encode()))
    findings, from_cache = lint_one_with(cache, WEB_ACL, BOTH)
    assert from_cache == 0 and {"E9106", "W2001"} <= rule_ids(findings)
    assert json.loads(entry.read_bytes()) == {"format": lint_cache.FORMAT, "key": key, "findings": findings}


def _writer(directory: str, key: str, size: int, rounds: int) -> None:
    cache = LintCache(Path(directory))
    for i in range(rounds):
        cache.put(key, [f"W{size} finding {i} {'x' * 200}"] * size)


def _reader(directory: str, key: str, rounds: int, failures) -> None:
    cache = LintCache(Path(directory))
    for _ in range(rounds):
        findings = cache.get(key)
        if findings is None or len(findings) not in (1000, 3000) or len(set(findings)) != 1:
            failures.put(repr(findings)[:200])
            return


def test_runs_sharing_the_cache_never_read_half_an_entry(tmp_path):
    """Writers replace one entry over and over while readers read it: every read is a whole entry."""
    key = "a" * 64
    _writer(str(tmp_path), key, 1000, 1)
    context = multiprocessing.get_context("spawn")
    failures = context.Queue()
    processes = [context.Process(target=_writer, args=(str(tmp_path), key, size, 150)) for size in (1000, 3000)]
    processes += [context.Process(target=_reader, args=(str(tmp_path), key, 600, failures)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert failures.empty(), failures.get()
    assert [p.name for p in (tmp_path / "findings").iterdir()] == [f"{key}.json"]  # no temporary file left


def test_no_cache_lints_afresh_and_refreshes_the_entry(tmp_path):
    cache = LintCache(tmp_path)
    poison(cache, WEB_ACL, BOTH)
    findings, from_cache = lint_one_with(cache, WEB_ACL, BOTH, read_cache=False)
    assert from_cache == 0 and "E9106" in rule_ids(findings)
    assert lint_one_with(cache, WEB_ACL, BOTH) == (findings, 1)


def test_old_entries_are_pruned(tmp_path):
    cache = LintCache(tmp_path)
    cache.put("old", ["x"])
    cache.put("recent", ["y"])
    month_ago = time.time() - lint_cache.MAX_ENTRY_AGE_SECONDS - 60
    os.utime(tmp_path / "findings" / "old.json", (month_ago, month_ago))
    cache.prune()
    assert cache.get("old") is None and cache.get("recent") == ["y"]


def test_rules_dir_is_the_one_cfn_lint_loads():
    from templates.lint_rules import RULES_DIR

    assert lint_cache.RULES_DIR == RULES_DIR.resolve()


# ------------------------------------------------------------- several processes, one result


def test_several_processes_find_what_one_finds_in_the_same_order():
    requests = [LintRequest(path.read_bytes(), regions) for path in sorted(BAD.glob("*.yaml")) for regions in
                (EDGE_ONLY, BOTH)]
    requests += [LintRequest(path.read_bytes(), BOTH) for path in sorted((PROJECT / "output" / "prod").glob("*.json"))]
    serial = lint_templates(requests, jobs=1).findings
    assert sum(len(f) for f in serial) >= 6 and [] in serial  # findings, and clean templates
    assert lint_templates(requests, jobs=3).findings == serial


def test_spawned_workers_find_the_same(monkeypatch):
    """The start method where fork is unsafe (macOS) or missing (Windows): workers load cfn-lint themselves."""
    monkeypatch.setattr(lint, "_can_fork", lambda: False)
    requests = [LintRequest(WEB_ACL, regions) for regions in (EDGE_ONLY, BOTH)]
    assert lint_templates(requests, jobs=2).findings == lint_templates(requests, jobs=1).findings


def _die(request: LintRequest) -> list[str]:
    os._exit(3)


def test_a_worker_that_dies_fails_the_lint_with_a_message(monkeypatch):
    monkeypatch.setattr(lint, "lint_one", _die)
    with pytest.raises(lint.LintError, match="a lint worker process died .*`--jobs 1` lints in this process"):
        lint_templates([LintRequest(WEB_ACL, regions) for regions in (EDGE_ONLY, BOTH)], jobs=2)


# ------------------------------------------------------------- generate.py as users run it


def generate(*args: str, cwd: Path, script: str = GENERATE, python_options: tuple[str, ...] = ()):
    return subprocess.run([sys.executable, *python_options, script, *args], capture_output=True, text=True, cwd=cwd)


def imported_modules(stderr: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_a_repeat_run_reads_the_cache_and_does_not_load_cfn_lint(tmp_path):
    options = ("--env", "dev", "--output", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"))
    first = generate(*options, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "lint: 7 templates linted, 0 reused from the cache" in first.stdout
    second = generate(*options, cwd=tmp_path, python_options=("-X", "importtime"))
    assert second.returncode == 0, second.stderr
    assert "lint: 0 templates linted, 7 reused from the cache" in second.stdout
    modules = imported_modules(second.stderr)
    assert "templates.lint_cache" in modules
    assert not {m for m in modules if m.split(".")[0] in ("cfnlint", "concurrent", "multiprocessing")}
    assert first.stdout.split("\nlint:")[0] == second.stdout.split("\nlint:")[0]  # the same tables


def test_no_lint_loads_neither_cfn_lint_nor_a_pool(tmp_path):
    result = generate("--no-lint", "--output", str(tmp_path / "out"), cwd=tmp_path, python_options=("-X", "importtime"))
    assert result.returncode == 0, result.stderr
    assert "lint:" not in result.stdout
    assert not {m for m in imported_modules(result.stderr) if m.split(".")[0] in ("cfnlint", "concurrent", "multiprocessing")}


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "", " ", "\u00b2", "1e3"])
def test_jobs_must_be_a_positive_whole_number(tmp_path, value):
    result = generate("--jobs", value, "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"argument --jobs: must be a positive whole number of processes, not {value!r}" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def copy_project(destination: Path) -> Path:
    """generate.py with its templates and config: a checkout whose rules a test may edit."""
    for name in ("templates", "config"):
        shutil.copytree(PROJECT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "generate.py", destination)
    return destination / "generate.py"


NEW_RULE = '''
"""E9190: every SNS topic (a rule a developer adds)."""
from cfnlint.rules import CloudFormationLintRule, RuleMatch


class EveryTopic(CloudFormationLintRule):
    id = "E9190"
    shortdesc = "SNS topic"
    description = "Reports every SNS topic"
    source_url = "https://example.org"
    tags = ["test"]

    def match(self, cfn):
        return [RuleMatch(["Resources", name], "topic " + name) for name in cfn.get_resources(["AWS::SNS::Topic"])]
'''


def test_rule_changes_bring_their_findings_back(tmp_path):
    """A new rule file, an edited rule and an edited shared helper each make generate.py lint again."""
    script = str(copy_project(tmp_path / "project"))
    rules = tmp_path / "project" / "templates" / "lint_rules"
    options = ("--env", "dev", "--output", str(tmp_path / "out"))

    def run(*extra: str) -> subprocess.CompletedProcess:
        return generate(*options, *extra, cwd=tmp_path, script=script)

    assert "lint: 7 templates linted, 0 reused" in run().stdout

    (rules / "every_topic.py").write_text(NEW_RULE)
    added = run("--jobs", "2")
    assert added.returncode == 1 and "lint: 7 templates linted, 0 reused" in added.stdout
    assert "dev/monitoring.json: E9190 topic AlarmTopic" in added.stderr
    serial = run("--jobs", "1", "--no-cache")
    assert (serial.returncode, serial.stdout, serial.stderr) == (1, added.stdout, added.stderr)
    (rules / "every_topic.py").unlink()

    limits = rules / "edge_function_limits.py"
    original_limits = limits.read_text()
    limits.write_text(original_limits.replace('{"MemorySize": 128, "Timeout": 5}', '{"MemorySize": 64, "Timeout": 5}'))
    edited = run()
    assert edited.returncode == 1 and "dev/lambda_edge.json: E9104" in edited.stderr
    limits.write_text(original_limits)

    helper = rules / "_edge.py"
    helper.write_text(helper.read_text().replace('EDGE_REGION = "us-east-1"', 'EDGE_REGION = "eu-west-1"'))
    helper_edited = run()
    assert helper_edited.returncode == 1 and "E9106" in helper_edited.stderr

    helper.write_text((PROJECT / "templates" / "lint_rules" / "_edge.py").read_text())
    restored = run()
    assert restored.returncode == 0 and "lint: 0 templates linted, 7 reused" in restored.stdout


def test_two_runs_at_once_share_the_cache(tmp_path):
    options = ["--env", "dev", "--jobs", "1", "--cache-dir", str(tmp_path / "cache")]
    runs = [subprocess.Popen([sys.executable, GENERATE, *options, "--no-cache", "--output", str(tmp_path / f"out{i}")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path) for i in (1, 2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert outputs[0][0].replace("out1", "out2") == outputs[1][0]
    third = generate(*options, "--output", str(tmp_path / "out3"), cwd=tmp_path)
    assert "lint: 0 templates linted, 7 reused from the cache" in third.stdout
    assert sorted(p.suffix for p in (tmp_path / "cache" / "findings").iterdir()) == [".json"] * 7


def test_a_cache_that_cannot_be_written_costs_a_warning(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "findings").write_text("a file where the entries should go")
    result = generate("--env", "dev", "--output", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"warning: lint results not cached: cannot write {tmp_path}/cache/findings" in result.stderr
    assert len(list((tmp_path / "out" / "dev").iterdir())) == 7


def test_a_cache_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "cache").write_text("")
    result = generate("--cache-dir", str(tmp_path / "cache"), "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"argument --cache-dir: {tmp_path}/cache is not a directory" in result.stderr
    assert not (tmp_path / "out").exists()
