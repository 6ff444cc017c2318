"""Shared behaviour of the emulated resource models (a mixin: moto only lists direct subclasses)."""

from __future__ import annotations

from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException, ValidationError


class ResourceFailed(ValidationError):
    """A resource the emulated service refused: the stack operation fails with this message."""

    def __init__(self, resource_type: str, message: str):
        super().__init__(message=f"{resource_type}: {message}")
        self.reason = message


class NameTaken(Exception):
    """A resource of that name exists: CloudFormation's resource handlers fail with AlreadyExists."""

    code = "AlreadyExists"

    def __init__(self, name: str):
        super().__init__(f"{name} already exists")
        self.message = f"{name} already exists"


class EmulatedResource:
    """Mixin for models: attribute lookup from ATTRIBUTES, created at once, instance delete."""

    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.ATTRIBUTES:
            return self.attribute(attribute_name)
        raise UnformattedGetAttTemplateException()

    def attribute(self, name: str) -> Any:
        raise NotImplementedError(name)

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        self.remove()

    def remove(self) -> None:
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        # Instance deletion (delete()) is what moto calls for resources it created; this is only
        # reached for a resource that was never created, where there is nothing to delete.
        return None


def tag_list(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": str(t["Value"])} for t in properties.get("Tags") or []]


def as_bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
