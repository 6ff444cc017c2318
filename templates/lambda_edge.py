"""Lambda@Edge component: the edge functions, role and versions (us-east-1), their logs everywhere they run.

Lambda@Edge runs each function in the regional edge cache nearest the viewer and writes its logs in
that cache's region (CloudFront developer guide, "Edge function logs"). This template is created in
every edge log region: there it creates the functions' log groups, with retention, a KMS key of
that region and tags; in us-east-1 also the functions themselves.

Each function's code is a deployment package in S3 rather than inline `ZipFile` source: inline code
is compiled from source at every cold start (/var/task is read-only, no .pyc is kept), a package
can carry the bytecode beside the source. The template holds the source itself (the function's
`Metadata.EdgeCode`) and the package's key, which ends with the source's sha256; `deploy.py publish`
builds the package from that source and uploads it (rollout/edge_package.py).
"""

from __future__ import annotations

import hashlib
import json

from awacs import dynamodb as ddb_actions
from awacs import logs as logs_actions
from awacs.aws import Allow, PolicyDocument, Statement
from awacs.helpers.trust import get_lambda_edge_assumerole_policy
from troposphere import Equals, GetAtt, Ref, Region, Sub, Template
from troposphere import awslambda, iam, kms, logs

from templates.common import (
    IS_EDGE_REGION,
    add_log_encryption_key,
    add_output,
    add_parameter,
    assert_regions,
    new_template,
    retain,
    skip_checkov,
    tags,
)
from templates.config import EDGE_REGION, EnvConfig
from templates.edge_functions import FUNCTIONS, EdgeFunction, bake_source

# Lambda@Edge supports Python; 3.9 and 3.10 are end-of-life.
RUNTIME = "python3.13"

# Where the packages go: the edge region's templates bucket of the deploying account, which lets the
# environment's execution roles read <env>/* (rollout/bootstrap.py). Lambda reads a package with the
# caller's permissions from a bucket of any account, but only of the function's own region.
CODE_BUCKET_PARAMETER = "CodeBucket"
# Metadata key of a function's source: {"index.py": <source>}.
CODE_METADATA = "EdgeCode"

# Numbered-version ARN as CloudFront requires it in a function association (no $LATEST, no alias).
VERSION_ARN_PATTERN = r"^arn:aws[a-z-]*:lambda:us-east-1:[0-9]{12}:function:[A-Za-z0-9_-]+:[0-9]+$"


def build(env: EnvConfig) -> Template:
    """In us-east-1 one function and numbered version per edge trigger, with a least-privilege
    execution role; in every edge log region the functions' log groups and their KMS key."""
    t = new_template(env, "lambda_edge", "Lambda@Edge functions and versions, their log groups in every "
                                         "edge log region")
    t.add_condition(IS_EDGE_REGION, Equals(Region, EDGE_REGION))
    assert_regions(
        t, "EdgeLogRegion", env.edge_log_regions,
        f"The lambda_edge stack is created where the edge functions log ({', '.join(env.edge_log_regions)}): "
        f"the functions themselves in {EDGE_REGION}, their log groups in each of these regions.",
    )
    code_bucket = add_parameter(
        t, CODE_BUCKET_PARAMETER,
        f"Bucket in {EDGE_REGION} holding the functions' deployment packages (deploy.py publish uploads them).",
        AllowedPattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        ConstraintDescription="must be an S3 bucket name",
    )
    logs_key = add_log_encryption_key(t, env, "EdgeFunction")
    log_groups = {spec.key: _add_log_group(t, env, spec, logs_key) for spec in FUNCTIONS}
    role = _add_execution_role(t, env)
    settings = {
        "table_name": env.edge_config_table_name,
        "table_regions": list(env.table_regions),
        "cache_ttl_seconds": env.edge_config_cache_ttl_seconds,
        "environment": env.environment,
    }
    for spec in FUNCTIONS:
        # Each function's index.py holds only the code of its trigger (less to load at a cold start).
        function = _add_function(t, env, spec, role, Ref(code_bucket), bake_source(settings, spec.event_type),
                                 log_groups[spec.key])
        version = _add_version(t, spec, function)
        add_output(t, f"{_logical(spec)}FunctionName", Ref(function), f"The {spec.event_type} edge function.",
                   condition=IS_EDGE_REGION)
        add_output(
            t,
            f"{_logical(spec)}VersionArn",
            Ref(version),
            f"Numbered version ARN of the {spec.event_type} function, as CloudFront associates it.",
            condition=IS_EDGE_REGION,
        )
    return t


