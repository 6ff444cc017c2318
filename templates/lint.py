"""The lint step: cfn-lint in-process, with all checks and the edge rules, for each template."""

from __future__ import annotations


def format_match(match) -> str:
    """`E3002 message (line 12)`: the rule id, its message and where."""
    return f"{match.rule.id} {match.message} (line {match.linenumber})"


def lint_environment(files: dict[str, bytes], regions: list[str]) -> dict[str, list[str]]:
    """File name -> findings (errors, warnings and informational) for every linted region."""
    # Imported here: loading cfn-lint takes about 0.4 s, which `generate.py --no-lint` should not pay.
    from templates.lint_rules import lint_template

    return {
        filename: sorted(format_match(m) for m in lint_template(body.decode(), regions))
        for filename, body in files.items()
    }
