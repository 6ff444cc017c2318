"""cfn-lint (with the edge rules) and checkov over the generated templates: zero findings."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from templates.build import render_environment
from templates.config import EDGE_REGION, environment_names, load_environment, parse_config
from templates.lint import lint_environment

PROJECT = Path(__file__).resolve().parents[2]
OUTPUT = PROJECT / "output"

# The only checkov checks that may be suppressed, each on the resource type where it cannot apply.
ALLOWED_SKIPS = {
    ("AWS::Lambda::Function", "CKV_AWS_115"),  # reserved concurrency: not at the edge
    ("AWS::Lambda::Function", "CKV_AWS_116"),  # dead-letter queue: not at the edge
    ("AWS::Lambda::Function", "CKV_AWS_117"),  # VPC: not at the edge
    ("AWS::S3::Bucket", "CKV_AWS_18"),         # access logging of the access-logs bucket itself
    ("AWS::CloudFront::Distribution", "CKV_AWS_174"),  # default certificate (no custom domain)
}


def new_zone_env(tmp_path):
    data = {"project": "shop", "primary_region": "eu-west-1", "deploy": {"accounts": ["123456789012"]},
            "domain": {"zone_name": "shop.example.org"}, "monitoring": {"alarm_email": "ops@example.org"}}
    return parse_config(data, tmp_path / "qa.yaml", "qa")


@pytest.mark.parametrize("name", environment_names())
def test_committed_output_has_zero_lint_findings(name):
    env = load_environment(name)
    files = {p.name: p.read_bytes() for p in sorted((OUTPUT / name).glob("*.json"))}
    findings = lint_environment(files, list(env.regions))
    assert len(findings) >= 7
    assert {f: lines for f, lines in findings.items() if lines} == {}


def test_new_zone_environment_lints_clean(tmp_path):
    env = new_zone_env(tmp_path)
    findings = lint_environment(render_environment(env), [EDGE_REGION, "eu-west-1"])
    assert {f: lines for f, lines in findings.items() if lines} == {}


def test_lint_step_runs_the_edge_rules():
    """A forbidden edge property in the generated lambda_edge template is caught by the custom rules."""
    template = json.loads((OUTPUT / "prod" / "lambda_edge.json").read_text())
    function = template["Resources"]["ViewerRequestFunction"]["Properties"]
    function["Environment"] = {"Variables": {"TABLE": "x"}}
    function["MemorySize"] = 512
    findings = lint_environment({"lambda_edge.json": json.dumps(template).encode()}, [EDGE_REGION, "us-west-2"])
    ids = {line.split()[0] for line in findings["lambda_edge.json"]}
    assert {"E9101", "E9104"} <= ids


def checkov_binary() -> str:
    candidate = os.environ.get("CHECKOV") or str(PROJECT / ".venv-checkov" / "bin" / "checkov")
    if not Path(candidate).exists():
        pytest.fail(f"checkov not found at {candidate}: install it with "
                    "`python -m venv .venv-checkov && .venv-checkov/bin/pip install -r requirements-checkov.txt` "
                    "or set CHECKOV")
    return candidate


def run_checkov(directory: Path) -> dict:
    result = subprocess.run(
        [checkov_binary(), "-d", str(directory), "--framework", "cloudformation", "--skip-download",
         "--compact", "-o", "json"],
        capture_output=True, text=True, timeout=300,
    )
    report = json.loads(result.stdout)
    assert isinstance(report, dict) and report["check_type"] == "cloudformation", result.stderr[-2000:]
    return report


def test_checkov_finds_nothing_in_the_committed_output():
    report = run_checkov(OUTPUT)
    failed = [(c["check_id"], c["file_path"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["failed"] == 0
    assert report["summary"]["passed"] > 150 and report["summary"]["resource_count"] > 150


def test_checkov_finds_nothing_in_a_new_zone_environment(tmp_path):
    env = new_zone_env(tmp_path)
    for filename, body in render_environment(env).items():
        (tmp_path / filename).write_bytes(body)
    report = run_checkov(tmp_path)
    assert [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]] == []


def test_suppressions_are_local_reasoned_and_only_where_a_check_cannot_apply():
    seen = set()
    for path in OUTPUT.rglob("*.json"):
        for logical_id, resource in json.loads(path.read_text()).get("Resources", {}).items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert (resource["Type"], skip["id"]) in ALLOWED_SKIPS, (path, logical_id, skip)
                assert len(skip["comment"]) > 30, (path, logical_id, skip)
                seen.add((resource["Type"], skip["id"]))
    assert seen == ALLOWED_SKIPS
    assert not (PROJECT / ".checkov.yaml").exists() and not (PROJECT / ".checkov.yml").exists()
