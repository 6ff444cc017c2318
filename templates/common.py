"""Shared pieces of the component builders: names, tags, retention, region conditions, checkov skips."""

from __future__ import annotations

from awacs import kms as kms_actions
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement
from troposphere import AWSObject, AccountId, Equals, If, Or, Output, Parameter, Region, Sub, Tags, Template, kms

from templates.config import EDGE_REGION, EnvConfig

MANAGED_BY = "edge-cdn-generator"

# In every template's Description: how generate.py recognises the files it wrote (and may replace).
GENERATED_MARK = "generated, do not edit"

# Condition names shared by the root and the templates that hold resources of both regions.
IS_EDGE_REGION = "IsEdgeRegion"
IS_PRIMARY_REGION = "IsPrimaryRegion"
# The edge functions' log groups exist here (root: the lambda_edge stack).
IS_EDGE_LOG_REGION = "IsEdgeLogRegion"
# us-east-1 or a region of the edge-config table: alarms and an alarm topic (root: the monitoring stack).
IS_MONITORED_REGION = "IsMonitoredRegion"

# Conditions on the stack's account (per-account domains), shared by root, cloudfront and route53.
SERVES_ALIASES = "ServesAliases"
CREATES_ZONE = "CreatesZone"
HAS_DOMAIN = "HasDomain"


def new_template(env: EnvConfig, component: str, summary: str) -> Template:
    """A template with a description naming the project, environment and component."""
    t = Template()
    t.set_version("2010-09-09")
    t.set_description(f"{env.project} {env.environment}: {summary} ({component}; {GENERATED_MARK})")
    return t


def tags(env: EnvConfig) -> Tags:
    """Project, Environment and ManagedBy tags, then the environment's own tags."""
    values = {"Project": env.project, "Environment": env.environment, "ManagedBy": MANAGED_BY}
    values.update(dict(env.tags))
    return Tags(**values)


def retain(resource: AWSObject) -> AWSObject:
    """Keep the resource (and its data) when it is deleted or replaced, unless its first create fails.

    RetainExceptOnCreate: a create that rolls back deletes what it made, so a retry does not meet a
    named leftover ("already exists"); once created, a stack delete or replacement keeps it.
    UpdateReplacePolicy has no such value, so replacements keep the old resource (Retain).
    """
    resource.DeletionPolicy = "RetainExceptOnCreate"
    resource.UpdateReplacePolicy = "Retain"
    return resource


def skip_checkov(resource: AWSObject, **reasons: str) -> AWSObject:
    """Suppress checkov checks that cannot apply to this resource, each with its reason.

    Keys are check ids with underscores (CKV_AWS_117=...), as checkov reads them from Metadata.
    """
    metadata = dict(getattr(resource, "Metadata", {}) or {})
    checks = [{"id": check_id, "comment": reason} for check_id, reason in sorted(reasons.items())]
    metadata["checkov"] = {"skip": checks}
    resource.Metadata = metadata
    return resource


def account_condition(account: str) -> str:
    """The condition that holds in the stacks of one account: IsAccount<id>."""
    return f"IsAccount{account}"


def is_any_account(accounts: list[str]) -> object:
    """A condition expression true in the stacks of any of `accounts` (Fn::Or takes 2 to 10 terms)."""
    if not accounts:
        raise ValueError("is_any_account needs at least one account")
    return _any_of([Equals(AccountId, account) for account in accounts])


def is_any_region(regions: tuple[str, ...] | list[str]) -> object:
    """A condition expression true in the stacks of any of `regions` (each counted once)."""
    if not regions:
        raise ValueError("is_any_region needs at least one region")
    return _any_of([Equals(Region, region) for region in dict.fromkeys(regions)])


def _any_of(terms: list[object]) -> object:
    """Fn::Or of the terms, nested in chunks: Fn::Or takes 2 to 10 conditions."""
    while len(terms) > 10:
        chunks = [terms[i:i + 10] for i in range(0, len(terms), 10)]
        terms = [Or(*chunk) if len(chunk) > 1 else chunk[0] for chunk in chunks]
    return terms[0] if len(terms) == 1 else Or(*terms)


def add_account_conditions(t: Template, accounts: list[str]) -> None:
    """IsAccount<id> for each account: per-account values travel inside the one stack-set template."""
    for account in accounts:
        t.add_condition(account_condition(account), Equals(AccountId, account))


def per_account(values: list[tuple[str, object]], otherwise: object) -> object:
    """The value of the stack's account, by IsAccount<id> conditions, else `otherwise`."""
    result = otherwise
    for account, value in reversed(values):
        result = If(account_condition(account), value, result)
    return result


def of_account(values: list[tuple[str, object]]) -> object:
    """The value of the stack's account, where a condition already ensures it is one of `values`."""
    *others, (_, last) = values
    return per_account(others, last)


