"""Root template: the components as nested stacks, chosen per region, wired by parameters."""

from __future__ import annotations

from typing import Callable

from troposphere import AccountId, And, Condition, Equals, GetAtt, If, Not, Ref, Region, Sub, Template
from troposphere.cloudformation import Stack

from templates.common import (
    IS_EDGE_LOG_REGION,
    IS_EDGE_REGION,
    IS_MONITORED_REGION,
    IS_PRIMARY_REGION,
    add_output,
    add_parameter,
    add_region_conditions,
    is_any_account,
    is_any_region,
    new_template,
    origin_bucket_domain,
    tags,
)
from templates.config import EDGE_REGION, DomainConfig, EnvConfig
from templates.edge_functions import FUNCTIONS
from templates.lambda_edge import CODE_BUCKET_PARAMETER, version_output_name
from templates.monitoring import EMAIL_PATTERN, NO_DISTRIBUTION
from templates.s3 import ACCOUNT_ID_OR_EMPTY_PATTERN, DISTRIBUTION_ARN_PATTERN

# The route53 stack exists in us-east-1 for the accounts with a domain; its outputs where they apply.
DNS_HERE = "IsEdgeRegionWithDomain"
NEW_ZONE_HERE = "IsEdgeRegionCreatingZone"
ALIASES_HERE = "IsEdgeRegionServingAliases"
# The templates are in <RegionalTemplatesBucketPrefix><region> rather than in TemplatesBucket.
REGIONAL_TEMPLATES_BUCKET = "UsesRegionalTemplatesBucket"

# Nested stacks in the order the components are described; each is output/<env>/<name>.json.
COMPONENTS = ("s3", "dynamodb", "lambda_edge", "waf", "cloudfront", "route53", "monitoring")


def components(env: EnvConfig) -> tuple[str, ...]:
    """The components this environment has: route53 only when some account has a domain."""
    return tuple(c for c in COMPONENTS if c != "route53" or env.has_domain)


