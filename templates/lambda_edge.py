"""Lambda@Edge component (us-east-1): the edge functions, their role, logs and numbered versions."""

from __future__ import annotations

import hashlib
import json

from awacs import dynamodb as ddb_actions
from awacs import logs as logs_actions
from awacs.aws import Allow, PolicyDocument, Statement
from awacs.helpers.trust import get_lambda_edge_assumerole_policy
from troposphere import GetAtt, Ref, Sub, Template
from troposphere import awslambda, iam, logs

from templates.common import (
    add_log_encryption_key,
    add_output,
    assert_edge_region,
    new_template,
    retain,
    skip_checkov,
    tags,
)
from templates.config import EDGE_REGION, EnvConfig
from templates.edge_functions import FUNCTIONS, EdgeFunction, bake_source

# Lambda@Edge supports Python; 3.9 and 3.10 are end-of-life.
RUNTIME = "python3.13"

# Numbered-version ARN as CloudFront requires it in a function association (no $LATEST, no alias).
VERSION_ARN_PATTERN = r"^arn:aws[a-z-]*:lambda:us-east-1:[0-9]{12}:function:[A-Za-z0-9_-]+:[0-9]+$"


def build(env: EnvConfig) -> Template:
    """One function and numbered version per edge trigger, with a least-privilege execution role."""
    t = new_template(env, "lambda_edge", "Lambda@Edge functions and versions")
    assert_edge_region(t, "lambda_edge")
    role = _add_execution_role(t, env)
    logs_key = add_log_encryption_key(t, env, "EdgeFunction")
    settings = {
        "table_name": env.edge_config_table_name,
        "table_regions": list(env.table_regions),
        "cache_ttl_seconds": env.edge_config_cache_ttl_seconds,
        "environment": env.environment,
    }
    for spec in FUNCTIONS:
        # Each function's index.py holds only the code of its trigger (less to compile at a cold start).
        function = _add_function(t, env, spec, role, bake_source(settings, spec.event_type))
        _add_log_group(t, env, spec, function, logs_key)
        version = _add_version(t, spec, function)
        add_output(t, f"{_logical(spec)}FunctionName", Ref(function), f"The {spec.event_type} edge function.")
        add_output(
            t,
            f"{_logical(spec)}VersionArn",
            Ref(version),
            f"Numbered version ARN of the {spec.event_type} function, as CloudFront associates it.",
        )
    return t


def function_name(env: EnvConfig, spec: EdgeFunction) -> str:
    """`<project>-<env>-viewer-request`: also names its logs, `/aws/lambda/us-east-1.<name>`."""
    return f"{env.name_prefix}-{spec.event_type}"


def log_group_name(env: EnvConfig, spec: EdgeFunction) -> str:
    """Where the function logs, in every region it runs in: always under the us-east-1 name."""
    return f"/aws/lambda/{EDGE_REGION}.{function_name(env, spec)}"


def version_output_name(spec: EdgeFunction) -> str:
    """The lambda_edge output that carries the function's numbered version ARN."""
    return f"{_logical(spec)}VersionArn"


def _logical(spec: EdgeFunction) -> str:
    return "".join(part.capitalize() for part in spec.key.split("_"))


def _add_execution_role(t: Template, env: EnvConfig) -> iam.Role:
    log_group_arns = [
        # Edge replicas log in the region where they ran, always under the us-east-1 name: the
        # region cannot be pinned (Lambda@Edge developer guide, "Edge function logs").
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
                            Statement(
                                Effect=Allow,
                                Action=[
                                    logs_actions.CreateLogGroup,
                                    logs_actions.CreateLogStream,
                                    logs_actions.PutLogEvents,
                                ],
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
    add_output(t, "EdgeFunctionRoleArn", GetAtt(role, "Arn"), "Execution role of the edge functions.")
    return role


def _add_function(t: Template, env: EnvConfig, spec: EdgeFunction, role: iam.Role, code: str) -> awslambda.Function:
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
                Code=awslambda.Code(ZipFile=code),
                Tags=tags(env),
            )
        )
    )
    # The association lives in the cloudfront template: this tells the edge lint rules which
    # trigger (and so which memory and timeout limits) the function serves.
    function.Metadata = {"EdgeEventType": spec.event_type}
    reason = "Lambda@Edge does not support {}."
    skip_checkov(
        function,
        CKV_AWS_115=reason.format("reserved concurrency"),
        CKV_AWS_116=reason.format("dead-letter queues"),
        CKV_AWS_117=reason.format("VPC configuration"),
    )
    return function


def _add_log_group(t: Template, env: EnvConfig, spec: EdgeFunction, function: awslambda.Function, key) -> logs.LogGroup:
    """The us-east-1 log group, with retention and encryption; other regions' groups are created on first use."""
    return t.add_resource(
        retain(logs.LogGroup(
            f"{_logical(spec)}LogGroup",
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
    return t.add_resource(
        retain(
            awslambda.Version(
                f"{_logical(spec)}Version{digest}",
                FunctionName=Ref(function),
                Description=f"{spec.event_type} code {digest}",
            )
        )
    )
