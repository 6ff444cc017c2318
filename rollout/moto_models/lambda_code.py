"""Lambda code from S3 as Lambda fetches it; moto 5.2.5 reads the object from any bucket anywhere.

A function whose `Code` is `{S3Bucket, S3Key}` (CreateFunction, UpdateFunctionCode, CloudFormation's
AWS::Lambda::Function) gets its package by a GetObject that Lambda makes in the function's region
with the caller's permissions. moto looks the bucket up in whatever account owns it
(`s3_backends.bucket_accounts`) and reads the object, whatever its region ("FIXME: does not validate
bucket region") and whatever its bucket policy. A rollout whose functions name the template bucket
of the wrong region, or a bucket whose policy does not let the target accounts read the package,
then passes every rehearsal and fails in AWS. Here Lambda refuses, as it does, with
InvalidParameterValueException:
- a bucket in another region than the function: "Error occurred while GetObject. S3 Error Code:
  PermanentRedirect. S3 Error Message: The bucket is in this region: <region>. Please use this
  region to retry the request";
- a bucket of another account whose bucket policy does not allow the caller s3:GetObject on
  `arn:aws:s3:::<bucket>/<key>`, or denies it: "Error occurred while GetObject. S3 Error Code:
  AccessDenied. S3 Error Message: Access Denied".
A bucket that does not exist or an object that does not exist is left to moto (NoSuchBucket,
NoSuchKey). A bucket of the function's own account needs no bucket policy: the caller's identity
policies would decide, and they are not emulated.

The caller is taken to be the account's StackSets execution role
(`arn:aws:iam::<account>:role/AWSCloudFormationStackSetExecutionRole`, rollout/naming.py): it is the
caller of every function a stack-set instance creates (CloudFormation calls Lambda with the
credentials of whoever runs the stack). moto's models do not know who made a request, so direct
API calls are judged as that role's too. A statement applies to the caller when its Principal is
"*", or `{"AWS": ...}` naming "*", the account id, `arn:aws:iam::<account>:root` or the role's ARN
(NotPrincipal: when it names none of these); a Principal naming only services binds no caller.
Actions match as IAM matches them (case-insensitive, `*` and `?`); resources with `*` and `?` only,
case-sensitive. Conditions: Lambda fetches over TLS, so `aws:SecureTransport` is true (Bool or
BoolIfExists); a statement with a condition on any other key, or another operator, does not apply
(as in assume_role.py). Not emulated: object ACLs and ownership, KMS-encrypted objects, S3 Access
Points, layers (PublishLayerVersion keeps moto's behaviour).
"""

from __future__ import annotations

import contextvars
import json
import re
from typing import Any

from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import InvalidParameterValueException
from moto.s3.models import s3_backends

from rollout import naming
from rollout.moto_models.assume_role import principal_matches
from rollout.moto_models.session_policies import action_matches, statements

_installed = False

# Set while CloudFormation updates a function: the update's own check has run (or was not needed).
_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("lambda_code_checked", default=False)

_GET_OBJECT_FAILED = "Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"


def _pattern_matches(patterns: Any, value: str) -> bool:
    """Policy resource matching: `*` any run of characters, `?` one character, nothing else special."""
    if isinstance(patterns, str):
        patterns = [patterns]
    for pattern in patterns or []:
        regex = re.escape(str(pattern)).replace(r"\*", ".*").replace(r"\?", ".")
        if re.fullmatch(regex, value, flags=re.DOTALL):
            return True
    return False


def _names_only_services(principal: Any) -> bool:
    return isinstance(principal, dict) and set(principal) == {"Service"}


def _conditions_hold(conditions: dict[str, Any]) -> bool:
    """Whether every condition holds for Lambda's fetch: only aws:SecureTransport (true) is known."""
    for operator, values in conditions.items():
        for key, expected in values.items():
            if operator not in ("Bool", "BoolIfExists") or key.lower() != "aws:securetransport":
                return False  # a key this emulator does not know: the statement does not apply
            wanted = [expected] if not isinstance(expected, list) else expected
            if "true" not in [str(value).lower() for value in wanted]:
                return False
    return True


