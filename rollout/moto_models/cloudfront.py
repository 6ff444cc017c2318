"""CloudFront resources for moto's CloudFormation, backed by moto's CloudFront backend.

The distribution is created with moto's CreateDistribution logic, so GetDistribution returns
it; the checks CloudFront makes at creation (certificate in us-east-1 covering the aliases, a
CLOUDFRONT-scope web ACL, numbered Lambda@Edge versions that meet the edge limits, existing
policies, origin access control and logs bucket) are made here with the other emulated services.

moto 5.2.5 has no cache, origin-request or response-headers policy API: those models keep their
configuration in the CloudFront backend, and a distribution naming an unknown policy id fails.

An alternate domain name (CNAME) belongs to one distribution across all of AWS: moto let any
number of distributions, in any accounts, claim the same alias. `install()` makes moto's
CloudFront backend refuse it with CNAMEAlreadyExists, for its API (CreateDistribution,
UpdateDistribution) and for the distributions CloudFormation creates alike.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.acm.models import acm_backends
from moto.cloudfront.exceptions import CloudFrontException
from moto.cloudfront.models import CloudFrontBackend, cloudfront_backends
from moto.core.common_models import CloudFormationModel
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from moto.wafv2.models import GLOBAL_REGION, wafv2_backends

from rollout.moto_models.base import EmulatedResource, ResourceFailed, as_bool, tag_list

EDGE_REGION = "us-east-1"

# AWS-managed policies a distribution may reference without creating them.
MANAGED_CACHE_POLICIES = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": "Managed-CachingOptimized",
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": "Managed-CachingDisabled",
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": "Managed-CachingOptimizedForUncompressedObjects",
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": "UseOriginCacheControlHeaders",
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": "UseOriginCacheControlHeaders-QueryStrings",
}
MANAGED_ORIGIN_REQUEST_POLICIES = {
    "216adef6-5c7f-47e4-b989-5492eafa07d3": "Managed-AllViewer",
    "b689b0a8-53d0-40ab-baf2-68738e2966ac": "Managed-AllViewerExceptHostHeader",
    "33f36d7e-f396-46d9-90e0-52428a34d9dc": "Managed-AllViewerAndCloudFrontHeaders-2022-06",
    "59781a5b-3903-41f3-afcb-af62929ccde1": "Managed-CORS-CustomOrigin",
    "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf": "Managed-CORS-S3Origin",
    "acba4595-bd28-49b8-b9fe-13317c0390fa": "Managed-UserAgentRefererHeaders",
}
MANAGED_RESPONSE_HEADERS_POLICIES = {
    "60669652-455b-4ae9-85a4-c4c02393f86c": "Managed-SimpleCORS",
    "5cc3b908-e619-4b99-88e5-2cf7f45965bd": "Managed-CORS-With-Preflight",
    "67f7725c-6f97-4210-82d7-5512b31e9d03": "Managed-SecurityHeadersPolicy",
    "e61eb60c-9c35-4d20-a928-2b84e02af89c": "Managed-CORS-and-SecurityHeadersPolicy",
    "eaab4381-ed33-4a86-88ca-d9558dc6cd63": "Managed-CORS-With-Preflight-and-SecurityHeadersPolicy",
}

# Lambda@Edge quotas (CloudFront developer guide, "Quotas on Lambda@Edge").
VIEWER_EVENTS = ("viewer-request", "viewer-response")
VIEWER_MAX_MEMORY_MB, VIEWER_MAX_TIMEOUT_S = 128, 5
ORIGIN_MAX_TIMEOUT_S = 30

_NUMBERED_VERSION = re.compile(r"^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([^:]+):(\d+)$")


_installed = False


class CNAMEAlreadyExists(CloudFrontException):
    def __init__(self) -> None:
        super().__init__("CNAMEAlreadyExists", "One or more of the CNAMEs you provided are already "
                                               "associated with a different resource.")


def _aliases(config: Any) -> set[str]:
    aliases = config.get("Aliases") if isinstance(config, dict) else getattr(config, "Aliases", None)
    return {str(a).lower() for a in ((aliases or {}).get("Items") or [])}


def alias_holders(alias: str) -> list[tuple[str, str]]:
    """(account, distribution id) of every distribution, in any account, that holds the alias."""
    holders = []
    for account_id in list(cloudfront_backends.keys()):
        for backend in list(dict.values(cloudfront_backends[account_id])):
            for distribution in list(backend.distributions.values()):
                if alias.lower() in _aliases(distribution.distribution_config):
                    holders.append((account_id, distribution.distribution_id))
    return holders


def check_aliases_free(config: dict[str, Any], distribution_id: str | None = None) -> None:
    """CloudFront's rule: an alias may be on one distribution only, across all accounts."""
    for alias in sorted(_aliases(config)):
        if any(holder != distribution_id for _, holder in alias_holders(alias)):
            raise CNAMEAlreadyExists()


