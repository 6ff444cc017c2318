"""Tests of the cfn-lint custom rules in templates/lint_rules."""
