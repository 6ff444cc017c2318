"""WAFv2 web ACL and logging configuration for moto's CloudFormation, backed by moto's WAFv2 backend.

CLOUDFRONT-scope web ACLs live in moto's "global" WAFv2 backend (where its WAFv2 API looks for
them), and, as on AWS, can only be created from us-east-1. Logging configurations live in the
backend of the region the stack runs in, where moto's GetLoggingConfiguration looks.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.wafv2.models import GLOBAL_REGION, WAFV2Backend, wafv2_backends

from rollout.moto_models.base import EmulatedResource, ResourceFailed, tag_list

EDGE_REGION = "us-east-1"


def _backend(account_id: str, region_name: str, scope: str) -> WAFV2Backend:
    return wafv2_backends[account_id][GLOBAL_REGION if scope == "CLOUDFRONT" else region_name]


def _rules(properties: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(rule) for rule in properties.get("Rules") or []]


class EmulatedWebACL(EmulatedResource, CloudFormationModel):
    """AWS::WAFv2::WebACL -> moto WAFv2 CreateWebACL."""

    ATTRIBUTES = ("Arn", "Id", "Capacity", "LabelNamespace")

    def __init__(self, account_id: str, region_name: str, scope: str, web_acl: Any):
        self.account_id = account_id
        self.region_name = region_name
        self.scope = scope
        self.web_acl = web_acl

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::WAFv2::WebACL"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @property
    def physical_resource_id(self) -> str:
        # Ref of a WAFv2 web ACL is "name|id|scope".
        return f"{self.web_acl.name}|{self.web_acl.id}|{self.scope}"

    def attribute(self, name: str) -> Any:
        return {"Arn": self.web_acl.arn, "Id": self.web_acl.id, "Capacity": self.web_acl.capacity,
                "LabelNamespace": self.web_acl.label_namespace}[name]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedWebACL":
        properties = cloudformation_json["Properties"]
        scope = properties["Scope"]
        if scope == "CLOUDFRONT" and region_name != EDGE_REGION:
            raise ResourceFailed(cls.cloudformation_type(), "WAFInvalidParameterException: a web ACL "
                                 f"with Scope CLOUDFRONT must be created in us-east-1, not {region_name}")
        web_acl = _backend(account_id, region_name, scope).create_web_acl(
            name=properties.get("Name", resource_name),
            visibility_config=properties["VisibilityConfig"],
            default_action=properties["DefaultAction"],
            scope=scope,
            description=properties.get("Description", ""),
            tags=tag_list(properties),
            rules=_rules(properties),
            association_config=properties.get("AssociationConfig"),
            captcha_config=properties.get("CaptchaConfig"),
            challenge_config=properties.get("ChallengeConfig"),
            custom_response_bodies=properties.get("CustomResponseBodies"),
            token_domains=properties.get("TokenDomains"),
        )
        return cls(account_id, region_name, scope, web_acl)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedWebACL":
        properties = cloudformation_json["Properties"]
        web_acl = original_resource.web_acl
        if properties.get("Name", web_acl.name) != web_acl.name or properties["Scope"] != original_resource.scope:
            # Name and Scope need a replacement.
            new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
            original_resource.remove()
            return new
        _backend(account_id, region_name, original_resource.scope).update_web_acl(
            name=web_acl.name, _id=web_acl.id, default_action=properties["DefaultAction"],
            rules=_rules(properties), description=properties.get("Description", ""),
            visibility_config=properties["VisibilityConfig"], lock_token=web_acl.lock_token,
            custom_response_bodies=properties.get("CustomResponseBodies"),
            captcha_config=properties.get("CaptchaConfig"), challenge_config=properties.get("ChallengeConfig"),
            token_domains=properties.get("TokenDomains"), association_config=properties.get("AssociationConfig"),
        )
        return original_resource

    def remove(self) -> None:
        _backend(self.account_id, self.region_name, self.scope).delete_web_acl(
            self.web_acl.name, self.scope, self.web_acl.id, self.web_acl.lock_token)


class EmulatedLoggingConfiguration(EmulatedResource, CloudFormationModel):
    """AWS::WAFv2::LoggingConfiguration -> moto WAFv2 PutLoggingConfiguration."""

    ATTRIBUTES = ("ManagedByFirewallManager",)

    def __init__(self, account_id: str, backend: WAFV2Backend, resource_arn: str):
        self.account_id = account_id
        self.backend = backend
        self.resource_arn = resource_arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::WAFv2::LoggingConfiguration"

    @property
    def physical_resource_id(self) -> str:
        return self.resource_arn

    def attribute(self, name: str) -> Any:
        return False

    @classmethod
    def _put(cls, properties: dict[str, Any], account_id: str, region_name: str) -> "EmulatedLoggingConfiguration":
        resource_arn = properties["ResourceArn"]
        scope = "CLOUDFRONT" if ":global/" in resource_arn else "REGIONAL"
        if resource_arn not in _backend(account_id, region_name, scope).wacls:
            raise ResourceFailed(cls.cloudformation_type(),
                                 f"WAFNonexistentItemException: no web ACL {resource_arn}")
        destinations = list(properties["LogDestinationConfigs"])
        for destination in destinations:
            # WAF only delivers to destinations whose name starts with aws-waf-logs-.
            name = destination.split(":log-group:")[-1] if ":log-group:" in destination else destination.split("/")[-1]
            if not name.startswith("aws-waf-logs-"):
                raise ResourceFailed(cls.cloudformation_type(), "WAFInvalidParameterException: the log "
                                     f"destination name must start with aws-waf-logs-: {destination}")
        # moto's Get/PutLoggingConfiguration API keeps configurations in the backend of the
        # region called (us-east-1 for a CLOUDFRONT web ACL), not in the global one.
        backend = wafv2_backends[account_id][region_name]
        backend.put_logging_configuration(resource_arn, destinations, properties.get("RedactedFields"),
                                          False, properties.get("LoggingFilter"))
        return cls(account_id, backend, resource_arn)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedLoggingConfiguration":
        return cls._put(cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedLoggingConfiguration":
        return cls._put(cloudformation_json["Properties"], account_id, region_name)

    def remove(self) -> None:
        if self.resource_arn in self.backend.logging_configurations:
            self.backend.delete_logging_configuration(self.resource_arn)
