"""The rules directory loads through the CLI, cfnlint.api and lint_template, on top of cfn-lint's rules."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from cfnlint.helpers import create_rules, import_filename
from cfnlint.rules import CloudFormationLintRule, Rules

from templates.lint_rules import RULE_IDS, RULES_DIR, lint_template

from .edge_lint_cases import BOTH_REGIONS, template

REPO = Path(__file__).resolve().parents[2]
FILES = Path(__file__).parent / "templates"
BAD_ACL = FILES / "bad" / "web_acl_outside_edge_region.yaml"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def ids(matches: list) -> set[str]:
    return {m.rule.id for m in matches}


def expected_findings(path: Path) -> set[tuple[str, str]]:
    """The ``# expect: <rule id> <path>`` lines at the top of a bad template."""
    return {
        (rule_id, where)
        for rule_id, where in re.findall(r"^# expect: (\S+) (\S+)$", path.read_text(), flags=re.MULTILINE)
    }


# --------------------------------------------------------------- loading paths


def test_cli_append_rules_loads_the_directory() -> None:
    command = [str(CFN_LINT), "--append-rules", "templates/lint_rules", "--regions", *BOTH_REGIONS]
    result = subprocess.run(
        [*command, "--format", "parseable", "--", str(BAD_ACL.relative_to(REPO))],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert ":E9106:" in result.stdout, result.stdout + result.stderr
    assert ":W2001:" in result.stdout  # cfn-lint's own rules still run
    assert result.returncode == 2 | 4  # an error and a warning


def test_cli_without_append_rules_does_not_know_the_edge_rules() -> None:
    result = subprocess.run(
        [str(CFN_LINT), "--regions", *BOTH_REGIONS, "--format", "parseable", "--", str(BAD_ACL)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert "E9106" not in result.stdout
    assert ":W2001:" in result.stdout


def test_api_lint_with_append_rules_loads_the_directory() -> None:
    matches = lint(
        BAD_ACL.read_text(),
        config=ManualArgs(regions=BOTH_REGIONS, append_rules=[str(RULES_DIR)], include_checks=["I"]),
    )
    assert {"E9106", "W2001"} <= ids(matches)


def test_lint_template_appends_to_the_standard_rules() -> None:
    assert {"E9106", "W2001"} <= ids(lint_template(BAD_ACL.read_text(), BOTH_REGIONS))


def test_lint_template_includes_informational_checks() -> None:
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        },
    }
    matches = lint_template(json.dumps(template({"Table": table}, pinned=False)), BOTH_REGIONS)
    assert "I3011" in ids(matches)  # no DeletionPolicy / UpdateReplacePolicy on a stateful resource


def test_lint_template_reports_parse_errors() -> None:
    assert ids(lint_template("{not a template", BOTH_REGIONS)) == {"E0000"}


def test_lint_template_is_repeatable() -> None:
    text = BAD_ACL.read_text()
    assert ids(lint_template(text, BOTH_REGIONS)) == ids(lint_template(text, BOTH_REGIONS))
    assert "E9106" not in ids(lint_template(text, ["us-east-1"]))


# ------------------------------------------------------------------- rule set


def test_directory_holds_exactly_the_documented_rules_one_per_file() -> None:
    loaded = Rules.create_from_directory(str(RULES_DIR))
    assert sorted(loaded) == sorted(RULE_IDS)
    rule_files = sorted(RULES_DIR.glob("[A-Za-z1-9]*.py"))  # the files cfn-lint's loader imports
    for path in rule_files:
        module = import_filename(path.stem, str(RULES_DIR))
        assert len(create_rules(module)) == 1, path.name
    for rule in loaded.values():
        assert isinstance(rule, CloudFormationLintRule)
        assert re.fullmatch(r"[EW]91\d\d", rule.id)
        assert rule.shortdesc and rule.description and rule.tags
        assert rule.source_url.startswith("https://docs.aws.amazon.com/")


def test_rule_ids_do_not_collide_with_cfn_lint() -> None:
    import cfnlint.rules

    standard = Rules.create_from_directory(str(Path(cfnlint.rules.__file__).parent))
    assert not set(standard) & set(RULE_IDS)


# ------------------------------------------------------------- file templates


@pytest.mark.parametrize("path", sorted((FILES / "good").glob("*.yaml")), ids=lambda p: p.name)
def test_good_file_templates_have_no_findings_at_all(path: Path) -> None:
    findings = [(m.rule.id, m.message) for m in lint_template(path.read_text(), BOTH_REGIONS)]
    assert findings == []


@pytest.mark.parametrize("path", sorted((FILES / "bad").glob("*.yaml")), ids=lambda p: p.name)
def test_bad_file_templates_have_the_expected_edge_findings(path: Path) -> None:
    expected = expected_findings(path)
    assert expected
    found = {
        (m.rule.id, "/".join(str(p) for p in m.path))
        for m in lint_template(path.read_text(), BOTH_REGIONS)
        if m.rule.id in RULE_IDS
    }
    assert found == expected
