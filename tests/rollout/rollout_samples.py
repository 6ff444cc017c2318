"""A small template set that follows the generated output's contract, for tests of the rollout.

The same files as output/<env>/ (root.json and one nested template per component), the same
root parameters (TemplatesBucket, RegionalTemplatesBucketPrefix, TemplatesPrefix, DistributionArn
in two-region environments) and region conditions (the edge functions' log groups in every edge
log region), and every resource type the real builders use, with fewer properties.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from templates.common import MANAGED_BY
from templates.config import EDGE_REGION, EnvConfig

COMPONENTS = ("s3", "dynamodb", "lambda_edge", "waf", "cloudfront", "monitoring")

VIEWER_REQUEST_CODE = (
    "def handler(event, context):\n"
    "    request = event['Records'][0]['cf']['request']\n"
    "    return request\n"
)
ORIGIN_RESPONSE_CODE = (
    "def handler(event, context):\n"
    "    response = event['Records'][0]['cf']['response']\n"
    "    response['headers']['x-edge'] = [{'key': 'X-Edge', 'value': '1'}]\n"
    "    return response\n"
)


def _sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def _ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def _template(description: str, resources: dict[str, Any], outputs: dict[str, Any] | None = None,
              parameters: dict[str, Any] | None = None, conditions: dict[str, Any] | None = None,
              rules: dict[str, Any] | None = None) -> dict[str, Any]:
    t: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Description": description}
    if parameters:
        t["Parameters"] = parameters
    if rules:
        t["Rules"] = rules
    if conditions:
        t["Conditions"] = conditions
    t["Resources"] = resources
    if outputs:
        t["Outputs"] = outputs
    return t


def _output(value: Any, description: str, condition: str | None = None) -> dict[str, Any]:
    out = {"Description": description, "Value": value}
    if condition:
        out["Condition"] = condition
    return out


def _tags(env: EnvConfig) -> list[dict[str, str]]:
    return [{"Key": "Environment", "Value": env.environment}, {"Key": "ManagedBy", "Value": MANAGED_BY},
            {"Key": "Project", "Value": env.project}]


def _origin_bucket_name(env: EnvConfig) -> str:
    return f"{env.name_prefix}-origin-${{AWS::AccountId}}-{env.primary_region}"


def s3(env: EnvConfig) -> dict[str, Any]:
    logs = {
        "Type": "AWS::S3::Bucket", "DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": _sub(f"{env.name_prefix}-logs-${{AWS::AccountId}}-${{AWS::Region}}"),
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "Tags": _tags(env),
        },
    }
    resources: dict[str, Any] = {"LogsBucket": logs}
    outputs = {"LogsBucketName": _output(_ref("LogsBucket"), "Access-logs bucket of this region.")}
    conditions = {"IsPrimaryRegion": {"Fn::Equals": [_ref("AWS::Region"), env.primary_region]}}
    resources["OriginBucketKey"] = {
        "Type": "AWS::KMS::Key", "Condition": "IsPrimaryRegion", "DeletionPolicy": "RetainExceptOnCreate",
        "UpdateReplacePolicy": "Retain",
        "Properties": {"EnableKeyRotation": True, "KeyPolicy": {"Version": "2012-10-17", "Statement": [{
            "Sid": "KeyAdministration", "Effect": "Allow",
            "Principal": {"AWS": _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
            "Action": "kms:*", "Resource": "*"}]}},
    }
    resources["OriginBucketKeyAlias"] = {
        "Type": "AWS::KMS::Alias", "Condition": "IsPrimaryRegion",
        "Properties": {"AliasName": f"alias/{env.name_prefix}-origin", "TargetKeyId": _ref("OriginBucketKey")},
    }
    resources["OriginBucket"] = {
        "Type": "AWS::S3::Bucket", "Condition": "IsPrimaryRegion", "DeletionPolicy": "RetainExceptOnCreate",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": _sub(_origin_bucket_name(env)),
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["OriginBucketKey", "Arn"]}}}]},
            "LoggingConfiguration": {"DestinationBucketName": _ref("LogsBucket"), "LogFilePrefix": "origin/"},
            "Tags": _tags(env),
        },
    }
    resources["OriginBucketPolicy"] = {
        "Type": "AWS::S3::BucketPolicy", "Condition": "IsPrimaryRegion",
        "Properties": {"Bucket": _ref("OriginBucket"), "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "AllowCloudFrontOriginAccessControl", "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [_sub("${OriginBucket.Arn}/*"), {"Fn::GetAtt": ["OriginBucket", "Arn"]}],
            "Condition": {"StringEquals": {"AWS:SourceArn": _ref("DistributionArn")}}}]}},
    }
    outputs["OriginBucketName"] = _output(_ref("OriginBucket"), "Origin bucket.", "IsPrimaryRegion")
    parameters = {"DistributionArn": {"Type": "String", "Default": "",
                                      "Description": "Distribution allowed to read the origin bucket."}}
    return _template(f"{env.name_prefix}: buckets", resources, outputs, parameters, conditions)


def dynamodb(env: EnvConfig) -> dict[str, Any]:
    table = {
        "Type": "AWS::DynamoDB::GlobalTable", "DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "TableName": env.edge_config_table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "config_id", "AttributeType": "S"},
                                     {"AttributeName": "version", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "config_id", "KeyType": "HASH"},
                          {"AttributeName": "version", "KeyType": "RANGE"}],
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "Replicas": [{"Region": region, "DeletionProtectionEnabled": True,
                          "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}
                         for region in env.table_regions],
        },
    }
    return _template(f"{env.name_prefix}: edge-config table", {"EdgeConfigTable": table}, {
        "EdgeConfigTableName": _output(_ref("EdgeConfigTable"), "Edge-config table."),
        "EdgeConfigTableArn": _output({"Fn::GetAtt": ["EdgeConfigTable", "Arn"]}, "Its ARN."),
    })


def _any_region(regions: tuple[str, ...]) -> dict[str, Any]:
    terms = [{"Fn::Equals": [_ref("AWS::Region"), r]} for r in dict.fromkeys(regions)]
    chunks = [terms[i:i + 10] for i in range(0, len(terms), 10)]
    ors = [{"Fn::Or": c} if len(c) > 1 else c[0] for c in chunks]
    return ors[0] if len(ors) == 1 else {"Fn::Or": ors}


def lambda_edge(env: EnvConfig) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "EdgeFunctionRole": {"Type": "AWS::IAM::Role", "Condition": "IsEdgeRegion", "Properties": {
            "RoleName": f"{env.name_prefix}-edge-functions",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}}]},
            "Policies": [{"PolicyName": "logs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": _sub(f"arn:${{AWS::Partition}}:logs:*:${{AWS::AccountId}}:log-group:/{env.project}/*")}]}}],
        }},
    }
    outputs: dict[str, Any] = {}
    for logical, name, code, memory, timeout in (
        ("ViewerRequest", "viewer-request", VIEWER_REQUEST_CODE, env.viewer_request.memory_mb,
         env.viewer_request.timeout_seconds),
        ("OriginResponse", "origin-response", ORIGIN_RESPONSE_CODE, env.origin_response.memory_mb,
         env.origin_response.timeout_seconds),
    ):
        function_name = f"{env.name_prefix}-{name}"
        resources[f"{logical}Function"] = {
            "Type": "AWS::Lambda::Function", "Condition": "IsEdgeRegion", "DeletionPolicy": "RetainExceptOnCreate",
            "Properties": {
                "FunctionName": function_name, "Runtime": "python3.12", "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["EdgeFunctionRole", "Arn"]}, "MemorySize": memory,
                "Timeout": timeout, "Code": {"ZipFile": code},
                "LoggingConfig": {"LogGroup": _ref(f"{logical}LogGroup")},
            },
        }
        version = f"{logical}Version{hashlib.sha256(code.encode()).hexdigest()[:10]}"
        resources[version] = {"Type": "AWS::Lambda::Version", "Condition": "IsEdgeRegion",
                              "DeletionPolicy": "RetainExceptOnCreate",
                              "Properties": {"FunctionName": _ref(f"{logical}Function")}}
        # In every region the template is created in: where the function runs, it logs here.
        resources[f"{logical}LogGroup"] = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "RetainExceptOnCreate",
                                           "UpdateReplacePolicy": "Retain", "Properties": {
            "LogGroupName": f"/{env.project}/{env.environment}/lambda-edge/{name}",
            "RetentionInDays": env.function_log_retention_days,
            "KmsKeyId": {"Fn::GetAtt": ["LogsKey", "Arn"]}, "Tags": _tags(env)}}
        outputs[f"{logical}VersionArn"] = _output(_ref(version), f"Numbered version of {name}.", "IsEdgeRegion")
    resources["LogsKey"] = {
        "Type": "AWS::KMS::Key", "DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain",
        "Properties": {"EnableKeyRotation": True, "KeyPolicy": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"Service": _sub("logs.${AWS::Region}.amazonaws.com")},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": "*"}]}}}
    rules = {"EdgeLogRegion": {"Assertions": [{
        "Assert": {"Fn::Contains": [list(env.edge_log_regions), _ref("AWS::Region")]},
        "AssertDescription": "Created where the edge functions log"}]}}
    conditions = {"IsEdgeRegion": {"Fn::Equals": [_ref("AWS::Region"), EDGE_REGION]}}
    return _template(f"{env.name_prefix}: edge functions", resources, outputs, rules=rules, conditions=conditions)


def waf(env: EnvConfig) -> dict[str, Any]:
    visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True}
    resources = {
        "WebAcl": {"Type": "AWS::WAFv2::WebACL", "Properties": {
            "Name": f"{env.name_prefix}-web-acl", "Scope": "CLOUDFRONT", "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {**visibility, "MetricName": f"{env.name_prefix}-web-acl"},
            "Rules": [
                {"Name": "RateLimit", "Priority": 0, "Action": {"Block": {}},
                 "Statement": {"RateBasedStatement": {"Limit": env.waf_rate_limit, "AggregateKeyType": "IP"}},
                 "VisibilityConfig": {**visibility, "MetricName": "RateLimit"}},
                {"Name": "CommonRules", "Priority": 1, "OverrideAction": {"None": {}},
                 "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}},
                 "VisibilityConfig": {**visibility, "MetricName": "CommonRules"}},
            ],
        }},
        "WafLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": f"aws-waf-logs-{env.name_prefix}", "RetentionInDays": env.waf_log_retention_days}},
        "WafLogging": {"Type": "AWS::WAFv2::LoggingConfiguration", "Properties": {
            "ResourceArn": {"Fn::GetAtt": ["WebAcl", "Arn"]},
            "LogDestinationConfigs": [{"Fn::GetAtt": ["WafLogGroup", "Arn"]}]}},
    }
    return _template(f"{env.name_prefix}: web ACL", resources,
                     {"WebAclArn": _output({"Fn::GetAtt": ["WebAcl", "Arn"]}, "Web ACL.")})


def cloudfront(env: EnvConfig) -> dict[str, Any]:
    parameters = {name: {"Type": "String", "Description": name} for name in
                  ("WebAclArn", "ViewerRequestVersionArn", "OriginResponseVersionArn")}
    resources: dict[str, Any] = {
        # CloudFront standard logging checks that its bucket exists when the distribution is
        # created: the bucket lives in this stack (a sibling stack would need a dependency
        # cycle with the s3 stack in a single-region environment).
        "DistributionLogsBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "RetainExceptOnCreate",
                                   "UpdateReplacePolicy": "Retain", "Properties": {
            "BucketName": _sub(f"{env.name_prefix}-cf-logs-${{AWS::AccountId}}"),
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}},
        "OriginAccessControl": {"Type": "AWS::CloudFront::OriginAccessControl", "Properties": {
            "OriginAccessControlConfig": {"Name": f"{env.name_prefix}-origin", "OriginAccessControlOriginType": "s3",
                                          "SigningBehavior": "always", "SigningProtocol": "sigv4"}}},
        "CachePolicy": {"Type": "AWS::CloudFront::CachePolicy", "Properties": {"CachePolicyConfig": {
            "Name": f"{env.name_prefix}-cache", "MinTTL": 0, "DefaultTTL": 86400, "MaxTTL": 31536000,
            "ParametersInCacheKeyAndForwardedToOrigin": {
                "EnableAcceptEncodingGzip": True, "EnableAcceptEncodingBrotli": True,
                "CookiesConfig": {"CookieBehavior": "none"}, "HeadersConfig": {"HeaderBehavior": "none"},
                "QueryStringsConfig": {"QueryStringBehavior": "none"}}}}},
        "OriginRequestPolicy": {"Type": "AWS::CloudFront::OriginRequestPolicy", "Properties": {
            "OriginRequestPolicyConfig": {"Name": f"{env.name_prefix}-origin-request",
                                          "CookiesConfig": {"CookieBehavior": "none"},
                                          "HeadersConfig": {"HeaderBehavior": "none"},
                                          "QueryStringsConfig": {"QueryStringBehavior": "none"}}}},
        "ResponseHeadersPolicy": {"Type": "AWS::CloudFront::ResponseHeadersPolicy", "Properties": {
            "ResponseHeadersPolicyConfig": {"Name": f"{env.name_prefix}-headers", "SecurityHeadersConfig": {
                "ContentSecurityPolicy": {"ContentSecurityPolicy": env.content_security_policy, "Override": True},
                "StrictTransportSecurity": {"AccessControlMaxAgeSec": 63072000, "IncludeSubdomains": True,
                                            "Override": True}}}}},
    }
    distribution_config: dict[str, Any] = {
        "Enabled": True, "Comment": env.name_prefix, "HttpVersion": "http2and3", "IPV6Enabled": True,
        "PriceClass": env.price_class.value, "DefaultRootObject": env.default_root_object,
        "WebACLId": _ref("WebAclArn"),
        "Origins": [{"Id": "origin", "DomainName": _sub(f"{_origin_bucket_name(env)}.s3.{env.primary_region}.${{AWS::URLSuffix}}"),
                     "S3OriginConfig": {"OriginAccessIdentity": ""},
                     "OriginAccessControlId": {"Fn::GetAtt": ["OriginAccessControl", "Id"]}}],
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin", "ViewerProtocolPolicy": "redirect-to-https", "Compress": True,
            "CachePolicyId": _ref("CachePolicy"), "OriginRequestPolicyId": _ref("OriginRequestPolicy"),
            "ResponseHeadersPolicyId": _ref("ResponseHeadersPolicy"),
            "LambdaFunctionAssociations": [
                {"EventType": "viewer-request", "LambdaFunctionARN": _ref("ViewerRequestVersionArn")},
                {"EventType": "origin-response", "LambdaFunctionARN": _ref("OriginResponseVersionArn")}],
        },
        "Logging": {"Bucket": {"Fn::GetAtt": ["DistributionLogsBucket", "DomainName"]}, "Prefix": "cloudfront/",
                    "IncludeCookies": False},
    }
    if env.waf_blocked_countries:
        distribution_config["Restrictions"] = {"GeoRestriction": {
            "RestrictionType": "blacklist", "Locations": list(env.waf_blocked_countries)}}
    # Custom domains (per account) are left to the tests of the generated templates.
    distribution_config["ViewerCertificate"] = {"CloudFrontDefaultCertificate": True}
    resources["Distribution"] = {"Type": "AWS::CloudFront::Distribution",
                                 "Properties": {"DistributionConfig": distribution_config, "Tags": _tags(env)}}
    outputs = {
        "DistributionId": _output(_ref("Distribution"), "Distribution id."),
        "DistributionArn": _output(_sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"),
                                   "Distribution ARN."),
        "DistributionDomainName": _output({"Fn::GetAtt": ["Distribution", "DomainName"]}, "Domain name."),
    }
    return _template(f"{env.name_prefix}: distribution", resources, outputs, parameters)


def monitoring(env: EnvConfig) -> dict[str, Any]:
    conditions = {"IsEdgeRegion": {"Fn::Equals": [_ref("AWS::Region"), EDGE_REGION]},
                  "HasEmail": {"Fn::Not": [{"Fn::Equals": [_ref("AlarmEmail"), ""]}]}}
    resources: dict[str, Any] = {
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": _sub(f"{env.name_prefix}-alarms-${{AWS::Region}}")}},
        "AlarmTopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [_ref("AlarmTopic")], "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish", "Resource": _ref("AlarmTopic")}]}}},
        "AlarmEmailSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasEmail", "Properties": {
            "TopicArn": _ref("AlarmTopic"), "Protocol": "email", "Endpoint": _ref("AlarmEmail")}},
        "Distribution5xxAlarm": {"Type": "AWS::CloudWatch::Alarm", "Condition": "IsEdgeRegion", "Properties": {
            "AlarmName": f"{env.name_prefix}-5xx", "Namespace": "AWS/CloudFront", "MetricName": "5xxErrorRate",
            "Dimensions": [{"Name": "DistributionId", "Value": _ref("DistributionId")},
                           {"Name": "Region", "Value": "Global"}],
            "Statistic": "Average", "Period": 300, "EvaluationPeriods": 2,
            "Threshold": env.error_rate_5xx_percent, "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching", "AlarmActions": [_ref("AlarmTopic")]}},
        **{f"Table{metric}Alarm": {"Type": "AWS::CloudWatch::Alarm", "Condition": "IsTableRegion", "Properties": {
            "AlarmName": f"{env.name_prefix}-table-{metric.lower()}",
            "Namespace": "AWS/DynamoDB", "MetricName": metric,
            "Dimensions": [{"Name": "TableName", "Value": env.edge_config_table_name}],
            "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
            "AlarmActions": [_ref("AlarmTopic")]}}
           for metric in ("ReadThrottleEvents", "WriteThrottleEvents", "SystemErrors")},
        **{f"TableReplicationLatency{i}Alarm": {"Type": "AWS::CloudWatch::Alarm", "Condition": "IsPrimary",
                                               "Properties": {
            "AlarmName": f"{env.name_prefix}-table-replication-latency-{region}",
            "Namespace": "AWS/DynamoDB", "MetricName": "ReplicationLatency",
            "Dimensions": [{"Name": "TableName", "Value": env.edge_config_table_name},
                           {"Name": "ReceivingRegion", "Value": region}],
            "Statistic": "Average", "Period": 300, "EvaluationPeriods": 1, "Threshold": 60000,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
            "AlarmActions": [_ref("AlarmTopic")]}}
           for i, region in enumerate(env.replica_regions)},
        "Dashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
            "DashboardName": _sub(f"{env.name_prefix}-${{AWS::Region}}"),
            "DashboardBody": json.dumps({"widgets": []})}},
    }
    conditions["IsPrimary"] = {"Fn::Equals": [_ref("AWS::Region"), env.primary_region]}
    conditions["IsTableRegion"] = _any_region(env.table_regions)
    parameters = {"DistributionId": {"Type": "String", "Default": "", "Description": "Distribution id (edge)."},
                  "AlarmEmail": {"Type": "String", "Default": "", "Description": "Alarm e-mail."}}
    return _template(f"{env.name_prefix}: alarms", resources,
                     {"AlarmTopicArn": _output(_ref("AlarmTopic"), "Alarm topic.")}, parameters, conditions)


def root(env: EnvConfig) -> dict[str, Any]:
    def nested(component: str, condition: str | None, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        resource: dict[str, Any] = {"Type": "AWS::CloudFormation::Stack", "Properties": {
            "TemplateURL": {"Fn::Sub": ["https://${Bucket}.s3.${AWS::Region}.${AWS::URLSuffix}/"
                                        f"${{TemplatesPrefix}}{component}.json", {"Bucket": {"Fn::If": [
                                            "RegionalBucket", _sub("${RegionalTemplatesBucketPrefix}${AWS::Region}"),
                                            _ref("TemplatesBucket")]}}]}}}
        if parameters:
            resource["Properties"]["Parameters"] = parameters
        if condition:
            resource["Condition"] = condition
        return resource

    parameters: dict[str, Any] = {
        "TemplatesBucket": {"Type": "String", "Description": "Template bucket of this region."},
        "RegionalTemplatesBucketPrefix": {"Type": "String", "Default": "",
                                          "Description": "Start of each region's template bucket name."},
        "TemplatesPrefix": {"Type": "String", "Default": "", "Description": "Key prefix, ending in /."},
        "AlarmEmail": {"Type": "String", "Default": env.alarm_email or "", "Description": "Alarm e-mail."},
    }
    conditions = {"IsEdgeRegion": {"Fn::Equals": [_ref("AWS::Region"), EDGE_REGION]},
                  "IsPrimaryRegion": {"Fn::Equals": [_ref("AWS::Region"), env.primary_region]},
                  "IsEdgeLogRegion": _any_region(env.edge_log_regions),
                  "IsMonitoredRegion": _any_region(env.monitored_regions),
                  "RegionalBucket": {"Fn::Not": [{"Fn::Equals": [_ref("RegionalTemplatesBucketPrefix"), ""]}]}}
    rules = None
    if env.single_region:
        distribution_arn: Any = {"Fn::GetAtt": ["CloudFrontStack", "Outputs.DistributionArn"]}
    else:
        parameters["DistributionArn"] = {"Type": "String", "Default": "",
                                         "Description": "Distribution ARN from the us-east-1 stack (primary region)."}
        distribution_arn = _ref("DistributionArn")
        rules = {"PrimaryNeedsDistribution": {
            "RuleCondition": {"Fn::Equals": [_ref("AWS::Region"), env.primary_region]},
            "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Equals": [_ref("DistributionArn"), ""]}]},
                            "AssertDescription": "DistributionArn is required in the primary region"}]}}
    resources: dict[str, Any] = {
        "LogsStack": nested("s3", "IsMonitoredRegion",
                            {"DistributionArn": {"Fn::If": ["IsPrimaryRegion", distribution_arn, ""]}}),
        "DynamoDbStack": nested("dynamodb", "IsPrimaryRegion"),
        "LambdaEdgeStack": nested("lambda_edge", "IsEdgeLogRegion"),
        "WafStack": nested("waf", "IsEdgeRegion"),
        "CloudFrontStack": nested("cloudfront", "IsEdgeRegion", {
            "WebAclArn": {"Fn::GetAtt": ["WafStack", "Outputs.WebAclArn"]},
            "ViewerRequestVersionArn": {"Fn::GetAtt": ["LambdaEdgeStack", "Outputs.ViewerRequestVersionArn"]},
            "OriginResponseVersionArn": {"Fn::GetAtt": ["LambdaEdgeStack", "Outputs.OriginResponseVersionArn"]},
        }),
        "MonitoringStack": nested("monitoring", "IsMonitoredRegion", {
            "DistributionId": {"Fn::If": ["IsEdgeRegion", {"Fn::GetAtt": ["CloudFrontStack", "Outputs.DistributionId"]}, ""]},
            "AlarmEmail": _ref("AlarmEmail")}),
    }
    outputs = {
        "DistributionId": _output({"Fn::GetAtt": ["CloudFrontStack", "Outputs.DistributionId"]}, "Distribution id.", "IsEdgeRegion"),
        "DistributionArn": _output({"Fn::GetAtt": ["CloudFrontStack", "Outputs.DistributionArn"]}, "Distribution ARN.", "IsEdgeRegion"),
        "DistributionDomainName": _output({"Fn::GetAtt": ["CloudFrontStack", "Outputs.DistributionDomainName"]}, "Domain.", "IsEdgeRegion"),
        "WebAclArn": _output({"Fn::GetAtt": ["WafStack", "Outputs.WebAclArn"]}, "Web ACL.", "IsEdgeRegion"),
        "ViewerRequestVersionArn": _output({"Fn::GetAtt": ["LambdaEdgeStack", "Outputs.ViewerRequestVersionArn"]}, "Version.", "IsEdgeRegion"),
        "OriginResponseVersionArn": _output({"Fn::GetAtt": ["LambdaEdgeStack", "Outputs.OriginResponseVersionArn"]}, "Version.", "IsEdgeRegion"),
        "OriginBucketName": _output({"Fn::GetAtt": ["LogsStack", "Outputs.OriginBucketName"]}, "Origin bucket.", "IsPrimaryRegion"),
        "EdgeConfigTableName": _output({"Fn::GetAtt": ["DynamoDbStack", "Outputs.EdgeConfigTableName"]}, "Table.", "IsPrimaryRegion"),
    }
    return _template(f"{env.name_prefix}: edge CDN (root)", resources, outputs, parameters, conditions, rules)


def render(env: EnvConfig) -> dict[str, bytes]:
    """File name -> bytes, like templates.build.render_environment."""
    builders = {"s3": s3, "dynamodb": dynamodb, "lambda_edge": lambda_edge, "waf": waf,
                "cloudfront": cloudfront, "monitoring": monitoring}
    files = {f"{name}.json": build(env) for name, build in builders.items()}
    files["root.json"] = root(env)
    return {name: (json.dumps(body, indent=2, sort_keys=True) + "\n").encode() for name, body in sorted(files.items())}


def write(env: EnvConfig, directory: Any) -> dict[str, bytes]:
    """Write the set into `directory` (output/<env>/ layout) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    files = render(env)
    for name, body in files.items():
        (directory / name).write_bytes(body)
    return files
