"""AWS::Route53::RecordSetGroup for moto's CloudFormation, backed by moto's Route53 zones.

moto's own model added records without looking (two A records of one name could coexist), could
not update them (an update dropped the resource) and never deleted them (they outlived the stack).
As Route53 and CloudFormation: the zone must exist in the stack's account (a zone lives in one
account); creating a record that already exists fails ("Tried to create resource record set ...
but it already exists"); an update replaces the group's records; deleting the stack removes them.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.route53.models import route53_backends

from rollout.moto_models.base import EmulatedResource, ResourceFailed


def _key(record: dict[str, Any]) -> tuple[str, str, str]:
    return (str(record["Name"]).rstrip(".").lower(), str(record["Type"]), str(record.get("SetIdentifier") or ""))


def _zone(account_id: str, hosted_zone_id: str) -> Any:
    try:
        return route53_backends[account_id]["aws"].get_hosted_zone(hosted_zone_id)
    except Exception:
        raise ResourceFailed("AWS::Route53::RecordSetGroup", f"NoSuchHostedZone: No hosted zone found with "
                             f"ID: {hosted_zone_id}") from None


class EmulatedRecordSetGroup(EmulatedResource, CloudFormationModel):
    def __init__(self, account_id: str, hosted_zone_id: str, records: list[dict[str, Any]]):
        self.account_id = account_id
        self.hosted_zone_id = hosted_zone_id
        self.records = records

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Route53::RecordSetGroup"

    @property
    def physical_resource_id(self) -> str:
        return ",".join(f"{name}/{kind}" for name, kind, _ in sorted(_key(r) for r in self.records))

    @classmethod
    def _add(cls, account_id: str, properties: dict[str, Any], replacing: list[dict[str, Any]]) -> "EmulatedRecordSetGroup":
        zone_id = properties["HostedZoneId"]
        zone = _zone(account_id, zone_id)
        ours = {_key(r) for r in replacing}
        existing = {_key({"Name": r.name, "Type": r.type, "SetIdentifier": r.set_identifier}) for r in zone.rrsets}
        records = list(properties.get("RecordSets") or [])
        for record in records:
            if _key(record) in existing and _key(record) not in ours:
                raise ResourceFailed(cls.cloudformation_type(), f"InvalidChangeBatch: [Tried to create resource "
                                     f"record set [name='{record['Name']}', type='{record['Type']}'] but it "
                                     "already exists]")
        for record in replacing:
            zone.delete_rrset({"Name": record["Name"], "Type": record["Type"]})
        for record in records:
            zone.add_rrset(dict(record))
        return cls(account_id, zone_id, records)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedRecordSetGroup":
        return cls._add(account_id, cloudformation_json["Properties"], [])

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedRecordSetGroup":
        properties = cloudformation_json["Properties"]
        if properties["HostedZoneId"] != original_resource.hosted_zone_id:
            new = cls._add(account_id, properties, [])
            original_resource.remove()
            return new
        return cls._add(account_id, properties, original_resource.records)

    def remove(self) -> None:
        try:
            zone = route53_backends[self.account_id]["aws"].get_hosted_zone(self.hosted_zone_id)
        except Exception:
            return  # the zone is gone, and its records with it
        for record in self.records:
            zone.delete_rrset({"Name": record["Name"], "Type": record["Type"]})
