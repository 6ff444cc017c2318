"""Fixes to moto 5.2.5's own CloudFormation models of types the templates use.

- AWS::KMS::Key: moto passed the template's Tags ({Key, Value}) where its tagger expects
  {TagKey, TagValue} and failed; the key policy (a JSON object in a template) is stored as the
  JSON text KMS returns; an update (policy, rotation, description) is applied to the key instead
  of dropping the resource.
- AWS::S3::Bucket: moto applied only BucketEncryption and Tags. VersioningConfiguration,
  PublicAccessBlockConfiguration, OwnershipControls and LoggingConfiguration are applied too, so
  the S3 API returns them; server access logging is refused, as by S3, when the target bucket
  does not exist or is in another region. (moto's own logging permission check cannot read
  policies with a "*" principal or resource lists, so the grant itself is not checked.)
- A name that is taken fails, as on AWS, whichever path creates it: moto's Lambda backend
  replaced an existing function of the same name (only its API checked), its KMS backend gave an
  alias name to a second key (only its API checked), and its CloudFormation topic model returned
  the existing topic, where CloudFormation's handler fails ("... already exists", HandlerErrorCode
  AlreadyExists; SNS's CreateTopic API itself stays idempotent).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import FunctionAlreadyExists
from moto.kms import models as kms_models
from moto.kms.exceptions import AlreadyExistsException
from moto.s3 import models as s3_models
from moto.sns import models as sns_models

from rollout.moto_models.base import NameTaken

_installed = False
_original_key_create = kms_models.Key.create_from_cloudformation_json.__func__


def _kms_properties(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    properties = dict(cloudformation_json.get("Properties", {}))
    properties["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags") or []]
    if isinstance(properties.get("KeyPolicy"), dict):
        properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
    return {**cloudformation_json, "Properties": properties}


def _key_create(cls: type, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> Any:
    return _original_key_create(cls, resource_name, _kms_properties(cloudformation_json),
                                account_id, region_name, **kwargs)


def _key_update(cls: type, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
                account_id: str, region_name: str) -> Any:
    properties = _kms_properties(cloudformation_json)["Properties"]
    original_resource.policy = properties.get("KeyPolicy", original_resource.policy)
    original_resource.description = properties.get("Description", original_resource.description)
    original_resource.key_rotation_status = properties.get("EnableKeyRotation", False)
    original_resource.enabled = properties.get("Enabled", True)
    return original_resource


_original_bucket_create = s3_models.FakeBucket.create_from_cloudformation_json.__func__
_original_bucket_update = s3_models.FakeBucket.update_from_cloudformation_json.__func__


def _apply_bucket_properties(bucket: Any, properties: dict[str, Any], account_id: str) -> None:
    backend = s3_models.s3_backends[account_id]["aws"]
    versioning = properties.get("VersioningConfiguration")
    if versioning:
        backend.put_bucket_versioning(bucket.name, versioning["Status"])
    block = properties.get("PublicAccessBlockConfiguration")
    if block:
        backend.put_public_access_block(bucket.name, {k: str(v).lower() == "true" for k, v in block.items()})
    ownership = (properties.get("OwnershipControls") or {}).get("Rules") or []
    if ownership:
        backend.put_bucket_ownership_controls(bucket.name, ownership[0]["ObjectOwnership"])
    logging = properties.get("LoggingConfiguration")
    if logging is not None:
        target_name = logging.get("DestinationBucketName", bucket.name)
        target = backend.buckets.get(target_name)
        if target is None:
            raise ValidationError(message=f"AWS::S3::Bucket {bucket.name}: InvalidTargetBucketForLogging: "
                                          f"The target bucket for logging does not exist: {target_name}")
        if target.region_name != bucket.region_name:
            # S3 server access logs are delivered only to a bucket of the same region.
            raise ValidationError(message=f"AWS::S3::Bucket {bucket.name}: CrossLocationLoggingProhibited: "
                                          f"Cross S3 location logging not allowed: {bucket.region_name} to "
                                          f"{target.region_name} ({target_name})")
        bucket.logging = {"TargetBucket": target_name, "TargetPrefix": logging.get("LogFilePrefix", "")}


def _bucket_create(cls: type, resource_name: str, cloudformation_json: Any, account_id: str,
                   region_name: str, **kwargs: Any) -> Any:
    bucket = _original_bucket_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    _apply_bucket_properties(bucket, cloudformation_json.get("Properties", {}), account_id)
    return bucket


def _bucket_update(cls: type, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
                   account_id: str, region_name: str) -> Any:
    bucket = _original_bucket_update(cls, original_resource, new_resource_name, cloudformation_json,
                                     account_id, region_name)
    _apply_bucket_properties(bucket, cloudformation_json.get("Properties", {}), account_id)
    return bucket


_original_create_function = lambda_models.LambdaBackend.create_function


def _create_function(self: Any, spec: dict[str, Any]) -> Any:
    name = spec.get("FunctionName")
    if name and name in self._lambdas._functions:
        raise FunctionAlreadyExists(name)
    return _original_create_function(self, spec)


_original_create_alias = kms_models.KmsBackend.create_alias


def _create_alias(self: Any, target_key_id: str, alias_name: str) -> Any:
    if self.alias_exists(alias_name):
        raise AlreadyExistsException(f"An alias with the name arn:aws:kms:{self.region_name}:{self.account_id}:"
                                     f"{alias_name} already exists")
    return _original_create_alias(self, target_key_id, alias_name)


_original_topic_create = sns_models.Topic.create_from_cloudformation_json.__func__


def _topic_create(cls: type, resource_name: str, cloudformation_json: Any, account_id: str,
                  region_name: str, **kwargs: Any) -> Any:
    backend = sns_models.sns_backends[account_id][region_name]
    if any(topic.name == resource_name for topic in backend.topics.values()):
        raise NameTaken(resource_name)
    return _original_topic_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


def install() -> None:
    global _installed
    if _installed:
        return
    lambda_models.LambdaBackend.create_function = _create_function
    kms_models.KmsBackend.create_alias = _create_alias
    sns_models.Topic.create_from_cloudformation_json = classmethod(_topic_create)
    kms_models.Key.create_from_cloudformation_json = classmethod(_key_create)
    kms_models.Key.update_from_cloudformation_json = classmethod(_key_update)
    s3_models.FakeBucket.create_from_cloudformation_json = classmethod(_bucket_create)
    s3_models.FakeBucket.update_from_cloudformation_json = classmethod(_bucket_update)
    _installed = True