def build(env: EnvConfig) -> Template:
    """The root: edge components in us-east-1, regional ones in the primary region, the edge
    functions' log groups in every edge log region, alarms in every region of the table."""
    t = new_template(env, "root", "CloudFront edge stack")
    add_region_conditions(t, env)
    t.add_condition(IS_EDGE_LOG_REGION, is_any_region(env.edge_log_regions))
    t.add_condition(IS_MONITORED_REGION, is_any_region(env.monitored_regions))
    bucket = add_parameter(
        t, "TemplatesBucket",
        "Bucket holding the component templates, in the region where this stack is created "
        "(unless RegionalTemplatesBucketPrefix is set).",
        # No dots: the nested TemplateURL is virtual-hosted HTTPS, whose certificate (*.s3...)
        # does not cover a bucket name with dots.
        AllowedPattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
        ConstraintDescription="must be an S3 bucket name without dots",
    )
    regional_prefix = add_parameter(
        t, "RegionalTemplatesBucketPrefix",
        "With one templates bucket per region named <prefix><region> (deploy.py bootstrap creates "
        "them), that prefix: each stack then reads its own region's bucket. Empty: TemplatesBucket.",
        Default="", AllowedPattern=r"^$|^[a-z0-9][a-z0-9-]{1,46}-$",
        ConstraintDescription="must be empty or the start of a bucket name, ending with -",
    )
    # A nested TemplateURL must name a bucket in the stack's own region, and a stack-set operation
    # gives every region the same parameter values: the region completes the bucket name.
    t.add_condition(REGIONAL_TEMPLATES_BUCKET, Not(Equals(Ref(regional_prefix), "")))
    templates_bucket = If(REGIONAL_TEMPLATES_BUCKET, Sub("${RegionalTemplatesBucketPrefix}${AWS::Region}"),
                          Ref(bucket))
    prefix = add_parameter(
        t, "TemplatesPrefix",
        "Key prefix of the component templates in that bucket, ending with a slash (may be empty).",
        Default=f"{env.project}/{env.environment}/",
        AllowedPattern=r"^([A-Za-z0-9!_.*'()-]+/)*$",
        ConstraintDescription="must be empty or a key prefix ending with /",
    )
    alarm_email = add_parameter(
        t, "AlarmEmail", "E-mail address that receives the alarms (empty: none).",
        Default=env.alarm_email or "", AllowedPattern=EMAIL_PATTERN,
        ConstraintDescription="must be an e-mail address or empty",
    )
    publisher_account = add_parameter(
        t, "SitePublisherAccount",
        "Account whose principals may assume the site publisher role to upload the site (deploy.py "
        "sets the account it deploys from); empty: this stack's own account.",
        Default="", AllowedPattern=ACCOUNT_ID_OR_EMPTY_PATTERN,
        ConstraintDescription="must be empty or a 12-digit account id",
    )
    groups = [("Component templates", [bucket, regional_prefix, prefix]), ("Alarms", [alarm_email]),
              ("Site publishing", [publisher_account])]
    labels = {bucket: "Templates bucket", regional_prefix: "Prefix of the templates bucket of each region",
              prefix: "Templates key prefix", alarm_email: "Alarm e-mail",
              publisher_account: "Site publisher account"}
    rules = {
        "SupportedRegion": {
            "Assertions": [{
                "Assert": {"Fn::Contains": [list(env.regions), Region]},
                "AssertDescription": f"This environment deploys only to {', '.join(env.regions)}.",
            }]
        },
        # Per-account settings (domains) are chosen by account id: another account would silently
        # get none of them, so a stack there fails before it creates anything.
        "ConfiguredAccount": {
            "Assertions": [{
                "Assert": {"Fn::Contains": [list(env.deploy.accounts), AccountId]},
                "AssertDescription": f"This environment deploys only to the accounts of "
                                     f"{env.source.name}: {', '.join(env.deploy.accounts)}.",
            }]
        },
    }

    def nested(name: str, condition: str | None, parameters: dict | None = None) -> Stack:
        stack = Stack(
            _stack_id(name),
            TemplateURL=Sub(
                "https://${Bucket}.s3.${AWS::Region}.${AWS::URLSuffix}/${Prefix}" + f"{name}.json",
                Bucket=templates_bucket, Prefix=Ref(prefix),
            ),
            Tags=tags(env),
            # Deleting a nested stack deletes its resources except those that retain themselves
            # (buckets, table, keys, logs, function versions): said explicitly, as cfn-lint asks.
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
        )
        if parameters:
            stack.Parameters = parameters
        if condition:
            stack.Condition = condition
        return t.add_resource(stack)

    # Functions in us-east-1, their log groups wherever they may run and log.
    # The functions' packages are in the templates bucket of us-east-1, where the functions are
    # (Lambda reads a package only from a bucket of the function's region).
    lambda_edge = nested("lambda_edge", IS_EDGE_LOG_REGION, {CODE_BUCKET_PARAMETER: templates_bucket})
    waf = nested("waf", IS_EDGE_REGION)
    cloudfront = nested("cloudfront", IS_EDGE_REGION, {
        "WebAclArn": GetAtt(waf, "Outputs.WebAclArn"),
        "OriginDomainName": origin_bucket_domain(env),
        **{version_output_name(spec): GetAtt(lambda_edge, f"Outputs.{version_output_name(spec)}")
           for spec in FUNCTIONS},
    })
    if env.has_domain:
        _add_dns(t, env, nested, cloudfront)

    if env.single_region:
        distribution_arn = GetAtt(cloudfront, "Outputs.DistributionArn")
    else:
        # Exports do not cross regions: the edge instance's DistributionArn output reaches the
        # primary instance as a stack-set parameter override (deploy.py does it).
        distribution_arn_parameter = add_parameter(
            t, "DistributionArn",
            f"ARN of the distribution created by the {EDGE_REGION} instance; required in "
            f"{env.primary_region}, where the origin bucket policy allows only it.",
            Default="", AllowedPattern=f"^$|{DISTRIBUTION_ARN_PATTERN}",
            ConstraintDescription="must be empty or a CloudFront distribution ARN",
        )
        distribution_arn = Ref(distribution_arn_parameter)
        groups.insert(1, ("Cross-region wiring", [distribution_arn_parameter]))
        labels[distribution_arn_parameter] = "Distribution ARN (from the us-east-1 stack)"
        rules["DistributionArnInPrimaryRegion"] = {
            "RuleCondition": Equals(Region, env.primary_region),
            "Assertions": [{
                "Assert": Not(Equals(Ref(distribution_arn_parameter), "")),
                "AssertDescription": f"In {env.primary_region}, DistributionArn must be the ARN that "
                                     f"the {EDGE_REGION} stack outputs as DistributionArn.",
            }],
        }
    s3 = nested("s3", IS_PRIMARY_REGION, {"DistributionArn": distribution_arn,
                                          "SitePublisherAccount": Ref(publisher_account)})
    dynamodb = nested("dynamodb", IS_PRIMARY_REGION)
    # Monitoring exists in us-east-1 and in each region of the table; it chooses its alarms by
    # region itself.
    distribution_id = GetAtt(cloudfront, "Outputs.DistributionId")
    monitoring = nested("monitoring", IS_MONITORED_REGION, {
        "DistributionId": distribution_id if env.monitored_regions == (EDGE_REGION,)
        else If(IS_EDGE_REGION, distribution_id, NO_DISTRIBUTION),
        "AlarmEmail": Ref(alarm_email),
    })

    for name, value in rules.items():
        t.add_rule(name, value)
    _add_outputs(t, env, lambda_edge, waf, cloudfront, s3, dynamodb, monitoring)
    t.set_metadata({
        "AWS::CloudFormation::Interface": {
            "ParameterGroups": [
                {"Label": {"default": label}, "Parameters": [p.title for p in params]}
                for label, params in groups
            ],
            "ParameterLabels": {p.title: {"default": text} for p, text in labels.items()},
        }
    })
    return t


