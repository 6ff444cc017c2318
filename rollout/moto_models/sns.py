"""AWS::SNS::TopicPolicy and AWS::SNS::Subscription for moto's CloudFormation, backed by moto's SNS."""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sns.models import sns_backends

from rollout.moto_models.base import EmulatedResource, ResourceFailed


def _topic_backend(account_id: str, topic_arn: str) -> Any:
    return sns_backends[account_id][topic_arn.split(":")[3]]


class EmulatedTopicPolicy(EmulatedResource, CloudFormationModel):
    """Sets each topic's Policy attribute (GetTopicAttributes returns it)."""

    def __init__(self, account_id: str, topics: list[str], previous: dict[str, str], resource_name: str):
        self.account_id = account_id
        self.topics = topics
        self.previous = previous
        self.resource_name = resource_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @property
    def physical_resource_id(self) -> str:
        return self.resource_name

    @classmethod
    def _apply(cls, properties: dict[str, Any], account_id: str) -> dict[str, str]:
        document = properties["PolicyDocument"]
        text = document if isinstance(document, str) else json.dumps(document)
        previous = {}
        for arn in properties["Topics"]:
            try:
                topic = _topic_backend(account_id, arn).get_topic(arn)
            except Exception:
                raise ResourceFailed(cls.cloudformation_type(), f"NotFound: Topic does not exist: {arn}") from None
            previous[arn] = topic.policy
            topic.policy = text
        return previous

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedTopicPolicy":
        properties = cloudformation_json["Properties"]
        previous = cls._apply(properties, account_id)
        return cls(account_id, list(properties["Topics"]), previous, resource_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedTopicPolicy":
        properties = cloudformation_json["Properties"]
        previous = cls._apply(properties, account_id)
        for arn in set(original_resource.topics) - set(properties["Topics"]):
            original_resource._restore(arn)
        merged = {**previous, **{k: v for k, v in original_resource.previous.items() if k in previous}}
        return cls(account_id, list(properties["Topics"]), merged, original_resource.resource_name)

    def _restore(self, arn: str) -> None:
        try:
            _topic_backend(self.account_id, arn).get_topic(arn).policy = self.previous[arn]
        except Exception:
            pass  # the topic is gone: so is its policy

    def remove(self) -> None:
        for arn in self.topics:
            self._restore(arn)


class EmulatedSubscription(EmulatedResource, CloudFormationModel):
    """Subscribe -> moto SNS; ListSubscriptionsByTopic returns it."""

    def __init__(self, account_id: str, subscription: Any):
        self.account_id = account_id
        self.subscription = subscription

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @property
    def physical_resource_id(self) -> str:
        return self.subscription.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedSubscription":
        properties = cloudformation_json["Properties"]
        topic_arn = properties["TopicArn"]
        try:
            subscription = _topic_backend(account_id, topic_arn).subscribe(
                topic_arn, properties.get("Endpoint", ""), properties["Protocol"])
        except Exception as exc:
            raise ResourceFailed(cls.cloudformation_type(), f"{exc}") from None
        return cls(account_id, subscription)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedSubscription":
        # Endpoint, Protocol and TopicArn all need a replacement.
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        original_resource.remove()
        return new

    def remove(self) -> None:
        arn = self.subscription.arn
        _topic_backend(self.account_id, arn).unsubscribe(arn)
