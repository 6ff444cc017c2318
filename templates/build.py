"""Build one environment's templates in memory: the builders, the wiring check, the size guard."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

from troposphere import Template

from templates import cloudfront, dynamodb, lambda_edge, monitoring, root, route53, s3, waf
from templates.config import EnvConfig
from templates.global_rules import longest_names_variant, name_problems
from templates.lint_rules._edge import admitted_regions, created_in_region

BUILDERS: dict[str, Callable[[EnvConfig], Template]] = {
    "root": root.build,
    "s3": s3.build,
    "dynamodb": dynamodb.build,
    "lambda_edge": lambda_edge.build,
    "waf": waf.build,
    "cloudfront": cloudfront.build,
    "route53": route53.build,
    "monitoring": monitoring.build,
}

# CloudFormation quotas: a TemplateURL template is at most 1 MB; a template at most 500 resources.
MAX_TEMPLATE_BYTES = 1_000_000
MAX_RESOURCES = 500

_CHILD_URL = re.compile(r"([a-z0-9_]+)\.json$")


class BuildError(Exception):
    """The generated templates are inconsistent (wiring) or too large; each line names the template."""

    def __init__(self, env: str, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"{env}: {p}" for p in problems))


@dataclass(frozen=True)
class RenderedTemplate:
    """One generated file: its name in output/<env>/, its bytes and its resource count."""

    component: str
    body: bytes
    resources: int

    @property
    def filename(self) -> str:
        return f"{self.component}.json"


def build_templates(env: EnvConfig) -> dict[str, dict]:
    """Component name -> template dict, for the components this environment has."""
    names = ("root", *root.components(env))
    return {name: BUILDERS[name](env).to_dict() for name in names}


def render_environment(env: EnvConfig) -> dict[str, bytes]:
    """File name -> exact bytes that generate.py writes into output/<env>/."""
    return {r.filename: r.body for r in render_checked(env)}


def render_checked(env: EnvConfig) -> list[RenderedTemplate]:
    """Build, check the nested wiring and the size limits, and render; raise BuildError on a problem."""
    templates = build_templates(env)
    problems = check_wiring(templates) + check_regions(env, templates)
    # Names must fit AWS's limits for every project and environment name the config allows,
    # not only this one: a fork with a longer name must not fail half-way through a rollout.
    problems += [str(p) for p in name_problems(env, build_templates(longest_names_variant(env)))]
    rendered = []
    for name, template in templates.items():
        body = (json.dumps(template, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        count = len(template.get("Resources", {}))
        if len(body) > MAX_TEMPLATE_BYTES:
            problems.append(f"{name}.json is {len(body)} bytes; CloudFormation accepts at most "
                            f"{MAX_TEMPLATE_BYTES} from S3")
        if count > MAX_RESOURCES:
            problems.append(f"{name}.json has {count} resources; CloudFormation allows at most {MAX_RESOURCES}")
        rendered.append(RenderedTemplate(name, body, count))
    if problems:
        raise BuildError(env.environment, problems)
    return rendered


def check_wiring(templates: dict[str, dict]) -> list[str]:
    """Every parameter the root passes is declared by the child, every required one is passed,
    every `Outputs.X` the root reads exists, and every nested template exists."""
    problems: list[str] = []
    root_template = templates["root"]
    stacks: dict[str, str] = {}
    for logical_id, resource in root_template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::CloudFormation::Stack":
            continue
        child_name = nested_template_name(resource["Properties"].get("TemplateURL"))
        if child_name is None or child_name not in templates:
            problems.append(f"root.{logical_id}: TemplateURL names no generated template ({child_name})")
            continue
        stacks[logical_id] = child_name
        declared = templates[child_name].get("Parameters", {})
        passed = resource["Properties"].get("Parameters", {})
        for name in sorted(set(passed) - set(declared)):
            problems.append(f"root.{logical_id} passes {name}, which {child_name}.json does not declare")
        for name in sorted(n for n, p in declared.items() if "Default" not in p and n not in passed):
            problems.append(f"root.{logical_id} does not pass {name}, which {child_name}.json requires")
    for logical_id, attribute in _get_atts(root_template):
        if logical_id not in stacks or not attribute.startswith("Outputs."):
            continue
        output = attribute.removeprefix("Outputs.")
        child_name = stacks[logical_id]
        if output not in templates[child_name].get("Outputs", {}):
            problems.append(f"root reads {logical_id}.{attribute}, which {child_name}.json does not output")
    return problems


def check_regions(env: EnvConfig, templates: dict[str, dict]) -> list[str]:
    """The root admits every region of the environment, creates the lambda_edge stack in every edge
    log region and monitoring in every region of the table, and never creates a nested stack in a
    region its template's Rules refuse (the rollout would fail there)."""
    problems: list[str] = []
    root_template = templates["root"]
    regions = list(env.regions)
    admitted = admitted_regions(root_template, regions)
    if admitted != regions:
        problems.append(f"root.json: its Rules refuse {', '.join(r for r in regions if r not in admitted)}, "
                        "where the environment has instances")
    required = {"lambda_edge": env.edge_log_regions, "monitoring": env.monitored_regions}
    for logical_id, resource in root_template.get("Resources", {}).items():
        child = nested_template_name(resource.get("Properties", {}).get("TemplateURL")) \
            if resource.get("Type") == "AWS::CloudFormation::Stack" else None
        if child not in templates:
            continue
        created = [r for r in admitted if created_in_region(root_template, resource, r) is not False]
        refused = [r for r in created if r not in admitted_regions(templates[child], [r])]
        if refused:
            problems.append(f"root.{logical_id} creates {child}.json in {', '.join(refused)}, which its Rules refuse")
        missing = [r for r in required.get(child, ()) if created_in_region(root_template, resource, r) is not True]
        if missing:
            problems.append(f"root.{logical_id} does not create {child}.json in {', '.join(missing)}")
    return problems


def nested_template_name(url: object) -> str | None:
    """The component named by a TemplateURL (a string or an Fn::Sub ending in <name>.json)."""
    if isinstance(url, dict) and "Fn::Sub" in url:
        url = url["Fn::Sub"][0] if isinstance(url["Fn::Sub"], list) else url["Fn::Sub"]
    match = _CHILD_URL.search(url) if isinstance(url, str) else None
    return match.group(1) if match else None


def _get_atts(node: object):
    """Every (logical id, attribute) pair of Fn::GetAtt in a template fragment."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::GetAtt":
                if isinstance(value, list):
                    yield value[0], value[1]
                elif isinstance(value, str):
                    yield tuple(value.split(".", 1))
            else:
                yield from _get_atts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _get_atts(item)
