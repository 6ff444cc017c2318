"""CloudFormation models and engine fixes that make moto 5.2.5 deploy the real templates.

Only the rehearsal and the tests call `install()`; deploy.py against AWS never imports moto.

moto builds its type -> model map from `CloudFormationModel.__subclasses__()` (direct
subclasses, in definition order, the last one of a type winning), so importing these modules
registers the models; `install()` then clears moto's cached map and checks that every type
resolves to the model defined here.
"""

from __future__ import annotations

import importlib

EMULATED_TYPES = {
    "AWS::S3::BucketPolicy": "s3.EmulatedBucketPolicy",
    "AWS::DynamoDB::GlobalTable": "dynamodb.EmulatedGlobalTable",
    "AWS::Lambda::Version": "awslambda.EmulatedLambdaVersion",
    "AWS::WAFv2::WebACL": "wafv2.EmulatedWebACL",
    "AWS::WAFv2::LoggingConfiguration": "wafv2.EmulatedLoggingConfiguration",
    "AWS::CloudFront::Distribution": "cloudfront.EmulatedDistribution",
    "AWS::CloudFront::OriginAccessControl": "cloudfront.EmulatedOriginAccessControl",
    "AWS::CloudFront::CachePolicy": "cloudfront.EmulatedCachePolicy",
    "AWS::CloudFront::OriginRequestPolicy": "cloudfront.EmulatedOriginRequestPolicy",
    "AWS::CloudFront::ResponseHeadersPolicy": "cloudfront.EmulatedResponseHeadersPolicy",
    "AWS::CloudFront::MonitoringSubscription": "cloudfront.EmulatedMonitoringSubscription",
    "AWS::CertificateManager::Certificate": "acm.EmulatedCertificate",
    "AWS::SNS::TopicPolicy": "sns.EmulatedTopicPolicy",
    "AWS::SNS::Subscription": "sns.EmulatedSubscription",
    "AWS::CloudWatch::Alarm": "cloudwatch.EmulatedAlarm",
    "AWS::Logs::LogGroup": "logs.EmulatedLogGroup",
    "AWS::Route53::RecordSetGroup": "route53.EmulatedRecordSetGroup",
}


def unsupported_types(templates: dict[str, dict]) -> dict[str, list[str]]:
    """Resource types moto (with these models) would skip: {type: [file/logical id, ...]}.

    moto only warns and leaves such a resource out, so a rehearsal must refuse them up front.
    """
    from moto.cloudformation import parsing

    install()
    known = parsing.get_model_map()
    missing: dict[str, list[str]] = {}
    for name, template in sorted(templates.items()):
        for logical, resource in sorted(template.get("Resources", {}).items()):
            kind = resource.get("Type", "")
            if kind not in known and kind not in parsing.NULL_MODELS and not kind.startswith("Custom::"):
                missing.setdefault(kind, []).append(f"{name}/{logical}")
    return missing


def install() -> None:
    """Register the emulated models and apply the engine fixes (idempotent)."""
    # moto's parsing module imports every service model first, so ours come later in
    # __subclasses__() and win for the types moto also knows (AWS::Lambda::Version).
    from moto.cloudformation import parsing

    from rollout.moto_models import (  # noqa: F401  (importing registers the models)
        acm,
        assume_role,
        awslambda,
        bucket_policy_principals,
        cloudformation,
        cloudfront,
        cloudfront_invalidations,
        cloudwatch,
        dynamodb,
        iam_role_policies,
        lambda_code,
        lambda_logging,
        lifecycle,
        logs,
        policy_conditions,
        route53,
        s3,
        service_fixes,
        session_policies,
        sns,
        stacksets,
        wafv2,
    )

    cloudformation.install()
    cloudfront.install()
    lifecycle.install()
    stacksets.install()
    policy_conditions.install()
    service_fixes.install()
    bucket_policy_principals.install()
    cloudfront_invalidations.install()
    iam_role_policies.install()
    lambda_logging.install()
    lambda_code.install()
    session_policies.install()
    assume_role.install()
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    model_map = parsing.get_model_map()
    for resource_type, path in EMULATED_TYPES.items():
        module_name, class_name = path.split(".")
        expected = getattr(importlib.import_module(f"rollout.moto_models.{module_name}"), class_name)
        if model_map.get(resource_type) is not expected:
            raise RuntimeError(f"moto resolves {resource_type} to {model_map.get(resource_type)}, "
                               f"not {expected}: was a model imported before moto's parsing module?")
