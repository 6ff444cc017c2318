"""Fix to moto 5.2.5's policy evaluation: a statement whose Condition does not match does not apply.

moto answers DENIED for any statement whose conditions it cannot verify, so the standard
"Deny s3:* to * when aws:SecureTransport is false" statement of a bucket policy denies every
request (moto knows no aws:SecureTransport value). IAM evaluates such a statement as not
applying (neither allow nor deny); with this fix moto does too.
"""

from __future__ import annotations

from typing import Any

from moto.iam import access_control

_installed = False
_original = access_control.IAMPolicyStatement.is_action_permitted


def _conditions_hold(conditions: dict[str, Any], incoming: dict[str, str] | None) -> bool:
    """IAM semantics for keys the request does not carry: the condition does not match
    (except for ...IfExists operators and Null)."""
    incoming = incoming or {}
    for operator, values in conditions.items():
        for key, expected in values.items():
            present = key in incoming
            if operator == "Null":
                wanted_absent = str(expected).lower() == "true"
                if wanted_absent == present:
                    return False
            elif not present and not operator.endswith("IfExists"):
                return False
    return True


def _is_action_permitted(self: Any, action: str, resource: str = "*", principal: str | None = None,
                         incoming_condition_values: dict[str, str] | None = None) -> Any:
    conditions = self._statement.get("Condition")
    if conditions and not _conditions_hold(conditions, incoming_condition_values):
        return access_control.PermissionResult.NEUTRAL
    return _original(self, action, resource, principal, incoming_condition_values)


def install() -> None:
    global _installed
    if not _installed:
        access_control.IAMPolicyStatement.is_action_permitted = _is_action_permitted
        _installed = True
