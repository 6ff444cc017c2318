"""WAF component (us-east-1): the CLOUDFRONT-scope web ACL, its rules and its logging."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template
from troposphere import logs, wafv2

from templates.common import (
    add_log_encryption_key,
    add_output,
    assert_edge_region,
    new_template,
    retain,
    tags,
)
from templates.config import EnvConfig

# AWS managed rule groups, evaluated after the environment's own block rules. None is
# overridden: a rule group in count mode would only look like protection.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)


def web_acl_name(env: EnvConfig) -> str:
    """The web ACL's name; also the `WebACL` dimension of its CloudWatch metrics."""
    return f"{env.name_prefix}-web-acl"


def build(env: EnvConfig) -> Template:
    """Web ACL: optional geo-block, per-IP rate limit, AWS managed groups; logs to CloudWatch Logs."""
    t = new_template(env, "waf", "CloudFront web ACL")
    assert_edge_region(t, "waf")
    acl = _add_web_acl(t, env)
    _add_logging(t, env, acl)
    add_output(t, "WebAclArn", GetAtt(acl, "Arn"), "ARN of the web ACL the distribution uses.")
    add_output(t, "WebAclName", web_acl_name(env), "Name of the web ACL (the WebACL metric dimension).")
    return t


def _visibility(metric: str) -> wafv2.VisibilityConfig:
    return wafv2.VisibilityConfig(
        CloudWatchMetricsEnabled=True, MetricName=metric, SampledRequestsEnabled=True
    )


def _add_web_acl(t: Template, env: EnvConfig) -> wafv2.WebACL:
    rules: list[wafv2.WebACLRule] = []
    if env.waf_blocked_countries:
        rules.append(
            wafv2.WebACLRule(
                Name="GeoBlock",
                Priority=len(rules),
                Action=wafv2.RuleAction(Block=wafv2.BlockAction()),
                Statement=wafv2.Statement(
                    GeoMatchStatement=wafv2.GeoMatchStatement(CountryCodes=list(env.waf_blocked_countries))
                ),
                VisibilityConfig=_visibility("GeoBlock"),
            )
        )
    rules.append(
        wafv2.WebACLRule(
            Name="RateLimitPerIp",
            Priority=len(rules),
            Action=wafv2.RuleAction(Block=wafv2.BlockAction()),
            Statement=wafv2.Statement(
                RateBasedStatement=wafv2.RateBasedStatement(
                    Limit=env.waf_rate_limit, AggregateKeyType="IP", EvaluationWindowSec=300
                )
            ),
            VisibilityConfig=_visibility("RateLimitPerIp"),
        )
    )
    for group in MANAGED_RULE_GROUPS:
        rules.append(
            wafv2.WebACLRule(
                Name=group,
                Priority=len(rules),
                OverrideAction=wafv2.OverrideAction(**{"None": {}}),
                Statement=wafv2.Statement(
                    ManagedRuleGroupStatement=wafv2.ManagedRuleGroupStatement(VendorName="AWS", Name=group)
                ),
                VisibilityConfig=_visibility(group),
            )
        )
    return t.add_resource(
        wafv2.WebACL(
            "WebAcl",
            Name=web_acl_name(env),
            Description=f"{env.name_prefix}: protects the CloudFront distribution",
            Scope="CLOUDFRONT",
            DefaultAction=wafv2.DefaultAction(Allow=wafv2.AllowAction()),
            Rules=rules,
            VisibilityConfig=_visibility(web_acl_name(env)),
            Tags=tags(env),
        )
    )


def _add_logging(t: Template, env: EnvConfig, acl: wafv2.WebACL) -> wafv2.LoggingConfiguration:
    key = add_log_encryption_key(t, env, "WebAcl")
    # WAF only logs to log groups whose name starts with aws-waf-logs-.
    log_group = t.add_resource(
        retain(logs.LogGroup(
            "WebAclLogGroup",
            LogGroupName=f"aws-waf-logs-{env.name_prefix}",
            RetentionInDays=env.waf_log_retention_days,
            KmsKeyId=GetAtt(key, "Arn"),
            Tags=tags(env),
        ))
    )
    add_output(t, "WebAclLogGroupName", Ref(log_group), "Log group receiving the web ACL's request logs.")
    return t.add_resource(
        wafv2.LoggingConfiguration(
            "WebAclLogging",
            ResourceArn=GetAtt(acl, "Arn"),
            # The destination is the log group ARN without the ":*" that GetAtt Arn appends.
            LogDestinationConfigs=[
                Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Name}",
                    Name=Ref(log_group))
            ],
        )
    )
