"""Monitoring component (us-east-1 and the table's regions): alarm topic, alarms where their metrics live, a dashboard."""

from __future__ import annotations

import json

from awacs import kms as kms_actions
from awacs import sns as sns_actions
from awacs.aws import Allow, Bool, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from troposphere import AccountId, Equals, Not, Ref, Sub, Template
from troposphere import cloudwatch, sns

from templates.common import (
    IS_EDGE_REGION,
    IS_PRIMARY_REGION,
    add_output,
    add_parameter,
    add_region_conditions,
    add_kms_key,
    assert_regions,
    is_any_region,
    new_template,
    origin_bucket_name,
    origin_bucket_name_sub,
    tags,
)
from templates.config import EDGE_REGION, EnvConfig
from templates.edge_functions import FUNCTIONS
from templates.lambda_edge import log_group_name
from templates.waf import web_acl_name

HAS_ALARM_EMAIL = "HasAlarmEmail"
EMAIL_PATTERN = r"^$|^[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}$"
FIVE_MINUTES = 300
NO_DISTRIBUTION = "none"
# The primary region or a replica region: a copy of the edge-config table the edge functions read.
IS_TABLE_REGION = "IsTableRegion"


def build(env: EnvConfig) -> Template:
    """Edge alarms and the dashboard in us-east-1; table and bucket alarms in the primary region;
    each replica's alarms in its region; an alarm topic in each of them."""
    t = new_template(env, "monitoring", "alarms and dashboard")
    add_region_conditions(t, env)
    t.add_condition(IS_TABLE_REGION, is_any_region(env.table_regions))
    assert_regions(
        t, "MonitoredRegion", env.monitored_regions,
        f"The monitoring stack is created in {EDGE_REGION} and the edge-config table's regions "
        f"({', '.join(env.table_regions)}): an alarm can only watch metrics of its own region.",
    )
    distribution_id = add_parameter(
        t, "DistributionId",
        f"Id of the CloudFront distribution; {NO_DISTRIBUTION} outside us-east-1, where no CloudFront alarm exists.",
        Default=NO_DISTRIBUTION, AllowedPattern=f"^({NO_DISTRIBUTION}|[A-Z0-9]{{8,32}})$",
        ConstraintDescription=f"must be a distribution id or {NO_DISTRIBUTION}",
    )
    alarm_email = add_parameter(
        t, "AlarmEmail", "E-mail address subscribed to the alarm topic (empty: no subscription).",
        Default="", AllowedPattern=EMAIL_PATTERN, ConstraintDescription="must be an e-mail address or empty",
    )
    t.add_condition(HAS_ALARM_EMAIL, Not(Equals(Ref(alarm_email), "")))
    topic = _add_alarm_topic(t, env, alarm_email)
    alarms = _Alarms(t, env, topic)
    _add_edge_alarms(alarms, env, distribution_id)
    _add_table_alarms(alarms, env)
    _add_primary_alarms(alarms, env)
    _add_dashboard(t, env, distribution_id)
    return t


def _add_alarm_topic(t: Template, env: EnvConfig, alarm_email) -> sns.Topic:
    # CloudWatch publishes alarm notifications to the encrypted topic.
    cloudwatch_access = Statement(
        Sid="AllowCloudWatchAlarmsToPublish",
        Effect=Allow,
        Principal=Principal("Service", "cloudwatch.amazonaws.com"),
        Action=[kms_actions.Decrypt, kms_actions.GenerateDataKey],
        Resource=["*"],  # in a key policy, "*" means this key
        Condition=Condition(StringEquals({"aws:SourceAccount": AccountId})),
    )
    key = add_kms_key(t, env, "AlarmTopicKey", "the alarm topic", cloudwatch_access)
    topic = t.add_resource(
        sns.Topic(
            "AlarmTopic",
            TopicName=f"{env.name_prefix}-alarms",
            DisplayName=f"{env.name_prefix} CDN alarms",
            KmsMasterKeyId=Ref(key),
            Tags=tags(env),
        )
    )
    t.add_resource(
        sns.TopicPolicy(
            "AlarmTopicPolicy",
            Topics=[Ref(topic)],
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="AllowCloudWatchAlarms",
                        Effect=Allow,
                        Principal=Principal("Service", "cloudwatch.amazonaws.com"),
                        Action=[sns_actions.Publish],
                        Resource=[Ref(topic)],
                        Condition=Condition(StringEquals({"aws:SourceAccount": AccountId})),
                    ),
                    Statement(
                        Sid="DenyInsecureTransport",
                        Effect=Deny,
                        Principal=Principal("*"),
                        Action=[sns_actions.Publish],
                        Resource=[Ref(topic)],
                        Condition=Condition(Bool({"aws:SecureTransport": "false"})),
                    ),
                ],
            ),
        )
    )
    subscription = t.add_resource(
        sns.SubscriptionResource(
            "AlarmEmailSubscription", Protocol="email", Endpoint=Ref(alarm_email), TopicArn=Ref(topic)
        )
    )
    subscription.Condition = HAS_ALARM_EMAIL
    add_output(t, "AlarmTopicArn", Ref(topic), "SNS topic receiving this region's alarms.")
    return topic