def _applies(statement: dict[str, Any], account: str, caller_arn: str, resource: str) -> bool:
    if "NotPrincipal" in statement:
        if principal_matches(statement["NotPrincipal"], {"account": account, "arn": caller_arn}):
            return False
    elif _names_only_services(statement.get("Principal")) or \
            not principal_matches(statement.get("Principal"), {"account": account, "arn": caller_arn}):
        return False
    if "NotAction" in statement:
        if action_matches(statement["NotAction"], "s3:GetObject"):
            return False
    elif not action_matches(statement.get("Action"), "s3:GetObject"):
        return False
    if "NotResource" in statement:
        if _pattern_matches(statement["NotResource"], resource):
            return False
    elif not _pattern_matches(statement.get("Resource"), resource):
        return False
    return not statement.get("Condition") or _conditions_hold(statement["Condition"])


def bucket_policy_allows_get(policy: Any, bucket: str, key: str, account: str, caller_arn: str) -> bool:
    """Whether a bucket policy (JSON text, bytes or parsed; None: no policy) lets `caller_arn` of
    `account` GetObject `key`: an Allow applies and no Deny does."""
    if policy is None:
        return False
    if isinstance(policy, bytes):
        policy = policy.decode()
    document = json.loads(policy) if isinstance(policy, str) else policy
    resource = f"arn:aws:s3:::{bucket}/{key}"
    allowed = False
    for statement in statements(document):
        if not _applies(statement, account, caller_arn, resource):
            continue
        if statement.get("Effect") == "Deny":
            return False  # an explicit Deny wins over every Allow
        allowed |= statement.get("Effect") == "Allow"
    return allowed


def check_code_location(account_id: str, region: str, partition: str, code: dict[str, Any]) -> None:
    """Refuse S3 code Lambda could not fetch for a function of `account_id` in `region`.

    A missing bucket is left to moto, which answers NoSuchBucket (and NoSuchKey for a missing object).
    """
    if not isinstance(code, dict) or "S3Bucket" not in code or "S3Key" not in code:
        return
    name, key = str(code["S3Bucket"]), str(code["S3Key"])
    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return
    bucket_partition, bucket_account = owner
    if bucket_partition != partition:
        return  # another partition's bucket is not found at all: moto answers NoSuchBucket
    bucket = s3_backends[bucket_account][bucket_partition].get_bucket(name)
    # S3 answers a request sent to another region's endpoint with a 301 PermanentRedirect, before
    # it looks at permissions; Lambda asks the function's region and does not follow it.
    if bucket.region_name != region:
        raise InvalidParameterValueException(_GET_OBJECT_FAILED.format(
            code="PermanentRedirect",
            message=f"The bucket is in this region: {bucket.region_name}. Please use this region to retry the request"))
    # Across accounts both sides must allow the read: the bucket's policy must name the caller
    # (the caller's identity policies are not emulated).
    if bucket_account != account_id and not bucket_policy_allows_get(
            bucket.policy, name, key, account_id, naming.execution_role_arn(account_id)):
        raise InvalidParameterValueException(_GET_OBJECT_FAILED.format(code="AccessDenied", message="Access Denied"))


def _s3_location(code: Any) -> tuple[Any, Any, Any]:
    code = code if isinstance(code, dict) else {}
    return code.get("S3Bucket"), code.get("S3Key"), code.get("S3ObjectVersion")


def install() -> None:
    """Patch moto's LambdaFunction (idempotent)."""
    global _installed
    if _installed:
        return
    function = lambda_models.LambdaFunction
    original_set_code = function._set_function_code
    original_cfn_update = function.update_from_cloudformation_json.__func__

    # Every code source goes through here: the function's creation (CreateFunction, and
    # CloudFormation's create through it) and UpdateFunctionCode (API and CloudFormation update).
    # The check runs before moto changes anything. DryRun too: it checks access.
    def _set_function_code(self: Any, updated_spec: dict[str, Any]) -> None:
        if not _CHECKED.get():
            check_code_location(self.account_id, self.region, self.partition, updated_spec)
        original_set_code(self, updated_spec)

    # CloudFormation calls UpdateFunctionCode only when the Code property changed; moto's model
    # calls it on every update. Check a changed location before the configuration is touched.
    def update_from_cloudformation_json(cls: Any, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:
        code = cloudformation_json["Properties"].get("Code") or {}
        if _s3_location(code) != _s3_location(original_resource.code):
            check_code_location(original_resource.account_id, original_resource.region, original_resource.partition,
                                code)
        token = _CHECKED.set(True)
        try:
            return original_cfn_update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                       region_name)
        finally:
            _CHECKED.reset(token)

    function._set_function_code = _set_function_code
    function.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)
    _installed = True
