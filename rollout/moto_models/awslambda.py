"""AWS::Lambda::Version for moto's CloudFormation, backed by moto's Lambda (PublishVersion).

moto's own model returns the logical id for Ref and has no attributes; CloudFormation returns
the version ARN (`...:function:<name>:<number>`), which is what CloudFront needs for Lambda@Edge.
"""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import lambda_backends
from moto.core.common_models import CloudFormationModel

from rollout.moto_models.base import EmulatedResource, ResourceFailed


class EmulatedLambdaVersion(EmulatedResource, CloudFormationModel):
    ATTRIBUTES = ("Version", "FunctionArn")

    def __init__(self, account_id: str, region_name: str, function_name: str, version: str, arn: str):
        self.account_id = account_id
        self.region_name = region_name
        self.function_name = function_name
        self.version = version
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Version"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def attribute(self, name: str) -> Any:
        return self.version if name == "Version" else self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EmulatedLambdaVersion":
        properties = cloudformation_json["Properties"]
        backend = lambda_backends[account_id][region_name]
        try:
            function = backend.get_function(properties["FunctionName"])
            # As Lambda's PublishVersion: a new version only when code or configuration changed.
            published = backend.publish_version(function.function_name, properties.get("Description", ""))
        except Exception as exc:
            raise ResourceFailed(cls.cloudformation_type(), f"cannot publish {properties['FunctionName']}: {exc}") from None
        version = str(published.version)
        arn = f"arn:aws:lambda:{region_name}:{account_id}:function:{function.function_name}:{version}"
        return cls(account_id, region_name, function.function_name, version, arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> "EmulatedLambdaVersion":
        # Versions are immutable: any change publishes a new one, as CloudFormation does.
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        original_resource.remove()
        return new

    def remove(self) -> None:
        backend = lambda_backends[self.account_id][self.region_name]
        try:
            backend.delete_function(self.function_name, self.version)
        except Exception:
            pass  # the function (and so its versions) is gone already
