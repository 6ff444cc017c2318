"""AWS::Logs::LogGroup for moto's CloudFormation, backed by moto's CloudWatch Logs, as CloudFormation does it.

What moto's own model did, and what CloudFormation does (and this model does):

- moto passed the template's properties to CreateLogGroup as they are, so KmsKeyId (the API's
  kmsKeyId) was dropped: the group was created unencrypted. Here the key is associated; as CloudWatch
  Logs, the group is refused when the key does not exist in the group's account and region, is not
  enabled, or its policy does not let this region's CloudWatch Logs service principal
  (logs.<region>.amazonaws.com) use it ("The specified KMS key does not exist or is not allowed to
  be used"; CloudWatch Logs user guide, "Encrypt log data using AWS KMS").
- RetentionInDays must be one of CloudWatch Logs' values (moto took any number).
- moto had no update: a changed retention, key or tags left the resource map holding nothing.
  Here they are applied to the group (PutRetentionPolicy / DeleteRetentionPolicy, AssociateKmsKey /
  DisassociateKmsKey, TagResource / UntagResource); a new name is a replacement (the lifecycle
  engine creates the new group and deletes the old one unless UpdateReplacePolicy keeps it).
- A name that exists fails "already exists", as the resource handler does.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.kms.models import kms_backends
from moto.logs.models import logs_backends

from rollout.moto_models.base import EmulatedResource, NameTaken, ResourceFailed

# CloudWatch Logs' PutRetentionPolicy values.
RETENTION_DAYS = frozenset({1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                            2557, 2922, 3288, 3653})


def _key_arn(key_id: str, account_id: str, region_name: str) -> str:
    """The key's ARN when `key_id` names a usable key of this account and region, else ResourceFailed."""
    refused = ResourceFailed("AWS::Logs::LogGroup", f"The specified KMS key {key_id} does not exist or is not "
                                                    "allowed to be used with CloudWatch Logs")
    if not key_id.startswith(f"arn:aws:kms:{region_name}:{account_id}:key/"):
        raise refused  # a key of another region or account, or not a key ARN (CloudWatch Logs wants one)
    key = kms_backends[account_id][region_name].keys.get(key_id.rsplit("/", 1)[-1])
    if key is None or key.key_state != "Enabled":
        raise refused
    policy = json.loads(key.policy) if isinstance(key.policy, str) else key.policy
    principal = f"logs.{region_name}.amazonaws.com"
    for statement in policy.get("Statement", []):
        services = (statement.get("Principal") or {}).get("Service") if isinstance(statement.get("Principal"), dict) else None
        services = [services] if isinstance(services, str) else services or []
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") == "Allow" and principal in services and \
                any(fnmatch.fnmatchcase("kms:GenerateDataKey", a) for a in actions):
            return key.arn
    raise refused


def _retention(properties: dict[str, Any]) -> int | None:
    if "RetentionInDays" not in properties:
        return None
    days = int(properties["RetentionInDays"])
    if days not in RETENTION_DAYS:
        raise ResourceFailed("AWS::Logs::LogGroup", f"RetentionInDays {days} is not one of "
                                                    f"{', '.join(str(d) for d in sorted(RETENTION_DAYS))}")
    return days


def _tags(properties: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in properties.get("Tags") or []}


class EmulatedLogGroup(EmulatedResource, CloudFormationModel):
    """DescribeLogGroups returns the group with its retention and key; ListTagsForResource its tags."""

    ATTRIBUTES = ("Arn",)

    def __init__(self, account_id: str, region_name: str, name: str):
        self.account_id = account_id
        self.region_name = region_name
        self.name = name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Logs::LogGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "LogGroupName"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def _backend(self) -> Any:
        return logs_backends[self.account_id][self.region_name]

    def attribute(self, name: str) -> Any:
        # CloudFormation's Arn attribute ends in :* (CloudWatch Logs' ARN of the group's streams).
        return f"{self._backend().groups[self.name].arn}:*"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedLogGroup":
        properties = cloudformation_json.get("Properties") or {}
        name = properties.get("LogGroupName", resource_name)
        backend = logs_backends[account_id][region_name]
        if name in backend.groups:
            raise NameTaken(name)
        retention = _retention(properties)
        key_arn = _key_arn(properties["KmsKeyId"], account_id, region_name) if properties.get("KmsKeyId") else None
        group = backend.create_log_group(name, _tags(properties))
        group.retention_in_days = retention
        group.kms_key_id = key_arn
        return cls(account_id, region_name, name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedLogGroup":
        properties = cloudformation_json.get("Properties") or {}
        name = properties.get("LogGroupName", original_resource.name)
        if name != original_resource.name:
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        backend = logs_backends[account_id][region_name]
        group = backend.groups[name]
        retention = _retention(properties)
        key_arn = _key_arn(properties["KmsKeyId"], account_id, region_name) if properties.get("KmsKeyId") else None
        group.retention_in_days = retention
        group.kms_key_id = key_arn
        current = backend.list_tags_for_resource(group.arn)
        wanted = _tags(properties)
        gone = [k for k in current if k not in wanted]
        if gone:
            backend.untag_resource(group.arn, gone)
        backend.tag_resource(group.arn, wanted)
        return original_resource

    def remove(self) -> None:
        if self.name in self._backend().groups:
            self._backend().delete_log_group(self.name)