class _Alarms:
    """Adds alarms that notify the topic on ALARM and on OK."""

    def __init__(self, t: Template, env: EnvConfig, topic: sns.Topic):
        self.t, self.env, self.topic = t, env, topic

    def add(self, logical_id: str, condition: str, name: str, description: str, **props) -> cloudwatch.Alarm:
        props.setdefault("Period", FIVE_MINUTES)
        props.setdefault("EvaluationPeriods", 3)
        props.setdefault("DatapointsToAlarm", 2)
        props.setdefault("ComparisonOperator", "GreaterThanThreshold")
        props.setdefault("TreatMissingData", "notBreaching")
        alarm = cloudwatch.Alarm(
            logical_id,
            AlarmName=f"{self.env.name_prefix}-{name}",
            AlarmDescription=description,
            AlarmActions=[Ref(self.topic)],
            OKActions=[Ref(self.topic)],
            Tags=tags(self.env),
            **props,
        )
        alarm.Condition = condition
        return self.t.add_resource(alarm)


def _dimensions(**values) -> list[cloudwatch.MetricDimension]:
    return [cloudwatch.MetricDimension(Name=k, Value=v) for k, v in values.items()]


def _add_edge_alarms(alarms: _Alarms, env: EnvConfig, distribution_id) -> None:
    # CloudFront and CLOUDFRONT-scope WAF metrics are published in us-east-1 only, with Region=Global.
    distribution = _dimensions(DistributionId=Ref(distribution_id), Region="Global")
    alarms.add(
        "Cdn5xxErrorRateAlarm", IS_EDGE_REGION, "cloudfront-5xx-rate",
        f"More than {env.error_rate_5xx_percent}% of viewer requests end in a 5xx error.",
        Namespace="AWS/CloudFront", MetricName="5xxErrorRate", Dimensions=distribution,
        Statistic="Average", Threshold=env.error_rate_5xx_percent,
    )
    alarms.add(
        "Cdn4xxErrorRateAlarm", IS_EDGE_REGION, "cloudfront-4xx-rate",
        f"More than {env.error_rate_4xx_percent}% of viewer requests end in a 4xx error.",
        Namespace="AWS/CloudFront", MetricName="4xxErrorRate", Dimensions=distribution,
        Statistic="Average", Threshold=env.error_rate_4xx_percent,
    )
    alarms.add(
        "CdnOriginLatencyAlarm", IS_EDGE_REGION, "cloudfront-origin-latency",
        f"The 90th percentile of origin latency exceeds {env.origin_latency_ms} ms "
        "(an additional metric, enabled by the distribution's monitoring subscription).",
        Namespace="AWS/CloudFront", MetricName="OriginLatency", Dimensions=distribution,
        ExtendedStatistic="p90", Threshold=env.origin_latency_ms,
    )
    example_log_group = log_group_name(env, FUNCTIONS[0])
    for metric in ("LambdaExecutionError", "LambdaValidationError"):
        alarms.add(
            f"Edge{metric}Alarm", IS_EDGE_REGION, f"edge-{metric.removeprefix('Lambda').lower()}",
            f"An edge function failed ({metric}): viewers received an error. The function logs are "
            f"in the region that served the request, e.g. {example_log_group}.",
            Namespace="AWS/CloudFront", MetricName=metric, Dimensions=distribution,
            Statistic="Sum", Threshold=0, EvaluationPeriods=1, DatapointsToAlarm=1,
        )
    alarms.add(
        "WafBlockedRequestsAlarm", IS_EDGE_REGION, "waf-blocked-spike",
        f"The web ACL blocked more than {env.waf_blocked_requests_per_5min} requests in 5 minutes.",
        Namespace="AWS/WAFV2", MetricName="BlockedRequests",
        Dimensions=_dimensions(WebACL=web_acl_name(env), Rule="ALL"),
        Statistic="Sum", Threshold=env.waf_blocked_requests_per_5min,
        EvaluationPeriods=1, DatapointsToAlarm=1,
    )


