"""Fix to moto 5.2.5's AWS::IAM::Role: inline policies are JSON documents and follow stack updates.

moto stored a template's inline policy as a Python dict, so GetRolePolicy returned its repr instead
of the JSON document IAM returns; and a stack update changed neither the inline policies nor the
trust policy (moto only updated the description). CloudFormation applies both in place.
"""

from __future__ import annotations

import json
from typing import Any

from moto.iam import models as iam_models
from moto.utilities.utils import get_partition

_installed = False
_original_create = iam_models.Role.create_from_cloudformation_json.__func__
_original_update = iam_models.Role.update_from_cloudformation_json.__func__


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _with_json_policies(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    properties = dict(cloudformation_json.get("Properties", {}))
    properties["Policies"] = [{**p, "PolicyDocument": _document(p["PolicyDocument"])}
                              for p in properties.get("Policies") or []]
    return {**cloudformation_json, "Properties": properties}


def _create(cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
            **kwargs: Any) -> Any:
    return _original_create(cls, resource_name, _with_json_policies(cloudformation_json), account_id,
                            region_name, **kwargs)


def _update(cls: type, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
            account_id: str, region_name: str) -> Any:
    role = _original_update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                            region_name)
    properties = _with_json_policies(cloudformation_json)["Properties"]
    backend = iam_models.iam_backends[account_id][get_partition(region_name)]
    backend.update_assume_role_policy(role.name, _document(properties["AssumeRolePolicyDocument"]))
    wanted = {p["PolicyName"]: p["PolicyDocument"] for p in properties["Policies"]}
    for name in list(role.policies):
        if name not in wanted:
            role.delete_policy(name)
    for name, document in wanted.items():
        role.put_policy(name, document)
    return role


def install() -> None:
    global _installed
    if not _installed:
        iam_models.Role.create_from_cloudformation_json = classmethod(_create)
        iam_models.Role.update_from_cloudformation_json = classmethod(_update)
        _installed = True
