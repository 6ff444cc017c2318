"""cfn-lint custom rules for the Lambda@Edge and us-east-1 constraints cfn-lint does not know.

Each ``[a-z]*.py`` module in this directory holds one rule (a subclass of
``cfnlint.rules.CloudFormationLintRule`` with a ``match(cfn)`` method); ``_edge.py``
holds the shared template analysis. cfn-lint loads the directory as an extra rules
directory, on top of its own rules:

* CLI: ``cfn-lint --append-rules templates/lint_rules -- template.json``
* in process: ``cfnlint.api.lint(text, config=ManualArgs(regions=[...],
  append_rules=[str(RULES_DIR)]))``, or ``lint_template`` below (faster: it loads the
  rules once).

Rules:

* E9101 edge function uses an unsupported feature (Environment, VpcConfig, Layers,
  DeadLetterConfig, TracingConfig.Mode Active, ReservedConcurrentExecutions,
  provisioned concurrency on a Version/Alias of it, PackageType Image,
  RuntimeManagementConfig.UpdateRuntimeOn other than Auto)
* E9102 edge function Architectures not absent / [x86_64]
* E9103 edge function runtime not python3.12, python3.13, nodejs22.x or nodejs24.x
* E9104 viewer trigger: MemorySize <= 128, Timeout <= 5; origin trigger: Timeout <= 30,
  MemorySize <= 10240
* E9105 LambdaFunctionAssociations[*].LambdaFunctionARN not a numbered version
* E9106 edge-only resource (edge function, CLOUDFRONT-scope WAF, certificate in a
  distribution's template, AWS/CloudFront alarm, Metadata EdgeOnly) not guarded to
  us-east-1 while a linted region is another one
* E9107 Metadata.EdgeEventType invalid or contradicting the association
* E9108 edge function without its log group (with RetentionInDays) in a linted
  regional-edge-cache region, or whose template's Rules keep it out of one
* W9101 edge function whose trigger is unknown (no Metadata.EdgeEventType, no association)

Conventions for the template builders:

* Every edge function has ``Metadata: {"EdgeEventType": "viewer-request"}`` (or
  viewer-response / origin-request / origin-response); that marks it as an edge
  function and sets its limits, since the association is in another nested template.
* Its role trusts ``edgelambda.amazonaws.com`` and is referenced as
  ``Fn::GetAtt [<role>, Arn]``.
* The cloudfront template takes version ARNs as parameters with an ``AllowedPattern``
  ending in ``:[0-9]+$``, or references ``AWS::Lambda::Version`` resources.
* Edge-only templates carry a ``Rules`` assertion
  ``Fn::Equals [Ref AWS::Region, "us-east-1"]``; edge-only resources in templates deployed
  to both regions carry a ``Condition`` that is ``Fn::Equals [Ref AWS::Region, "us-east-1"]``.
* Any other resource that only works in us-east-1 can be marked ``Metadata: {"EdgeOnly": true}``.
* The template that holds an edge function also creates its log group (``LoggingConfig.LogGroup:
  {Ref: <log group>}``), with ``RetentionInDays``, in every regional-edge-cache region it is
  linted for: the log group without a ``Condition``, the function with one pinning us-east-1,
  and ``Rules`` admitting the regions where the functions log.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

# cfn-lint is imported where it is used: the template builders import the shared analysis in
# _edge.py (a submodule of this package), and generate.py --no-lint should not pay ~0.8 s for it.
if TYPE_CHECKING:
    from cfnlint.match import Match
    from cfnlint.rules import Rules

RULES_DIR = Path(__file__).parent

RULE_IDS: tuple[str, ...] = ("E9101", "E9102", "E9103", "E9104", "E9105", "E9106", "E9107", "E9108", "W9101")

_CHECKS = ["I"]  # errors and warnings are always on; add informational checks


@functools.cache
def _rules() -> Rules:
    """cfn-lint's own rules plus this directory, loaded once (loading takes about a second)."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    config = ConfigMixIn(append_rules=[str(RULES_DIR)], include_checks=_CHECKS)
    return Runner(config).rules


def lint_template(template_text: str, regions: list[str]) -> list[Match]:
    """Lint a JSON or YAML template for ``regions`` with all checks and the edge rules.

    Runs cfn-lint's errors, warnings and informational checks plus this directory's
    rules, like ``cfn-lint --include-checks I --append-rules templates/lint_rules
    --regions ...``. Parse errors come back as matches. The rule collection is built
    on the first call (about 0.3 s) and reused, which makes a call about 75 ms for a
    generated component template instead of about 390 ms through
    ``cfnlint.api.lint(config=ManualArgs(append_rules=...))``, which reloads every rule
    each time. cfn-lint rules keep per-run state: do not call this from several
    threads at once.
    """
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    template, errors = decode_str(template_text)
    if errors:
        return list(errors)
    if template is None:
        return []
    config = ConfigMixIn(regions=list(regions), include_checks=_CHECKS, append_rules=[str(RULES_DIR)])
    return list(run_template_by_data(template, config, _rules()))