def _add_table_alarms(alarms: _Alarms, env: EnvConfig) -> None:
    """Each copy of the table (primary and replicas) in its own region: DynamoDB publishes a
    replica's throttles and errors in the replica's region."""
    table = env.edge_config_table_name
    for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
        alarms.add(
            f"Table{metric}Alarm", IS_TABLE_REGION, f"table-{metric.lower()}",
            f"The edge-config table {table} throttled requests in this region ({metric}); writes "
            "here are also the replication of edge-config pushes.",
            Namespace="AWS/DynamoDB", MetricName=metric, Dimensions=_dimensions(TableName=table),
            Statistic="Sum", Threshold=0, EvaluationPeriods=1, DatapointsToAlarm=1,
        )
    # The edge functions read with GetItem from every copy; edge-config pushes write to the primary.
    for operation, condition in (("GetItem", IS_TABLE_REGION), ("TransactWriteItems", IS_PRIMARY_REGION)):
        alarms.add(
            f"Table{operation}SystemErrorsAlarm", condition, f"table-{operation.lower()}-errors",
            f"DynamoDB returned server errors to {operation} on {table} in this region.",
            Namespace="AWS/DynamoDB", MetricName="SystemErrors",
            Dimensions=_dimensions(TableName=table, Operation=operation),
            Statistic="Sum", Threshold=0, EvaluationPeriods=1, DatapointsToAlarm=1,
        )
    # ReplicationLatency is published in the region the write was made in, once per receiving
    # region (dimension ReceivingRegion; DynamoDB developer guide, "Monitoring global tables", and
    # AWS's replication-lag tutorial: read it "in the same AWS Region as your source" table).
    # Edge-config pushes write to the primary table, so these alarms live in the primary region.
    for region in env.replica_regions:
        alarms.add(
            f"TableReplicationLatency{_pascal(region)}Alarm", IS_PRIMARY_REGION,
            f"table-replication-latency-{region}",
            f"Replicating {table} from {env.primary_region} to {region} takes longer than "
            f"{env.replication_latency_ms} ms: edge functions served from {region} read an older "
            "configuration meanwhile.",
            Namespace="AWS/DynamoDB", MetricName="ReplicationLatency",
            Dimensions=_dimensions(TableName=table, ReceivingRegion=region),
            Statistic="Average", Threshold=env.replication_latency_ms,
        )


def _add_primary_alarms(alarms: _Alarms, env: EnvConfig) -> None:
    alarms.add(
        "OriginBucket5xxAlarm", IS_PRIMARY_REGION, "origin-bucket-5xx",
        "The origin bucket answered requests with server errors.",
        Namespace="AWS/S3", MetricName="5xxErrors",
        Dimensions=_dimensions(
            BucketName=origin_bucket_name(env),
            FilterId="EntireBucket",
        ),
        Statistic="Sum", Threshold=0,
    )


def _pascal(region: str) -> str:
    """eu-west-1 -> EuWest1, for logical ids."""
    return "".join(part.capitalize() for part in region.split("-"))


def _add_dashboard(t: Template, env: EnvConfig, distribution_id) -> cloudwatch.Dashboard:
    """One dashboard in us-east-1; each widget names the region its metrics live in."""
    origin_bucket = origin_bucket_name_sub(env)  # inside the dashboard body's Fn::Sub

    def widget(title: str, region: str, metrics: list, y: int, x: int, stat: str = "Sum") -> dict:
        return {
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {"title": title, "region": region, "stat": stat, "period": FIVE_MINUTES,
                           "view": "timeSeries", "metrics": metrics},
        }

    cdn = ["DistributionId", "${DistributionId}", "Region", "Global"]
    widgets = [
        widget("Requests", EDGE_REGION, [["AWS/CloudFront", "Requests", *cdn]], 0, 0),
        widget("Error rates (%)", EDGE_REGION, [["AWS/CloudFront", "5xxErrorRate", *cdn],
                                                ["AWS/CloudFront", "4xxErrorRate", *cdn]], 0, 12, "Average"),
        widget("Edge function errors", EDGE_REGION, [["AWS/CloudFront", "LambdaExecutionError", *cdn],
                                                     ["AWS/CloudFront", "LambdaValidationError", *cdn]], 6, 0),
        widget("WAF blocked requests", EDGE_REGION,
               [["AWS/WAFV2", "BlockedRequests", "WebACL", web_acl_name(env), "Rule", "ALL"]], 6, 12),
        widget("Edge-config table throttles", env.primary_region,
               [["AWS/DynamoDB", m, "TableName", env.edge_config_table_name]
                for m in ("ReadThrottleEvents", "WriteThrottleEvents")], 12, 0),
        widget("Origin bucket errors", env.primary_region,
               [["AWS/S3", m, "BucketName", origin_bucket, "FilterId", "EntireBucket"]
                for m in ("4xxErrors", "5xxErrors")], 12, 12),
    ]
    if env.replica_regions:
        widgets.append(widget(
            "Edge-config replication latency (ms)", env.primary_region,
            [["AWS/DynamoDB", "ReplicationLatency", "TableName", env.edge_config_table_name,
              "ReceivingRegion", region] for region in env.replica_regions], 18, 0, "Average"))
    body = Sub(json.dumps({"widgets": widgets}, sort_keys=True), DistributionId=Ref(distribution_id))
    dashboard = cloudwatch.Dashboard(
        "Dashboard", DashboardName=f"{env.name_prefix}-cdn", DashboardBody=body, Tags=tags(env)
    )
    dashboard.Condition = IS_EDGE_REGION
    t.add_resource(dashboard)
    add_output(t, "DashboardName", Ref(dashboard), "CloudWatch dashboard of the CDN.", condition=IS_EDGE_REGION)
    return dashboard