def function_name(env: EnvConfig, spec: EdgeFunction) -> str:
    """`<project>-<env>-viewer-request`."""
    return f"{env.name_prefix}-{spec.event_type}"


def log_group_name(env: EnvConfig, spec: EdgeFunction) -> str:
    """`/<project>/<env>/lambda-edge/<event type>`: the function's log group, the same in every region.

    A custom log group (the function's LoggingConfig) keeps this name in every region the function
    runs in, where the default one is `/aws/lambda/us-east-1.<function>` (CloudFront developer
    guide, "Edge function logs"). The name is one Lambda never created by itself before the
    functions used it, so no region's instance meets a log group of that name made by Lambda.
    Custom names must not begin with `aws/` (Lambda developer guide), which a leading / rules out.
    """
    return f"/{env.project}/{env.environment}/lambda-edge/{spec.event_type}"


def default_log_group_name(env: EnvConfig, spec: EdgeFunction) -> str:
    """`/aws/lambda/us-east-1.<function>`: where the function logged before it had a custom log group.

    Lambda created these itself in every region the function ran in, without retention or
    encryption; the templates no longer manage any of them (the us-east-1 one keeps the retention
    it was given), and deploy reports those it finds.
    """
    return f"/aws/lambda/{EDGE_REGION}.{function_name(env, spec)}"


def code_key(environment: str, event_type: str, source: str) -> str:
    """`<env>/lambda-edge/<event type>-<sha256 of index.py>.zip`: the key of a function's package.

    Content-addressed: new source is a new key, so CloudFormation updates the function's code and
    publishes a new version (a changed package under the same key would not be noticed).
    """
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    return f"{environment}/lambda-edge/{event_type}-{digest}.zip"


def version_output_name(spec: EdgeFunction) -> str:
    """The lambda_edge output that carries the function's numbered version ARN."""
    return f"{_logical(spec)}VersionArn"


def _logical(spec: EdgeFunction) -> str:
    return "".join(part.capitalize() for part in spec.key.split("_"))


def _add_execution_role(t: Template, env: EnvConfig) -> iam.Role:
    log_group_arns = [
        # Edge replicas log in the region where they ran, under the same name everywhere: the
        # region cannot be pinned (CloudFront developer guide, "Edge function logs").
        Sub(f"arn:${{AWS::Partition}}:logs:*:${{AWS::AccountId}}:log-group:{log_group_name(env, spec)}{suffix}")
        for spec in FUNCTIONS
        for suffix in ("", ":log-stream:*")
    ]
    table_arns = [
        Sub(f"arn:${{AWS::Partition}}:dynamodb:{region}:${{AWS::AccountId}}:table/{env.edge_config_table_name}")
        for region in env.table_regions
    ]
    role = t.add_resource(
        iam.Role(
            "EdgeFunctionRole",
            # IAM names are per account: the region keeps the name unique should the role ever be
            # created in a second region; an account id would only cost length (64 at most).
            RoleName=Sub(f"{env.name_prefix}-edge-functions-${{AWS::Region}}"),
            Description=f"{env.name_prefix}: execution role of the Lambda@Edge functions",
            AssumeRolePolicyDocument=get_lambda_edge_assumerole_policy(),
            Policies=[
                iam.Policy(
                    PolicyName="WriteEdgeLogs",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            # No logs:CreateLogGroup: Lambda creates a missing log group with the
                            # function's role, without retention, key or tags, and that group would
                            # make the region's instance fail "already exists". Without the
                            # permission, a region outside edge_log_regions drops its logs instead.
                            Statement(
                                Effect=Allow,
                                Action=[logs_actions.CreateLogStream, logs_actions.PutLogEvents],
                                Resource=log_group_arns,
                            )
                        ],
                    ),
                ),
                iam.Policy(
                    PolicyName="ReadEdgeConfig",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            # GetItem only: the handlers read the current item, nothing else.
                            Statement(Effect=Allow, Action=[ddb_actions.GetItem], Resource=table_arns)
                        ],
                    ),
                ),
            ],
            Tags=tags(env),
        )
    )
    role.Condition = IS_EDGE_REGION
    add_output(t, "EdgeFunctionRoleArn", GetAtt(role, "Arn"), "Execution role of the edge functions.",
               condition=IS_EDGE_REGION)
    return role