_original_create = CloudFrontBackend.create_distribution_with_tags
_original_update = CloudFrontBackend.update_distribution


def _create_distribution(self: CloudFrontBackend, distribution_config: dict[str, Any],
                         tags: list[dict[str, str]]) -> Any:
    check_aliases_free(distribution_config)
    return _original_create(self, distribution_config, tags)


def _update_distribution(self: CloudFrontBackend, dist_config: dict[str, Any], _id: str, if_match: bool) -> Any:
    if dist_config:
        check_aliases_free(dist_config, _id)
    return _original_update(self, dist_config, _id, if_match)


def install() -> None:
    """Make moto's CloudFront backend enforce one distribution per alias (idempotent)."""
    global _installed
    if _installed:
        return
    CloudFrontBackend.create_distribution_with_tags = _create_distribution
    CloudFrontBackend.update_distribution = _update_distribution
    _installed = True


def _backend(account_id: str) -> CloudFrontBackend:
    return cloudfront_backends[account_id]["aws"]


def _policy_store(backend: CloudFrontBackend, kind: str) -> dict[str, dict[str, Any]]:
    # Kept on the backend object, so moto's reset clears it with everything else.
    stores = backend.__dict__.setdefault("emulated_policies", {})
    return stores.setdefault(kind, {})


def _quantity(items: list[Any] | None) -> dict[str, Any]:
    items = list(items or [])
    return {"Quantity": len(items), "Items": items} if items else {"Quantity": 0}


def _fail(message: str) -> ResourceFailed:
    return ResourceFailed("AWS::CloudFront::Distribution", message)


# --- CloudFormation shape -> CloudFront API shape ----------------------------------------------


def _behavior(cfn: dict[str, Any], default: bool) -> dict[str, Any]:
    methods = cfn.get("AllowedMethods") or ["GET", "HEAD"]
    cached = cfn.get("CachedMethods") or ["GET", "HEAD"]
    api: dict[str, Any] = {
        "TargetOriginId": cfn["TargetOriginId"],
        "ViewerProtocolPolicy": cfn["ViewerProtocolPolicy"],
        "AllowedMethods": {"Quantity": len(methods), "Items": methods,
                           "CachedMethods": {"Quantity": len(cached), "Items": cached}},
    }
    if not default:
        api["PathPattern"] = cfn["PathPattern"]
    for key in ("CachePolicyId", "OriginRequestPolicyId", "ResponseHeadersPolicyId", "Compress",
                "SmoothStreaming", "FieldLevelEncryptionId", "RealtimeLogConfigArn", "MinTTL",
                "DefaultTTL", "MaxTTL", "ForwardedValues"):
        if key in cfn:
            api[key] = cfn[key]
    if "Compress" in api:
        api["Compress"] = as_bool(api["Compress"])
    if cfn.get("TrustedKeyGroups"):
        api["TrustedKeyGroups"] = {"Items": cfn["TrustedKeyGroups"]}
    return api


