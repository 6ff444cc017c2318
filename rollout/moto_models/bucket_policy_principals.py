"""Fix to moto 5.2.5's bucket-policy check: a statement naming only service principals binds no API caller.

moto checks object requests against the bucket policy without a principal, so every statement
applies to every caller: a Deny naming only `cloudfront.amazonaws.com` (the origin bucket denies
.edgecdn/* to CloudFront) denied the bucket's own account too. In S3, a statement applies only to
the principals it names. Requests to the emulator come from IAM credentials, never from a service,
so statements whose Principal names only services are left out of the check.
"""

from __future__ import annotations

import json
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3 import models as s3_models

_installed = False


def _names_only_services(principal: Any) -> bool:
    return isinstance(principal, dict) and set(principal) == {"Service"}


def _get_permission(self: Any, action: str, resource: str) -> Any:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy.decode())
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    callers = [s for s in statements if not _names_only_services(s.get("Principal"))]
    if not callers:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**document, "Statement": callers})).is_action_permitted(action, resource)


def install() -> None:
    global _installed
    if not _installed:
        s3_models.FakeBucket.get_permission = _get_permission
        _installed = True