def _add_dns(t: Template, env: EnvConfig, nested: Callable[..., Stack], cloudfront: Stack) -> None:
    """The route53 stack, in us-east-1 for the accounts with a domain, and its outputs there."""
    def accounts(keep: Callable[[DomainConfig], bool]) -> list[str]:
        return [account for account, domain in env.account_domains if keep(domain)]

    def in_edge_region_for(name: str, chosen: list[str]) -> str:
        t.add_condition(name, And(Condition(IS_EDGE_REGION), is_any_account(chosen)))
        return name

    serving = accounts(lambda d: bool(d.aliases))
    new_zones = accounts(lambda d: d.creates_zone)
    parameters = {"DistributionDomainName": GetAtt(cloudfront, "Outputs.DistributionDomainName")} \
        if serving else None
    route53 = nested("route53", in_edge_region_for(DNS_HERE, accounts(lambda d: True)), parameters)
    if new_zones:
        add_output(t, "NameServers", GetAtt(route53, "Outputs.NameServers"),
                   "Delegate this account's new zone to these name servers, then set its hosted_zone_id.",
                   condition=in_edge_region_for(NEW_ZONE_HERE, new_zones))
    if serving:
        add_output(t, "SiteUrl", GetAtt(route53, "Outputs.SiteUrl"), "This account's site address.",
                   condition=in_edge_region_for(ALIASES_HERE, serving))


def _stack_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Stack"


def _add_outputs(t: Template, env: EnvConfig, lambda_edge, waf, cloudfront, s3, dynamodb, monitoring) -> None:
    edge = [
        ("DistributionId", cloudfront, "Id of the CloudFront distribution."),
        ("DistributionArn", cloudfront, "ARN of the distribution; pass it as DistributionArn to the "
                                        f"{env.primary_region} stack."),
        ("DistributionDomainName", cloudfront, "The distribution's *.cloudfront.net domain name."),
        ("WebAclArn", waf, "ARN of the web ACL attached to the distribution."),
        *[(version_output_name(spec), lambda_edge, f"Numbered version of the {spec.event_type} function.")
          for spec in FUNCTIONS],
    ]
    primary = [
        ("OriginBucketName", s3, "Upload the site's content to this bucket."),
        ("LogsBucketName", s3, "Bucket receiving the origin bucket's access logs."),
        ("EdgeConfigTableName", dynamodb, "Push the edge configuration to this table."),
        ("SitePublisherRoleArn", s3, "Role that deploy.py site assumes to upload the site."),
    ]
    for name, stack, description in edge:
        add_output(t, name, GetAtt(stack, f"Outputs.{name}"), description, condition=IS_EDGE_REGION)
    for name, stack, description in primary:
        add_output(t, name, GetAtt(stack, f"Outputs.{name}"), description, condition=IS_PRIMARY_REGION)
    add_output(t, "AlarmTopicArn", GetAtt(monitoring, "Outputs.AlarmTopicArn"),
               "SNS topic receiving this region's alarms.", condition=IS_MONITORED_REGION)
