"""E9108: every edge function must have its log group, with retention, in every region it logs in.

Lambda@Edge runs a function in the regional edge cache (REC) nearest the viewer and writes
its logs in that REC's region, to the function's log group there (CloudFront developer guide,
"Edge function logs"). A log group Lambda has to create itself has no retention (its events
are kept, and billed, forever), no KMS key and no tags; and a template that later tries to
create it fails with "already exists". So the template that holds an edge function must
create its log group in every linted region that is a REC region: the linted regions are
the regions the environment deploys to (``generate.py`` lints every template for each of
them), so this is the check that the configured regions are covered.

The function's log group is

* ``LoggingConfig.LogGroup`` when set: a ``Ref`` to an ``AWS::Logs::LogGroup`` of the
  template, or a name (a string or an ``Fn::Sub`` that a ``LogGroupName`` repeats). Lambda@Edge
  keeps a custom name in every region. A name that begins with ``aws/`` is refused by Lambda;
  ``/aws/lambda/<FunctionName>`` gets the ``us-east-1.`` prefix like the default.
* otherwise the default ``/aws/lambda/us-east-1.<FunctionName>`` (a function without a
  ``FunctionName`` has a generated name, whose log groups cannot be created beforehand).

In each linted REC region, the template's ``Rules`` must admit a stack (an unconditional
assertion ``Fn::Contains [[regions], Ref AWS::Region]`` or a region ``Fn::Equals`` excludes the
others), and a matching log group must be created there: unconditionally, or under a
``Condition`` that holds in that region whatever the account or parameters (see
``_edge.condition_in_region``). The log group must set ``RetentionInDays``. One finding per
function and problem, naming the regions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

try:  # imported as part of the templates.lint_rules package
    from . import _edge
except ImportError:  # loaded by cfn-lint's rules-directory loader as a top-level module
    import importlib.util
    import sys

    if "cfn_lint_edge_rules_helpers" not in sys.modules:
        _spec = importlib.util.spec_from_file_location("cfn_lint_edge_rules_helpers", Path(__file__).with_name("_edge.py"))
        assert _spec is not None and _spec.loader is not None
        sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules[_spec.name])
    _edge = sys.modules["cfn_lint_edge_rules_helpers"]  # type: ignore[assignment]

LOG_GROUP = "AWS::Logs::LogGroup"
DEFAULT_PREFIX = f"/aws/lambda/{_edge.EDGE_REGION}."


class EdgeFunctionLogGroups(CloudFormationLintRule):
    """Edge functions need their log groups, with retention, in every linted REC region."""

    id = "E9108"
    shortdesc = "Edge function without its log group in a region it logs in"
    description = (
        "Lambda@Edge writes logs in the region of the regional edge cache that ran the function; "
        "the template must create the function's log group, with RetentionInDays, in every "
        "linted regional-edge-cache region, or Lambda creates it without retention or encryption"
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-logs.html"
    tags = ["resources", "lambda", "logs", "cloudfront", "edge", "regions"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        regions = [r for r in cfn.regions if r in _edge.REGIONAL_EDGE_CACHE_REGIONS]
        if not regions:
            return []
        template = cfn.template
        groups = {name: resource for name, resource in _edge.resources(template).items()
                  if _edge.resource_type(resource) == LOG_GROUP}
        admitted = _edge.admitted_regions(template, regions)
        matches: list[RuleMatch] = []
        for function in _edge.edge_functions(template).values():
            found = _log_group_of(function, groups)
            if isinstance(found, _Problem):
                matches.append(RuleMatch(found.path, f"Lambda@Edge function {function.name}: {found.message}"))
                continue
            shown, candidates, path = found
            excluded = [r for r in regions if r not in admitted]
            if excluded:
                matches.append(RuleMatch(path, (
                    f"Lambda@Edge function {function.name} runs and logs in every regional-edge-cache "
                    f"region, but this template's Rules do not let it be created in {', '.join(excluded)}, "
                    f"so nothing creates {shown} there: admit those regions in the Rules (guard the "
                    f"function itself to {_edge.EDGE_REGION} with a Condition)")))
            missing = [r for r in admitted
                       if not any(_edge.created_in_region(template, groups[g], r) is True for g in candidates)]
            if missing:
                matches.append(RuleMatch(path, (
                    f"Lambda@Edge function {function.name} logs to {shown} in each region it runs in, "
                    f"but this template does not create it in {', '.join(missing)}: Lambda would create it "
                    "there without retention or encryption (and a later create would fail with \"already "
                    "exists\"); create the AWS::Logs::LogGroup with no Condition, or one that holds in "
                    "those regions")))
            for name in candidates:
                if "RetentionInDays" not in _edge.properties(groups[name]):
                    matches.append(RuleMatch(["Resources", name, "Properties"], (
                        f"log group {name} of Lambda@Edge function {function.name} has no RetentionInDays: "
                        "its events would be kept, and billed, forever")))
        return matches


class _Problem:
    def __init__(self, path: list[Any], message: str):
        self.path, self.message = path, message


def _log_group_of(function: Any, groups: Mapping[str, Mapping[str, Any]]) -> tuple[str, list[str], list[Any]] | _Problem:
    """(name as shown, ids of the log groups with that name, path to report) or a problem."""
    props = function.properties
    config = props.get("LoggingConfig")
    custom = config.get("LogGroup") if isinstance(config, Mapping) else None
    if custom is not None:
        path = [*function.properties_path, "LoggingConfig", "LogGroup"]
        target = _edge.ref_target(custom)
        if target is not None:
            if target in groups:
                return f"its log group {target}", [target], path
            return _Problem(path, f"LoggingConfig.LogGroup refers to {target}, which is not an {LOG_GROUP} "
                                  "of this template, so its regions cannot be checked")
        name = _literal(custom)
        if name is None:
            return _Problem(path, "LoggingConfig.LogGroup must be a Ref to a log group of this template or a "
                                  "name (a string or an Fn::Sub), so its regions can be checked")
        if name.startswith("aws/"):
            return _Problem(path, f"LoggingConfig.LogGroup {name!r} begins with aws/, which Lambda refuses")
        function_name = _literal(props.get("FunctionName"))
        if function_name is not None and name == f"/aws/lambda/{function_name}":
            name = DEFAULT_PREFIX + function_name  # Lambda@Edge adds the prefix to the default name
        return f"log group {name}", _named(groups, name), path
    function_name = _literal(props.get("FunctionName"))
    if function_name is None:
        return _Problem([*function.properties_path], (
            "has neither a FunctionName nor LoggingConfig.LogGroup: its log group name is generated at "
            "deploy time, so no template can create it beforehand"))
    name = DEFAULT_PREFIX + function_name
    return f"log group {name}", _named(groups, name), function.path


def _literal(value: Any) -> str | None:
    """A string, or the body of an Fn::Sub (pseudo parameters stay as ${...}), else None."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping) and len(value) == 1 and "Fn::Sub" in value:
        body = value["Fn::Sub"]
        if isinstance(body, str):
            return str(body)
        if isinstance(body, list) and len(body) == 2 and isinstance(body[0], str) and not body[1]:
            return str(body[0])
    return None


def _named(groups: Mapping[str, Mapping[str, Any]], name: str) -> list[str]:
    return [gid for gid, group in groups.items() if _literal(_edge.properties(group).get("LogGroupName")) == name]
