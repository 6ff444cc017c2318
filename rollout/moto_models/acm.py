"""AWS::CertificateManager::Certificate for moto's CloudFormation, backed by moto's ACM and Route53.

With DNS validation and a HostedZoneId per domain, CloudFormation writes the validation CNAME
records into the zone and waits for ACM to issue the certificate. The model does the same: it
requests the certificate from moto's ACM, writes each validation record into moto's Route53 zone
(which must exist), and marks the certificate issued once every domain's record is in place.
A domain without a HostedZoneId would leave the stack waiting until it times out on AWS; here it
fails at once with that explanation.
"""

from __future__ import annotations

from typing import Any

from moto.acm.models import acm_backends
from moto.core.common_models import CloudFormationModel
from moto.route53.models import route53_backends

from rollout.moto_models.base import EmulatedResource, ResourceFailed, tag_list


class EmulatedCertificate(EmulatedResource, CloudFormationModel):
    def __init__(self, account_id: str, region_name: str, arn: str):
        self.account_id = account_id
        self.region_name = region_name
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CertificateManager::Certificate"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedCertificate":
        properties = cloudformation_json["Properties"]
        domain = properties["DomainName"]
        names = [domain] + [n for n in properties.get("SubjectAlternativeNames") or [] if n != domain]
        zones = {o["DomainName"]: o.get("HostedZoneId") for o in properties.get("DomainValidationOptions") or []}
        if properties.get("ValidationMethod", "EMAIL") != "DNS":
            raise ResourceFailed(cls.cloudformation_type(), "only DNS validation can complete without a "
                                 "person approving an e-mail; the stack would wait until it times out")
        route53 = route53_backends[account_id]["aws"]
        for name in names:
            zone_id = zones.get(name)
            if not zone_id:
                raise ResourceFailed(cls.cloudformation_type(), f"no HostedZoneId for {name} in "
                                     "DomainValidationOptions: the certificate would stay PENDING_VALIDATION "
                                     "until the stack times out")
            try:
                route53.get_hosted_zone(zone_id)
            except Exception:
                raise ResourceFailed(cls.cloudformation_type(), f"NoSuchHostedZone: No hosted zone found "
                                     f"with ID: {zone_id} (validation of {name})") from None
        acm = acm_backends[account_id][region_name]
        arn = acm.request_certificate(domain, None, names[1:] or None, tag_list(properties))
        bundle = acm.get_certificate(arn)
        for option in bundle.describe()["Certificate"].get("DomainValidationOptions", []):
            record = option["ResourceRecord"]
            route53.change_resource_record_sets(zones[option["DomainName"]], [{
                "Action": "UPSERT",
                "ResourceRecordSet": {"Name": record["Name"], "Type": record["Type"], "TTL": 300,
                                      "ResourceRecords": [{"Value": record["Value"]}]},
            }])
        # Every domain's validation record is in its (authoritative) zone: ACM issues.
        bundle.status = "ISSUED"
        return cls(account_id, region_name, arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedCertificate":
        # Every property but Tags needs a new certificate.
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        original_resource.remove()
        return new

    def remove(self) -> None:
        acm_backends[self.account_id][self.region_name].delete_certificate(self.arn)