def _lambda_associations(cfn: dict[str, Any]) -> dict[str, Any]:
    return _quantity([{"LambdaFunctionARN": a["LambdaFunctionARN"], "EventType": a["EventType"],
                       "IncludeBody": as_bool(a.get("IncludeBody", False))}
                      for a in cfn.get("LambdaFunctionAssociations") or []])


def _function_associations(cfn: dict[str, Any]) -> dict[str, Any]:
    return _quantity([{"FunctionARN": a["FunctionARN"], "EventType": a["EventType"]}
                      for a in cfn.get("FunctionAssociations") or []])


def _origin(cfn: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {"Id": cfn["Id"], "DomainName": cfn["DomainName"],
                           "OriginPath": cfn.get("OriginPath", "")}
    if "S3OriginConfig" in cfn:
        api["S3OriginConfig"] = {"OriginAccessIdentity": (cfn["S3OriginConfig"] or {}).get("OriginAccessIdentity", "")}
    if "CustomOriginConfig" in cfn:
        custom = dict(cfn["CustomOriginConfig"])
        protocols = custom.pop("OriginSSLProtocols", None) or []
        custom["OriginSslProtocols"] = _quantity(protocols)
        api["CustomOriginConfig"] = custom
    headers = cfn.get("OriginCustomHeaders") or []
    api["CustomHeaders"] = _quantity(headers) if headers else {"Quantity": 0, "Items": []}
    for key in ("OriginShield", "ConnectionAttempts", "ConnectionTimeout"):
        if key in cfn:
            api[key] = cfn[key]
    return api


def distribution_api_config(cfn: dict[str, Any], caller_reference: str) -> dict[str, Any]:
    """What CreateDistribution takes, from the DistributionConfig property of the template."""
    api: dict[str, Any] = {
        "CallerReference": caller_reference,
        "Comment": cfn.get("Comment", ""),
        "Enabled": as_bool(cfn.get("Enabled", True)),
        "Origins": _quantity([_origin(o) for o in cfn.get("Origins") or []]),
        "DefaultCacheBehavior": _behavior(cfn["DefaultCacheBehavior"], default=True),
        "PriceClass": cfn.get("PriceClass", "PriceClass_All"),
        "HttpVersion": cfn.get("HttpVersion", "http1.1"),
        "IsIPV6Enabled": as_bool(cfn.get("IPV6Enabled", False)),
        "DefaultRootObject": cfn.get("DefaultRootObject", ""),
        "WebACLId": cfn.get("WebACLId", ""),
    }
    if cfn.get("Aliases"):
        api["Aliases"] = _quantity(cfn["Aliases"])
    if cfn.get("CacheBehaviors"):
        api["CacheBehaviors"] = _quantity([_behavior(b, default=False) for b in cfn["CacheBehaviors"]])
    if cfn.get("CustomErrorResponses"):
        api["CustomErrorResponses"] = _quantity(cfn["CustomErrorResponses"])
    if cfn.get("OriginGroups"):
        api["OriginGroups"] = cfn["OriginGroups"]
    if cfn.get("Logging"):
        logging = cfn["Logging"]
        api["Logging"] = {"Enabled": True, "IncludeCookies": as_bool(logging.get("IncludeCookies", False)),
                          "Bucket": logging["Bucket"], "Prefix": logging.get("Prefix", "")}
    geo = (cfn.get("Restrictions") or {}).get("GeoRestriction")
    if geo:
        api["Restrictions"] = {"GeoRestriction": {"RestrictionType": geo["RestrictionType"],
                                                  "Items": list(geo.get("Locations") or [])}}
    certificate = cfn.get("ViewerCertificate")
    if certificate:
        api["ViewerCertificate"] = {
            "CloudFrontDefaultCertificate": as_bool(certificate.get("CloudFrontDefaultCertificate", False)),
            "ACMCertificateArn": certificate.get("AcmCertificateArn", ""),
            "IAMCertificateId": certificate.get("IamCertificateId", ""),
            "SSLSupportMethod": certificate.get("SslSupportMethod", ""),
            "MinimumProtocolVersion": certificate.get("MinimumProtocolVersion", "TLSv1"),
        }
    return api


# --- the checks CloudFront makes when a distribution is created or updated ----------------------


def _covers(name: str, certificate_names: list[str]) -> bool:
    for pattern in certificate_names:
        if pattern == name:
            return True
        if pattern.startswith("*.") and name.count(".") == pattern.count(".") and name.endswith(pattern[1:]):
            return True
    return False


def _check_certificate(cfn: dict[str, Any], account_id: str) -> None:
    certificate = cfn.get("ViewerCertificate") or {}
    arn = certificate.get("AcmCertificateArn")
    aliases = list(cfn.get("Aliases") or [])
    if aliases and not (arn or certificate.get("IamCertificateId")):
        raise _fail("InvalidViewerCertificate: To add an alternate domain name (CNAME) to a CloudFront "
                    "distribution, you must attach a trusted certificate that validates your "
                    "authorization to use the domain name.")
    if not arn:
        return
    region = arn.split(":")[3] if arn.count(":") >= 5 else ""
    try:
        bundle = acm_backends[account_id][EDGE_REGION].get_certificate(arn) if region == EDGE_REGION else None
    except Exception:
        bundle = None
    if bundle is None or bundle.status != "ISSUED":
        raise _fail("InvalidViewerCertificate: The specified SSL certificate doesn't exist, isn't in "
                    f"us-east-1 region, isn't valid, or doesn't include a valid certificate chain ({arn}).")
    names = [bundle.common_name] + list(bundle.sans or [])
    uncovered = [a for a in aliases if not _covers(a, names)]
    if uncovered:
        raise _fail("InvalidViewerCertificate: The certificate that is attached to your distribution "
                    f"doesn't cover the alternate domain name (CNAME) that you're trying to add: {uncovered[0]}")


def _check_web_acl(cfn: dict[str, Any], account_id: str) -> None:
    web_acl = cfn.get("WebACLId")
    if not web_acl:
        return
    if ":global/webacl/" not in web_acl or web_acl not in wafv2_backends[account_id][GLOBAL_REGION].wacls:
        raise _fail(f"InvalidWebACLId: Web ACL is not accessible by the requester, or is not a "
                    f"CLOUDFRONT-scope WAFv2 web ACL: {web_acl}")


def _role_trusts_edge(account_id: str, role_arn: str) -> bool:
    name = role_arn.split("/")[-1]
    try:
        role = iam_backends[account_id]["aws"].get_role(name)
    except Exception:
        return False
    document = role.assume_role_policy_document
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return "edgelambda.amazonaws.com" in document
    return "edgelambda.amazonaws.com" in json.dumps(document)


def _check_edge_function(association: dict[str, Any], account_id: str) -> None:
    from moto.awslambda.models import lambda_backends

    arn = association["LambdaFunctionARN"]
    event = association["EventType"]
    bad = "InvalidLambdaFunctionAssociation: "
    match = _NUMBERED_VERSION.match(arn)
    if not match:
        raise _fail(bad + "The function ARN must reference a specific function version. (The ARN "
                    f"must end with the version number.) ARN: {arn}")
    region, owner, name, version = match.groups()
    if region != EDGE_REGION:
        raise _fail(bad + f"The function must be in region 'us-east-1'. ARN: {arn}")
    try:
        function = lambda_backends[owner][EDGE_REGION].get_function(name, version)
    except Exception:
        function = None
    if function is None:
        raise _fail(bad + f"The function does not exist or is not accessible: {arn}")
    problems = []
    if function.environment_vars:
        problems.append("The function cannot have environment variables")
    if function.layers:
        problems.append("The function cannot have layers")
    if getattr(function, "_vpc_config", None):
        problems.append("The function cannot have a VPC configuration")
    if "arm64" in (function.architectures or []):
        problems.append("The function must use the x86_64 architecture")
    if event in VIEWER_EVENTS and int(function.memory_size) > VIEWER_MAX_MEMORY_MB:
        problems.append(f"The function memory for a viewer event is limited to {VIEWER_MAX_MEMORY_MB} MB")
    limit = VIEWER_MAX_TIMEOUT_S if event in VIEWER_EVENTS else ORIGIN_MAX_TIMEOUT_S
    if int(function.timeout) > limit:
        problems.append(f"The function execution time for {event} is limited to {limit} seconds")
    if not _role_trusts_edge(owner, function.role):
        problems.append("The function execution role must be assumable with edgelambda.amazonaws.com "
                        "as well as lambda.amazonaws.com principals")
    if problems:
        raise _fail(bad + "; ".join(problems) + f". Function: {arn}")


def _check_references(cfn: dict[str, Any], account_id: str) -> None:
    backend = _backend(account_id)
    behaviors = [cfn["DefaultCacheBehavior"], *(cfn.get("CacheBehaviors") or [])]
    origin_ids = {o["Id"] for o in cfn.get("Origins") or []}
    for behavior in behaviors:
        if behavior["TargetOriginId"] not in origin_ids:
            raise _fail(f"NoSuchOrigin: One or more of your origins or origin groups do not exist: "
                        f"{behavior['TargetOriginId']}")
        for key, kind, managed in (
            ("CachePolicyId", "cache", MANAGED_CACHE_POLICIES),
            ("OriginRequestPolicyId", "origin-request", MANAGED_ORIGIN_REQUEST_POLICIES),
            ("ResponseHeadersPolicyId", "response-headers", MANAGED_RESPONSE_HEADERS_POLICIES),
        ):
            policy_id = behavior.get(key)
            if policy_id and policy_id not in managed and policy_id not in _policy_store(backend, kind):
                raise _fail(f"NoSuch{kind.title().replace('-', '')}Policy: The {kind} policy does not exist: {policy_id}")
        for association in behavior.get("LambdaFunctionAssociations") or []:
            _check_edge_function(association, account_id)
    for origin in cfn.get("Origins") or []:
        control = origin.get("OriginAccessControlId")
        if control and control not in backend.origin_access_controls:
            raise _fail(f"NoSuchOriginAccessControl: The origin access control does not exist: {control}")
    logging = cfn.get("Logging")
    if logging:
        bucket = logging["Bucket"].split(".s3")[0]
        try:
            s3_backends[account_id]["aws"].get_bucket(bucket)
        except Exception:
            raise _fail(f"InvalidArgument: The S3 bucket that you specified for CloudFront logs does "
                        f"not exist: {logging['Bucket']}") from None


def _decorate(distribution: Any, cfn: dict[str, Any]) -> None:
    """Keep what moto's distribution model drops, so GetDistribution returns it."""
    config = distribution.distribution_config
    config.DefaultCacheBehavior.lambda_function_associations = _lambda_associations(cfn["DefaultCacheBehavior"])
    config.DefaultCacheBehavior.function_associations = _function_associations(cfn["DefaultCacheBehavior"])
    if cfn.get("CacheBehaviors") and config.CacheBehaviors.get("Items"):
        for moto_behavior, cfn_behavior in zip(config.CacheBehaviors["Items"], cfn["CacheBehaviors"]):
            moto_behavior.lambda_function_associations = _lambda_associations(cfn_behavior)
            moto_behavior.function_associations = _function_associations(cfn_behavior)
    for moto_origin, cfn_origin in zip(config.Origins["Items"], cfn.get("Origins") or []):
        if cfn_origin.get("OriginAccessControlId"):
            moto_origin.origin_access_control_id = cfn_origin["OriginAccessControlId"]


class EmulatedDistribution(EmulatedResource, CloudFormationModel):
    """AWS::CloudFront::Distribution -> moto CloudFront CreateDistribution."""

    ATTRIBUTES = ("DomainName", "Id")

    def __init__(self, account_id: str, distribution: Any):
        self.account_id = account_id
        self.distribution = distribution

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::Distribution"

    @property
    def physical_resource_id(self) -> str:
        return self.distribution.distribution_id

    def attribute(self, name: str) -> Any:
        return self.distribution.domain_name if name == "DomainName" else self.distribution.distribution_id

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedDistribution":
        properties = cloudformation_json["Properties"]
        cfn = properties["DistributionConfig"]
        _check_certificate(cfn, account_id)
        _check_web_acl(cfn, account_id)
        _check_references(cfn, account_id)
        api = distribution_api_config(cfn, caller_reference=str(uuid.uuid4()))
        distribution, _, _ = _backend(account_id).create_distribution(api, tag_list(properties))
        _decorate(distribution, cfn)
        return cls(account_id, distribution)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedDistribution":
        cfn = cloudformation_json["Properties"]["DistributionConfig"]
        _check_certificate(cfn, account_id)
        _check_web_acl(cfn, account_id)
        _check_references(cfn, account_id)
        old = original_resource.distribution
        api = distribution_api_config(cfn, caller_reference=old.distribution_config.caller_reference)
        distribution, _, _ = _backend(account_id).update_distribution(api, old.distribution_id, if_match=True)
        _decorate(distribution, cfn)
        return cls(account_id, distribution)

    def remove(self) -> None:
        _backend(self.account_id).delete_distribution(self.distribution.distribution_id, if_match=True)


class EmulatedOriginAccessControl(EmulatedResource, CloudFormationModel):
    """AWS::CloudFront::OriginAccessControl -> moto CloudFront CreateOriginAccessControl."""

    ATTRIBUTES = ("Id",)

    def __init__(self, account_id: str, control: Any):
        self.account_id = account_id
        self.control = control

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::OriginAccessControl"

    @property
    def physical_resource_id(self) -> str:
        return self.control.id

    def attribute(self, name: str) -> Any:
        return self.control.id

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedOriginAccessControl":
        config = cloudformation_json["Properties"]["OriginAccessControlConfig"]
        backend = _backend(account_id)
        if any(c.name == config["Name"] for c in backend.origin_access_controls.values()):
            raise ResourceFailed("AWS::CloudFront::OriginAccessControl",
                                 f"OriginAccessControlAlreadyExists: {config['Name']}")
        return cls(account_id, backend.create_origin_access_control(dict(config)))

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedOriginAccessControl":
        config = cloudformation_json["Properties"]["OriginAccessControlConfig"]
        control = _backend(account_id).update_origin_access_control(original_resource.control.id, dict(config))
        return cls(account_id, control)

    def remove(self) -> None:
        _backend(self.account_id).delete_origin_access_control(self.control.id)


class _PolicyModel(EmulatedResource):
    KIND = ""
    CONFIG = ""
    MANAGED: dict[str, str] = {}
    ATTRIBUTES = ("Id", "LastModifiedTime")

    def __init__(self, account_id: str, policy_id: str):
        self.account_id = account_id
        self.policy_id = policy_id

    @property
    def physical_resource_id(self) -> str:
        return self.policy_id

    def attribute(self, name: str) -> Any:
        store = _policy_store(_backend(self.account_id), self.KIND)
        return self.policy_id if name == "Id" else store[self.policy_id]["LastModifiedTime"]

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> None:
        pass

    @classmethod
    def _store(cls, account_id: str, config: dict[str, Any], policy_id: str | None) -> str:
        cls._validate(config)
        store = _policy_store(_backend(account_id), cls.KIND)
        names = {p["Config"]["Name"]: i for i, p in store.items()}
        if config["Name"] in names and names[config["Name"]] != policy_id or config["Name"] in cls.MANAGED.values():
            raise ResourceFailed(cls.cloudformation_type(), f"{cls.KIND} policy {config['Name']} already exists")
        policy_id = policy_id or str(uuid.uuid4())
        store[policy_id] = {"Config": config, "LastModifiedTime": datetime.now(timezone.utc).isoformat()}
        return policy_id

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "_PolicyModel":
        config = cloudformation_json["Properties"][cls.CONFIG]
        return cls(account_id, cls._store(account_id, config, None))

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "_PolicyModel":
        config = cloudformation_json["Properties"][cls.CONFIG]
        return cls(account_id, cls._store(account_id, config, original_resource.policy_id))

    def remove(self) -> None:
        _policy_store(_backend(self.account_id), self.KIND).pop(self.policy_id, None)


class EmulatedCachePolicy(_PolicyModel, CloudFormationModel):
    """AWS::CloudFront::CachePolicy, kept in moto's CloudFront backend."""

    KIND, CONFIG, MANAGED = "cache", "CachePolicyConfig", MANAGED_CACHE_POLICIES

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::CachePolicy"

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> None:
        low, default, high = (int(config.get(k, 0)) for k in ("MinTTL", "DefaultTTL", "MaxTTL"))
        if not low <= default <= high:
            raise ResourceFailed(cls.cloudformation_type(),
                                 "InvalidArgument: MinTTL <= DefaultTTL <= MaxTTL is required")


class EmulatedOriginRequestPolicy(_PolicyModel, CloudFormationModel):
    """AWS::CloudFront::OriginRequestPolicy, kept in moto's CloudFront backend."""

    KIND, CONFIG, MANAGED = "origin-request", "OriginRequestPolicyConfig", MANAGED_ORIGIN_REQUEST_POLICIES

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::OriginRequestPolicy"


class EmulatedResponseHeadersPolicy(_PolicyModel, CloudFormationModel):
    """AWS::CloudFront::ResponseHeadersPolicy, kept in moto's CloudFront backend."""

    KIND, CONFIG, MANAGED = "response-headers", "ResponseHeadersPolicyConfig", MANAGED_RESPONSE_HEADERS_POLICIES

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::ResponseHeadersPolicy"


def cache_policy_config(account_id: str, policy_id: str) -> dict[str, Any] | None:
    """The stored configuration of an emulated (customer) cache policy, for checks and tests."""
    entry = _policy_store(_backend(account_id), "cache").get(policy_id)
    return entry["Config"] if entry else None


class EmulatedMonitoringSubscription(EmulatedResource, CloudFormationModel):
    """AWS::CloudFront::MonitoringSubscription (additional metrics), kept in the CloudFront backend.

    moto has no monitoring-subscription API; the distribution must exist, as on AWS.
    """

    def __init__(self, account_id: str, distribution_id: str):
        self.account_id = account_id
        self.distribution_id = distribution_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::MonitoringSubscription"

    @property
    def physical_resource_id(self) -> str:
        return self.distribution_id

    @classmethod
    def _put(cls, properties: dict[str, Any], account_id: str) -> "EmulatedMonitoringSubscription":
        distribution_id = properties["DistributionId"]
        backend = _backend(account_id)
        if distribution_id not in backend.distributions:
            raise ResourceFailed(cls.cloudformation_type(),
                                 f"NoSuchDistribution: The specified distribution does not exist: {distribution_id}")
        _policy_store(backend, "monitoring-subscription")[distribution_id] = {
            "Config": properties["MonitoringSubscription"],
            "LastModifiedTime": datetime.now(timezone.utc).isoformat()}
        return cls(account_id, distribution_id)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedMonitoringSubscription":
        return cls._put(cloudformation_json["Properties"], account_id)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedMonitoringSubscription":
        return cls._put(cloudformation_json["Properties"], account_id)

    def remove(self) -> None:
        _policy_store(_backend(self.account_id), "monitoring-subscription").pop(self.distribution_id, None)


def monitoring_subscription(account_id: str, distribution_id: str) -> dict[str, Any] | None:
    """The stored monitoring subscription of a distribution, for checks and tests."""
    entry = _policy_store(_backend(account_id), "monitoring-subscription").get(distribution_id)
    return entry["Config"] if entry else None