def _add_function(t: Template, env: EnvConfig, spec: EdgeFunction, role: iam.Role, code_bucket: Ref, source: str,
                  log_group: logs.LogGroup) -> awslambda.Function:
    settings = env.edge_function_settings(spec.key)
    function = t.add_resource(
        retain(
            awslambda.Function(
                f"{_logical(spec)}Function",
                FunctionName=function_name(env, spec),
                Description=f"{env.name_prefix}: {spec.event_type} edge logic driven by {env.edge_config_table_name}",
                Runtime=RUNTIME,
                Architectures=["x86_64"],  # Lambda@Edge does not run arm64
                Handler=spec.handler,
                MemorySize=settings.memory_mb,
                Timeout=settings.timeout_seconds,
                Role=GetAtt(role, "Arn"),
                Code=awslambda.Code(S3Bucket=code_bucket, S3Key=code_key(env.environment, spec.event_type, source)),
                # The same log group name in every region the function runs in; Ref also creates
                # the us-east-1 group before the function.
                LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(log_group)),
                Tags=tags(env),
            )
        )
    )
    function.Condition = IS_EDGE_REGION
    # The association lives in the cloudfront template: EdgeEventType tells the edge lint rules which
    # trigger (and so which memory and timeout limits) the function serves. EdgeCode is the source
    # the package at S3Key is built from.
    function.Metadata = {"EdgeEventType": spec.event_type, CODE_METADATA: {"index.py": source}}
    reason = "Lambda@Edge does not support {}."
    skip_checkov(
        function,
        CKV_AWS_115=reason.format("reserved concurrency"),
        CKV_AWS_116=reason.format("dead-letter queues"),
        CKV_AWS_117=reason.format("VPC configuration"),
    )
    return function


def _add_log_group(t: Template, env: EnvConfig, spec: EdgeFunction, key: kms.Key) -> logs.LogGroup:
    """The function's log group in this region, with retention, this region's key and tags."""
    return t.add_resource(
        retain(logs.LogGroup(
            f"{_logical(spec)}EdgeLogGroup",
            LogGroupName=log_group_name(env, spec),
            RetentionInDays=env.function_log_retention_days,
            KmsKeyId=GetAtt(key, "Arn"),
            Tags=tags(env),
        ))
    )


def _add_version(t: Template, spec: EdgeFunction, function: awslambda.Function) -> awslambda.Version:
    """A numbered version whose logical id carries a hash of the function's code and settings.

    A Version resource is immutable: a new logical id makes CloudFormation publish a new
    version whenever the code or configuration changes. Retained because Lambda@Edge replicas
    are removed hours after the association goes, so an immediate delete would fail.
    """
    versioned = {k: v for k, v in function.to_dict()["Properties"].items() if k != "Tags"}
    digest = hashlib.sha256(json.dumps(versioned, sort_keys=True).encode()).hexdigest()[:10]
    version = t.add_resource(
        retain(
            awslambda.Version(
                f"{_logical(spec)}Version{digest}",
                FunctionName=Ref(function),
                Description=f"{spec.event_type} code {digest}",
            )
        )
    )
    version.Condition = IS_EDGE_REGION
    return version
