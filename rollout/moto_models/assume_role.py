"""STS AssumeRole as AWS answers it; moto 5.2.5 hands out credentials for any role ARN.

moto's AssumeRole does not need the role to exist, reads no trust policy and takes a session
policy of any size. So a rollout into an account that was never bootstrapped, or whose role
trusts another account, passes every rehearsal and fails in AWS. Here AssumeRole is refused,
with STS's AccessDenied ("User: ... is not authorized to perform: sts:AssumeRole on resource:
..."), unless:
- the role exists, and its trust policy has an Allow for sts:AssumeRole whose AWS principal is
  the caller: "*", the caller's account (its id or its root ARN), the caller's ARN, or the role
  the caller's session was assumed from; and no such Deny;
- every condition of that statement holds, of those this emulator knows: sts:ExternalId with
  StringEquals. A statement with any other condition does not apply, as IAM treats a condition
  on a key the request does not carry;
and the session policy's text is at most 2,048 characters (STS: ValidationError).

The caller's own permission to call sts:AssumeRole (an identity policy) is not checked: moto
keeps no identity policies for its default credentials.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import AccessDeniedError
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import sts_backends
from moto.sts.responses import TokenResponse

from rollout.moto_models.session_policies import action_matches, credential, session_of, statements

_installed = False
_original = TokenResponse.assume_role

# STS refuses a session policy whose plain text is over 2,048 characters (STS API reference, AssumeRole).
MAX_SESSION_POLICY_CHARS = 2048


def principal_matches(principal: Any, caller: dict[str, str]) -> bool:
    """Whether a Principal names the caller: "*", or {"AWS": ...} naming "*", its account id or root ARN, its
    ARN or (for a session) its role's ARN."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    names = principal.get("AWS", [])
    names = [names] if isinstance(names, str) else names
    account = caller["account"]
    accepted = {"*", account, f"arn:aws:iam::{account}:root", caller["arn"], caller.get("role_arn")}
    return any(name in accepted for name in names)


def _conditions_hold(conditions: dict[str, Any], external_id: str | None) -> bool:
    for operator, values in conditions.items():
        for key, expected in values.items():
            if operator != "StringEquals" or key.lower() != "sts:externalid":
                return False
            wanted = [expected] if isinstance(expected, str) else list(expected)
            if external_id not in wanted:
                return False
    return True


def trusts(trust_policy: Any, caller: dict[str, str], external_id: str | None) -> bool:
    """Whether a role's trust policy lets `caller` ({account, arn, role_arn}) assume the role."""
    allowed = False
    for statement in statements(trust_policy):
        if not action_matches(statement.get("Action"), "sts:AssumeRole"):
            continue
        if not principal_matches(statement.get("Principal"), caller):
            continue
        if statement.get("Condition") and not _conditions_hold(statement["Condition"], external_id):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed |= statement.get("Effect") == "Allow"
    return allowed


def _caller(response: Any) -> dict[str, str]:
    key = credential(response.headers)[0]
    account = response.current_account
    session = session_of(key)
    if session is not None:
        return {"account": session.account_id, "arn": session.arn, "role_arn": session.role_arn}
    _, arn, account = sts_backends[account]["aws"].get_caller_identity(key, response.region)
    return {"account": account, "arn": arn}


def _assume_role(self: Any) -> Any:
    role_arn = self._get_param("RoleArn") or ""
    policy = self._get_param("Policy")
    if policy is not None and len(policy) > MAX_SESSION_POLICY_CHARS:
        raise STSClientError("ValidationError", "1 validation error detected: Value at 'policy' failed to satisfy "
                             f"constraint: Member must have length less than or equal to {MAX_SESSION_POLICY_CHARS}")
    caller = _caller(self)
    parts = role_arn.split(":")
    role = None
    if len(parts) == 6 and parts[2] == "iam" and parts[4] in iam_backends:
        try:
            role = iam_backends[parts[4]]["aws"].get_role_by_arn(role_arn)
        except NotFoundException:
            role = None
    if role is None or not trusts(role.assume_role_policy_document, caller, self._get_param("ExternalId")):
        raise AccessDeniedError(user_arn=caller["arn"], action=f"sts:AssumeRole on resource: {role_arn}")
    return _original(self)


def install() -> None:
    global _installed
    if not _installed:
        TokenResponse.assume_role = _assume_role
        _installed = True


def seed_role(account: str, role_name: str, trusted_account: str, description: str = "") -> bool:
    """Create, in `account`, a role that `trusted_account` may assume, as exists before any rollout
    (an organization's access role, a test's way into an account); True if it was created."""
    iam = iam_backends[account]["aws"]
    try:
        iam.get_role(role_name)
        return False
    except NotFoundException:
        pass
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{trusted_account}:root"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(role_name=role_name, assume_role_policy_document=trust, path="/", permissions_boundary=None,
                    description=description, tags=[], max_session_duration="3600", linked_service=None)
    return True
