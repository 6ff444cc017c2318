"""AWS::S3::BucketPolicy for moto's CloudFormation, backed by moto's S3 backend (PutBucketPolicy)."""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends

from rollout.moto_models.base import EmulatedResource, ResourceFailed


class EmulatedBucketPolicy(EmulatedResource, CloudFormationModel):
    """The policy is stored on the bucket: GetBucketPolicy returns it."""

    def __init__(self, account_id: str, bucket: str):
        self.account_id = account_id
        self.bucket = bucket

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    @classmethod
    def _put(cls, properties: dict[str, Any], account_id: str) -> "EmulatedBucketPolicy":
        bucket = properties["Bucket"]
        document = properties["PolicyDocument"]
        backend = s3_backends[account_id]["aws"]
        try:
            backend.get_bucket(bucket)
        except Exception:
            raise ResourceFailed(cls.cloudformation_type(), f"NoSuchBucket: The specified bucket does not exist: {bucket}") from None
        for statement in document.get("Statement", []):
            for resource in statement.get("Resource", []) if isinstance(statement.get("Resource"), list) \
                    else [statement.get("Resource", "")]:
                # S3 rejects a bucket policy whose resources name another bucket.
                if resource.startswith("arn:") and resource.split(":::")[-1].split("/")[0] != bucket:
                    raise ResourceFailed(cls.cloudformation_type(), "MalformedPolicy: Policy has invalid "
                                         f"resource {resource} for bucket {bucket}")
        text = document if isinstance(document, str) else json.dumps(document)
        backend.put_bucket_policy(bucket, text.encode("utf-8"))
        return cls(account_id, bucket)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedBucketPolicy":
        return cls._put(cloudformation_json["Properties"], account_id)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedBucketPolicy":
        new = cls._put(cloudformation_json["Properties"], account_id)
        if new.bucket != original_resource.bucket:
            original_resource.remove()
        return new

    def remove(self) -> None:
        backend = s3_backends[self.account_id]["aws"]
        try:
            backend.delete_bucket_policy(self.bucket)
        except Exception:
            pass  # the bucket is gone already: so is its policy
