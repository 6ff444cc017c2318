"""Fixes to moto 5.2.5's own CloudFormation models of types the templates use.

- AWS::KMS::Key: moto passed the template's Tags ({Key, Value}) where its tagger expects
  {TagKey, TagValue} and failed; the key policy (a JSON object in a template) is stored as the
  JSON text KMS returns; an update (policy, rotation, description) is applied to the key instead
  of dropping the resource.
"""

from __future__ import annotations

import json
from typing import Any

from moto.kms import models as kms_models

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


def install() -> None:
    global _installed
    if _installed:
        return
    kms_models.Key.create_from_cloudformation_json = classmethod(_key_create)
    kms_models.Key.update_from_cloudformation_json = classmethod(_key_update)
    _installed = True