def add_region_conditions(t: Template, env: EnvConfig) -> None:
    """IsEdgeRegion (us-east-1) and IsPrimaryRegion (the configured primary region)."""
    t.add_condition(IS_EDGE_REGION, Equals(Region, EDGE_REGION))
    t.add_condition(IS_PRIMARY_REGION, Equals(Region, env.primary_region))


def assert_regions(t: Template, rule: str, regions: tuple[str, ...], description: str) -> None:
    """A Rules assertion that fails a deploy outside `regions` before anything is created."""
    t.add_rule(rule, {"Assertions": [{"Assert": {"Fn::Contains": [list(regions), Region]},
                                      "AssertDescription": description}]})


def assert_edge_region(t: Template, component: str) -> None:
    """A Rules assertion that fails a deploy outside us-east-1 before anything is created."""
    t.add_rule(
        "EdgeRegionOnly",
        {
            "Assertions": [
                {
                    "Assert": Equals(Region, EDGE_REGION),
                    "AssertDescription": (
                        f"The {component} stack must be created in {EDGE_REGION}: CloudFront only "
                        "uses Lambda@Edge functions, CLOUDFRONT-scope web ACLs and certificates "
                        f"from {EDGE_REGION}."
                    ),
                }
            ]
        },
    )


def add_output(t: Template, name: str, value: object, description: str, condition: str | None = None) -> Output:
    """Add an output; every output says what it is for."""
    output = Output(name, Value=value, Description=description)
    if condition:
        output.Condition = condition
    return t.add_output(output)


def add_parameter(t: Template, name: str, description: str, **props: object) -> Parameter:
    """Add a String parameter (unless Type is given) with its description and constraints."""
    props.setdefault("Type", "String")
    return t.add_parameter(Parameter(name, Description=description, **props))


def regional_name(env: EnvConfig, purpose: str) -> Sub:
    """A globally unique name: <project>-<env>-<purpose>-<account>-<region> (buckets, IAM roles)."""
    return Sub(f"{env.name_prefix}-{purpose}-${{AWS::AccountId}}-${{AWS::Region}}")


def origin_bucket_name_sub(env: EnvConfig) -> str:
    """The origin bucket's name as an Fn::Sub string: deterministic, so the edge region can derive it."""
    return f"{env.name_prefix}-origin-${{AWS::AccountId}}-{env.primary_region}"


def origin_bucket_name(env: EnvConfig) -> Sub:
    """The origin bucket's name: <project>-<env>-origin-<account>-<primary region>."""
    return Sub(origin_bucket_name_sub(env))


def origin_bucket_domain(env: EnvConfig) -> Sub:
    """The origin bucket's regional domain name, `<bucket>.s3.<region>.amazonaws.com`.

    Exports do not cross regions: the edge instance derives it from the deterministic name.
    """
    return Sub(f"{origin_bucket_name_sub(env)}.s3.{env.primary_region}.${{AWS::URLSuffix}}")


def key_admin_statement() -> Statement:
    """The default KMS key policy statement: the account administers the key through IAM.

    `kms:*` to the account root is what AWS itself writes; narrowing it risks an unmanageable key.
    """
    return Statement(
        Sid="AllowAccountToAdministerKey",
        Effect=Allow,
        Principal=Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
        Action=[kms_actions.Action("*")],
        Resource=["*"],
    )


def add_kms_key(t: Template, env: EnvConfig, logical_id: str, purpose: str, service_access: Statement) -> kms.Key:
    """A retained, rotating customer-managed key: the account administers it, one service uses it."""
    return t.add_resource(
        retain(
            kms.Key(
                logical_id,
                Description=f"{env.name_prefix}: encrypts {purpose}",
                EnableKeyRotation=True,
                PendingWindowInDays=30,
                KeyPolicy=PolicyDocument(Version="2012-10-17", Statement=[key_admin_statement(), service_access]),
                Tags=tags(env),
            )
        )
    )


def add_log_encryption_key(t: Template, env: EnvConfig, purpose: str) -> kms.Key:
    """A KMS key that CloudWatch Logs in this region may use for this stack's log groups."""
    logs_access = Statement(
        Sid="AllowCloudWatchLogs",
        Effect=Allow,
        Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
        Action=[
            kms_actions.Encrypt,
            kms_actions.Decrypt,
            kms_actions.ReEncryptFrom,
            kms_actions.ReEncryptTo,
            kms_actions.GenerateDataKey,
            kms_actions.GenerateDataKeyWithoutPlaintext,
            kms_actions.DescribeKey,
        ],
        Resource=["*"],  # in a key policy, "*" means this key
        # Only for log groups of this account and region.
        Condition=Condition(
            ArnLike(
                {
                    "kms:EncryptionContext:aws:logs:arn": Sub(
                        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
                    )
                }
            )
        ),
    )
    return add_kms_key(t, env, f"{purpose}LogsKey", f"the {purpose} log groups", logs_access)
