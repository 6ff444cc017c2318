"""AWS::DynamoDB::GlobalTable for moto's CloudFormation, backed by moto's DynamoDB backends.

A global table is one table per replica region, all with the same name and key schema: the
model creates each replica in its region's backend, so DescribeTable answers in every region.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.dynamodb.models import dynamodb_backends

from rollout.moto_models.base import EmulatedResource, ResourceFailed, as_bool


def _create_replica(account_id: str, region: str, name: str, properties: dict[str, Any],
                    replica: dict[str, Any]) -> Any:
    backend = dynamodb_backends[account_id][region]
    sse = properties.get("SSESpecification") or {}
    streams = properties.get("StreamSpecification")
    table = backend.create_table(
        name=name,
        schema=properties["KeySchema"],
        throughput=None,
        attr=properties["AttributeDefinitions"],
        global_indexes=properties.get("GlobalSecondaryIndexes") or [],
        indexes=properties.get("LocalSecondaryIndexes") or [],
        streams={"StreamEnabled": True, "StreamViewType": streams["StreamViewType"]} if streams else None,
        billing_mode=properties.get("BillingMode", "PROVISIONED"),
        sse_specification={"Enabled": True, "SSEType": sse.get("SSEType", "KMS")} if as_bool(sse.get("SSEEnabled")) else None,
        tags=[{"Key": t["Key"], "Value": t["Value"]} for t in replica.get("Tags") or []],
        deletion_protection_enabled=as_bool(replica.get("DeletionProtectionEnabled", False)),
        warm_throughput=None,
    )
    pitr = replica.get("PointInTimeRecoverySpecification") or {}
    if as_bool(pitr.get("PointInTimeRecoveryEnabled")):
        backend.update_continuous_backups(name, {"PointInTimeRecoveryEnabled": True})
    return table


class EmulatedGlobalTable(EmulatedResource, CloudFormationModel):
    ATTRIBUTES = ("Arn", "StreamArn", "TableId")

    def __init__(self, account_id: str, region_name: str, name: str, regions: list[str]):
        self.account_id = account_id
        self.region_name = region_name
        self.name = name
        self.regions = regions

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::DynamoDB::GlobalTable"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "TableName"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def _table(self) -> Any:
        return dynamodb_backends[self.account_id][self.region_name].get_table(self.name)

    def attribute(self, name: str) -> Any:
        table = self._table()
        if name == "Arn":
            return table.table_arn
        if name == "StreamArn":
            description = table.describe()["TableDescription"]
            return description.get("LatestStreamArn", "")
        return table.table_id

    @classmethod
    def _replicas(cls, properties: dict[str, Any], region_name: str) -> dict[str, dict[str, Any]]:
        replicas = {r["Region"]: r for r in properties.get("Replicas") or []}
        if region_name not in replicas:
            # CloudFormation requires the stack's own region among the replicas.
            raise ResourceFailed(cls.cloudformation_type(), f"Replicas must include the stack's region {region_name}")
        return replicas

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedGlobalTable":
        properties = cloudformation_json["Properties"]
        name = properties.get("TableName", resource_name)
        replicas = cls._replicas(properties, region_name)
        ordered = [region_name] + sorted(r for r in replicas if r != region_name)
        for region in ordered:
            _create_replica(account_id, region, name, properties, replicas[region])
        return cls(account_id, region_name, name, ordered)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedGlobalTable":
        properties = cloudformation_json["Properties"]
        name = properties.get("TableName", original_resource.name)
        if name != original_resource.name:
            new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
            original_resource.remove()
            return new
        replicas = cls._replicas(properties, region_name)
        # Replicas are added and removed in place: the point of a global table from the start.
        for region in sorted(set(replicas) - set(original_resource.regions)):
            _create_replica(account_id, region, name, properties, replicas[region])
        for region in sorted(set(original_resource.regions) - set(replicas)):
            dynamodb_backends[account_id][region].delete_table(name)
        for region, replica in replicas.items():
            table = dynamodb_backends[account_id][region].get_table(name)
            table.deletion_protection_enabled = as_bool(replica.get("DeletionProtectionEnabled", False))
        ordered = [region_name] + sorted(r for r in replicas if r != region_name)
        return cls(account_id, region_name, name, ordered)

    def remove(self) -> None:
        for region in reversed(self.regions):
            dynamodb_backends[self.account_id][region].delete_table(self.name)
