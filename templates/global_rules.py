"""Rules no single stack sees, checked across every environment of config/ before anything is generated.

AWS enforces these at rollout time, half-way through a stack-set operation; here they fail the
generator with a message naming both places instead.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from templates.config import SUPPORTED_REGIONS, EnvConfig, display_path

# The longest names the configuration allows (templates.config: project 3-16, environment 2-10).
LONGEST_PROJECT = "p" * 16
LONGEST_ENVIRONMENT = "e" * 10
LONGEST_ACCOUNT_ID = "1" * 12
LONGEST_REGION = max(SUPPORTED_REGIONS, key=len)

# (resource type, name property) -> the service's maximum length for that name.
NAME_LIMITS: dict[tuple[str, str], int] = {
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::S3::Bucket", "BucketName"): 63,
    ("AWS::Lambda::Function", "FunctionName"): 64,
    ("AWS::DynamoDB::GlobalTable", "TableName"): 255,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::KMS::Alias", "AliasName"): 256,
    ("AWS::WAFv2::WebACL", "Name"): 128,
    ("AWS::CloudWatch::Alarm", "AlarmName"): 255,
    ("AWS::CloudWatch::Dashboard", "DashboardName"): 255,
}

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@dataclasses.dataclass(frozen=True)
class GlobalProblem:
    """A rule broken across files or accounts: where it shows, and what it collides with."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class GlobalRuleError(Exception):
    """One or more global rules are broken; each line names the file and field."""

    def __init__(self, problems: list[GlobalProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _place(env: EnvConfig, field: str) -> str:
    return f"{display_path(env.source)}: {field}"


def domain_problems(envs: list[EnvConfig]) -> list[GlobalProblem]:
    """Aliases, hosted zones and zone names that two accounts or two environments claim."""
    problems: list[GlobalProblem] = []
    alias_owner: dict[str, tuple[str, str]] = {}  # alias -> (place, account)
    zone_owner: dict[str, tuple[str, str, str]] = {}  # zone id -> (place, account, zone name)
    zone_by_name: dict[str, tuple[str, str]] = {}  # zone name -> (place, zone id)
    for env in sorted(envs, key=lambda e: e.environment):  # the same message whichever is generated
        for account, domain in env.account_domains:
            for index, alias in enumerate(domain.aliases):
                here = _place(env, f"{domain.where}.aliases[{index}]")
                if alias in alias_owner:
                    there, other_account = alias_owner[alias]
                    problems.append(GlobalProblem(here, (
                        f"{alias} (account {account}) is also an alias at {there} (account "
                        f"{other_account}): CloudFront lets one distribution in all of AWS hold an "
                        "alternate domain name, so the second fails with CNAMEAlreadyExists")))
                else:
                    alias_owner[alias] = (here, account)
            if domain.hosted_zone_id is None:
                continue
            here = _place(env, f"{domain.where}.hosted_zone_id")
            owner = zone_owner.get(domain.hosted_zone_id)
            if owner is not None and owner[1] != account:
                problems.append(GlobalProblem(here, (
                    f"hosted zone {domain.hosted_zone_id} is named for account {account} here and for "
                    f"account {owner[1]} at {owner[0]}: a hosted zone lives in one account, so "
                    "certificate validation and alias records fail in the other")))
            elif owner is not None and owner[2] != domain.zone_name:
                problems.append(GlobalProblem(here, (
                    f"hosted zone {domain.hosted_zone_id} is {domain.zone_name} here but "
                    f"{owner[2]} at {owner[0]}")))
            elif owner is None:
                zone_owner[domain.hosted_zone_id] = (here, account, domain.zone_name)
            named = zone_by_name.get(domain.zone_name)
            if named is not None and named[1] != domain.hosted_zone_id:
                problems.append(GlobalProblem(here, (
                    f"zone {domain.zone_name} is {domain.hosted_zone_id} here but {named[1]} at "
                    f"{named[0]}: only one zone of a name can be delegated from its parent, and ACM "
                    "validates only in the delegated one")))
            elif named is None:
                zone_by_name[domain.zone_name] = (here, domain.hosted_zone_id)
    return problems


def longest_names_variant(env: EnvConfig) -> EnvConfig:
    """The environment with the longest project and environment names the configuration allows."""
    return dataclasses.replace(env, project=LONGEST_PROJECT, environment=LONGEST_ENVIRONMENT)


def name_problems(env: EnvConfig, templates: dict[str, dict]) -> list[GlobalProblem]:
    """Names in `templates` (built for longest_names_variant(env)) that could exceed AWS's limits.

    Account ids and regions inside Fn::Sub are counted at their longest; a name whose length
    cannot be bounded (another variable) is reported, so the rule cannot be skipped silently.
    """
    problems = []
    for component, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            for (kind, prop), limit in NAME_LIMITS.items():
                if resource.get("Type") != kind or prop not in resource.get("Properties", {}):
                    continue
                length = _longest_length(resource["Properties"][prop])
                where = f"{component}.json {logical_id}.{prop}"
                if length is None:
                    problems.append(GlobalProblem(where, f"the length of {kind} names cannot be bounded "
                                                         f"(limit {limit}); use a name built from the "
                                                         "project, environment, account and region"))
                elif length > limit:
                    problems.append(GlobalProblem(where, (
                        f"is {length} characters for the longest project ({len(LONGEST_PROJECT)}), "
                        f"environment ({len(LONGEST_ENVIRONMENT)}), account and region "
                        f"({LONGEST_REGION}) the configuration allows; AWS allows {limit}")))
    return problems


def _longest_length(value: Any) -> int | None:
    """The longest length a name can take once CloudFormation resolves it, or None if unknown."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        body = value["Fn::Sub"]
        if isinstance(body, list):
            body, variables = body[0], body[1]
            if variables:
                return None
        worst = {"AWS::AccountId": LONGEST_ACCOUNT_ID, "AWS::Region": LONGEST_REGION}
        unknown = [name for name in _SUB_VARIABLE.findall(body) if name not in worst]
        if unknown:
            return None
        return len(_SUB_VARIABLE.sub(lambda m: worst[m.group(1)], body))
    return None

