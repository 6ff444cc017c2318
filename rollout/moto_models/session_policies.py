"""Session policies, which moto 5.2.5 records at AssumeRole but never applies.

A request signed with an AssumeRole session's credentials may do only what both the role's policies
and the session policy passed to AssumeRole allow (IAM user guide, "Session policies"). moto stores
the session policy and ignores it, as it ignores every policy unless its opt-in IAM checks are on.
A deploy whose session policy forgot an action (HeadBucket is authorized as s3:ListBucket, a
DynamoDB transaction's puts as dynamodb:PutItem) then passes every rehearsal and fails in AWS with
AccessDenied, in the middle of a rollout.

Here a request made with a session that has a session policy is refused, with the error the
service returns, unless the policy allows every IAM action the request needs. Actions only: moto
cannot name the resource of most requests, so an Allow counts whatever resources it names, and a
Deny counts only when its Resource is "*" (it applies to every resource). The resources of the
deploy's policies are checked where they are built.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError
from moto.sts.models import sts_backends

_installed = False
_original = ActionAuthenticatorMixin._authenticate_and_authorize_action

# What moto names an S3 request -> the IAM action that authorizes it, where they differ
# (S3 user guide, "Actions, resources, and condition keys for Amazon S3"; HeadBucket needs s3:ListBucket).
_S3_ACTIONS = {
    "ListBuckets": "ListAllMyBuckets",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
}

# DynamoDB batch and transaction calls are authorized item by item, as the single-item actions
# (DynamoDB developer guide, "Using IAM policies with DynamoDB transactions" and "BatchWriteItem").
_DYNAMODB_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                          "ConditionCheck": "ConditionCheckItem", "Get": "GetItem",
                          "PutRequest": "PutItem", "DeleteRequest": "DeleteItem"}

# Services whose protocol is JSON (or REST-JSON): their errors are JSON, of type AccessDeniedException.
_JSON_SERVICES = frozenset({"dynamodb", "logs", "kms", "lambda", "wafv2", "acm"})


def credential(headers: Any) -> tuple[str, str]:
    """(access key id, service) of a SigV4-signed request's credential scope, or ("", "") unsigned."""
    authorization = headers.get("Authorization") or ""
    scope = authorization.partition("Credential=")[2].split(",", 1)[0].split("/")
    return (scope[0], scope[3]) if len(scope) > 3 else ("", "")


def session_of(access_key_id: str) -> Any:
    """The AssumeRole session whose credentials these are, if any."""
    for account_backends in list(sts_backends.values()):
        for backend in list(account_backends.values()):
            for role in backend.assumed_roles:
                if role.access_key_id == access_key_id:
                    return role
    return None


def required_actions(service: str, operation: str, body: bytes = b"") -> list[str]:
    """The IAM actions a request needs: `service:operation`, but for the calls authorized otherwise."""
    if service == "s3":
        actions = [f"s3:{_S3_ACTIONS.get(operation, operation)}"]
        if operation == "DeleteObject" and b"<VersionId>" in body:  # DeleteObjects naming versions
            actions.append("s3:DeleteObjectVersion")
        return actions
    if service == "dynamodb":
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        request = request if isinstance(request, dict) else {}
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return sorted({f"dynamodb:{_DYNAMODB_ITEM_ACTIONS[kind]}" for item in request.get("TransactItems") or []
                           for kind in item if kind in _DYNAMODB_ITEM_ACTIONS})
        if operation == "BatchGetItem":
            return ["dynamodb:GetItem"]
        if operation == "BatchWriteItem":
            return sorted({f"dynamodb:{_DYNAMODB_ITEM_ACTIONS[kind]}" for requests in
                           (request.get("RequestItems") or {}).values() for request in requests
                           for kind in request if kind in _DYNAMODB_ITEM_ACTIONS})
        if operation == "UpdateTable":
            # Adding or removing a global table replica also needs Create/DeleteTableReplica.
            extra = {f"dynamodb:{kind}TableReplica" for update in request.get("ReplicaUpdates") or []
                     for kind in update if kind in ("Create", "Delete")}
            return ["dynamodb:UpdateTable", *sorted(extra)]
    return [f"{service}:{operation}"]


def action_matches(patterns: Any, action: str) -> bool:
    """IAM action matching: case-insensitive, with * and ? wildcards."""
    if isinstance(patterns, str):
        patterns = [patterns]
    return any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in patterns or [])


def statements(document: Any) -> list[dict[str, Any]]:
    """A policy document's statements (JSON text or parsed; one statement or a list) as a list."""
    if isinstance(document, str):
        document = json.loads(document)
    found = (document or {}).get("Statement") or []
    return [found] if isinstance(found, dict) else list(found)


def allows(policy: dict[str, Any], action: str) -> bool:
    """Whether a session policy allows `action` (an explicit Deny on every resource wins)."""
    allowed = False
    for statement in statements(policy):
        if "NotAction" in statement:
            applies = not action_matches(statement["NotAction"], action)
        else:
            applies = action_matches(statement.get("Action"), action)
        if not applies:
            continue
        if statement.get("Effect") == "Deny" and statement.get("Resource") in ("*", ["*"]):
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def _refuse(service: str, user_arn: str, action: str, bucket: str | None) -> None:
    """Raise the error the service returns for a call that no session policy allows."""
    if service == "s3":
        raise BucketAccessDeniedError(bucket=bucket) if bucket else S3AccessDeniedError()
    reason = f"{action} because no session policy allows the {action} action"
    if service in _JSON_SERVICES:
        raise JsonRESTError("AccessDeniedException", f"User: {user_arn} is not authorized to perform: {reason}")
    raise AccessDeniedError(user_arn=user_arn, action=reason)


def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    _original(self, iam_request_cls, resource)
    key, service = credential(self.headers)
    session = session_of(key) if key else None
    if session is None or not session.policy:
        return
    if service == "s3":
        operation = self.data.get("Action") or ""
    else:
        operation = self._get_action()
    policy = json.loads(session.policy)
    body = self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body or "").encode()
    for action in required_actions(service, operation, body):
        if not allows(policy, action):
            bucket = resource.rpartition(":::")[2].split("/", 1)[0] if service == "s3" else ""
            _refuse(service, session.arn, action, bucket if bucket not in ("", "*") else None)


def install() -> None:
    global _installed
    if not _installed:
        ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action
        _installed = True
