"""AWS::CloudWatch::Alarm for moto's CloudFormation, backed by moto's CloudWatch (PutMetricAlarm)."""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
from moto.core.common_models import CloudFormationModel

from rollout.moto_models.base import EmulatedResource, ResourceFailed, as_bool, tag_list


def _metric_queries(metrics: list[dict[str, Any]]) -> list[MetricDataQuery] | None:
    if not metrics:
        return None
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat")
        metric_stat = None
        if stat:
            inner = stat["Metric"]
            metric_stat = MetricStat(
                metric=Metric(metric_name=inner["MetricName"], namespace=inner.get("Namespace"),
                              dimensions=[Dimension(d["Name"], d["Value"]) for d in inner.get("Dimensions") or []]),
                period=stat.get("Period"), stat=stat.get("Stat"), unit=stat.get("Unit"))
        queries.append(MetricDataQuery(query_id=metric["Id"], label=metric.get("Label"),
                                       period=metric.get("Period"), return_data=metric.get("ReturnData"),
                                       expression=metric.get("Expression"), metric_stat=metric_stat))
    return queries


class EmulatedAlarm(EmulatedResource, CloudFormationModel):
    """DescribeAlarms returns the alarm with its actions and dimensions."""

    ATTRIBUTES = ("Arn",)

    def __init__(self, account_id: str, region_name: str, alarm: Any):
        self.account_id = account_id
        self.region_name = region_name
        self.alarm = alarm

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @property
    def physical_resource_id(self) -> str:
        return self.alarm.name

    def attribute(self, name: str) -> Any:
        return self.alarm.alarm_arn

    @classmethod
    def _put(cls, name: str, properties: dict[str, Any], account_id: str, region_name: str) -> "EmulatedAlarm":
        actions = [*(properties.get("AlarmActions") or []), *(properties.get("OKActions") or []),
                   *(properties.get("InsufficientDataActions") or [])]
        for action in actions:
            # CloudWatch only notifies SNS topics of its own region.
            if action.startswith("arn:aws:sns:") and action.split(":")[3] != region_name:
                raise ResourceFailed(cls.cloudformation_type(), f"ValidationError: Invalid region "
                                     f"{action.split(':')[3]} specified. Only {region_name} is supported.")
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=properties.get("Namespace"),
            metric_name=properties.get("MetricName"),
            metric_data_queries=_metric_queries(properties.get("Metrics") or []),
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            datapoints_to_alarm=int(properties["DatapointsToAlarm"]) if "DatapointsToAlarm" in properties else None,
            period=int(properties["Period"]) if "Period" in properties else None,
            threshold=float(properties["Threshold"]) if "Threshold" in properties else None,
            statistic=properties.get("Statistic"),
            extended_statistic=properties.get("ExtendedStatistic"),
            description=properties.get("AlarmDescription"),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in properties.get("Dimensions") or []],
            alarm_actions=list(properties.get("AlarmActions") or []),
            ok_actions=list(properties.get("OKActions") or []),
            insufficient_data_actions=list(properties.get("InsufficientDataActions") or []),
            unit=properties.get("Unit"),
            actions_enabled=as_bool(properties.get("ActionsEnabled", True)),
            treat_missing_data=properties.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=properties.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=properties.get("ThresholdMetricId"),
            tags=tag_list(properties),
        )
        return cls(account_id, region_name, alarm)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedAlarm":
        properties = cloudformation_json["Properties"]
        return cls._put(properties.get("AlarmName", resource_name), properties, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedAlarm":
        properties = cloudformation_json["Properties"]
        name = properties.get("AlarmName", original_resource.alarm.name)
        new = cls._put(name, properties, account_id, region_name)
        if name != original_resource.alarm.name:
            original_resource.remove()
        return new

    def remove(self) -> None:
        cloudwatch_backends[self.account_id][self.region_name].delete_alarms([self.alarm.name])
