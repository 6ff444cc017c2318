"""`bootstrap`: the roles and template buckets self-managed stack sets need, created idempotently."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import botocore.exceptions

from rollout import naming
from rollout.aws import Access, Clients, error_code, error_message
from rollout.console import Console
from rollout.errors import RolloutFailed
from templates.common import MANAGED_BY
from templates.config import EnvConfig

# What the execution role may do: create and manage the resource types the component templates
# use. Service-level actions because CloudFormation calls whatever API a resource property needs
# (AWS's own sample grants AdministratorAccess); the list keeps every other service out.
# A role created moments ago takes a few seconds to be usable as a principal elsewhere.
PRINCIPAL_ATTEMPTS = 6
PRINCIPAL_WAIT_SECONDS = 5.0

EXECUTION_ROLE_SERVICES = (
    "cloudformation", "s3", "kms", "dynamodb", "iam", "lambda", "logs", "wafv2", "cloudfront",
    "acm", "route53", "sns", "cloudwatch",
)


def _policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _as_document(value: Any) -> dict[str, Any]:
    """IAM returns policy documents URL-encoded (boto3 usually decodes them): accept both."""
    if isinstance(value, dict):
        return value
    return json.loads(unquote(value))


def _canonical(document: Any) -> str:
    def normalize(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: normalize(v) for k, v in value.items()}
        if isinstance(value, list):
            items = [normalize(v) for v in value]
            return items[0] if len(items) == 1 else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return value
    return json.dumps(normalize(document), sort_keys=True)


def administration_trust(admin_account: str) -> dict[str, Any]:
    # Only CloudFormation acting for this account's stack sets may assume the role (confused-
    # deputy protection, as the StackSets user guide recommends).
    return _policy([{
        "Effect": "Allow",
        "Principal": {"Service": "cloudformation.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": admin_account}},
    }])


def administration_policy(accounts: tuple[str, ...]) -> dict[str, Any]:
    return _policy([{
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": sorted(naming.execution_role_arn(a) for a in accounts),
    }])


def execution_trust_statement(admin_account: str) -> dict[str, Any]:
    # The administration account as a whole, as in AWS's template: the administration role
    # assumes it for StackSets, and deploy.py assumes it (with a read-only session policy) to read
    # the instance stacks' outputs and events.
    return {
        "Sid": f"StackSetAdministration{admin_account}",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{admin_account}:root"},
        "Action": "sts:AssumeRole",
    }


def execution_policy() -> dict[str, Any]:
    return _policy([{
        "Effect": "Allow",
        "Action": [f"{service}:*" for service in EXECUTION_ROLE_SERVICES],
        "Resource": "*",
    }])


def template_bucket_policy(bucket: str, env: EnvConfig, existing: dict[str, Any] | None) -> dict[str, Any]:
    """TLS only; this environment's execution roles read this environment's prefix.

    Other environments' statements in the same bucket are kept (one bucket per project, account
    and region serves every environment).
    """
    env_sid = f"ExecutionRolesRead{env.environment.capitalize()}"
    statements = [s for s in (existing or {}).get("Statement", [])
                  if s.get("Sid") not in ("DenyInsecureTransport", env_sid)]
    statements.insert(0, {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })
    statements.append({
        "Sid": env_sid,
        "Effect": "Allow",
        "Principal": {"AWS": sorted(naming.execution_role_arn(a) for a in env.deploy.accounts)},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/{env.environment}/*",
    })
    return _policy(statements)


class Bootstrapper:
    """Creates or repairs each bootstrap resource, calling a mutating API only where needed."""

    def __init__(self, env: EnvConfig, clients: Clients, console: Console):
        self.env = env
        self.clients = clients
        self.console = console
        self.changed = 0

    def _report(self, what: str, outcome: str) -> None:
        if outcome != "unchanged":
            self.changed += 1
        self.console.line(f"  {outcome:<9} {what}")

    def run(self) -> int:
        admin = self.clients.account
        self.console.line(f"Bootstrapping {naming.stack_set_name(self.env)} from account {admin}:")
        iam = self.clients.admin("iam", "us-east-1")
        self._ensure_role(
            iam, naming.ADMINISTRATION_ROLE_NAME, administration_trust(admin),
            f"{self.env.name_prefix}-assume-execution-roles",
            administration_policy(self.env.deploy.accounts), f"administration role in {admin}",
            replace_trust=True,
        )
        for account in self.env.deploy.accounts:
            target_iam = self.clients.target(account, "iam", "us-east-1", Access.BOOTSTRAP)
            self._ensure_role(
                target_iam, naming.EXECUTION_ROLE_NAME, _policy([execution_trust_statement(admin)]),
                f"{self.env.name_prefix}-stackset-execution", execution_policy(),
                f"execution role in {account}", replace_trust=False,
                trust_statement=execution_trust_statement(admin),
            )
        self.ensure_template_buckets(list(self.env.regions))
        self.console.line("Bootstrap complete." if self.changed else "Bootstrap complete: nothing to change.")
        return 0

    def _ensure_role(
        self,
        iam: Any,
        name: str,
        trust: dict[str, Any],
        policy_name: str,
        policy: dict[str, Any],
        what: str,
        replace_trust: bool,
        trust_statement: dict[str, Any] | None = None,
    ) -> None:
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise RolloutFailed(f"cannot read role {name} ({what}): {error_message(exc)}") from exc
            iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                Description="CloudFormation StackSets (self-managed), created by deploy.py bootstrap",
                Tags=[{"Key": "ManagedBy", "Value": MANAGED_BY}],
            )
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
            self._report(f"{what} ({name})", "created")
            return
        outcome = "unchanged"
        current_trust = _as_document(role["AssumeRolePolicyDocument"])
        if replace_trust:
            wanted_trust = trust
        else:
            # The role may serve other administration accounts too: add ours, keep theirs.
            statements = [s for s in current_trust.get("Statement", [])
                          if s.get("Sid") != trust_statement["Sid"]]
            wanted_trust = _policy(statements + [trust_statement])
        if _canonical(current_trust) != _canonical(wanted_trust):
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(wanted_trust))
            outcome = "updated"
        try:
            current = _as_document(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            current = None
        if current is None or _canonical(current) != _canonical(policy):
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
            outcome = "updated"
        self._report(f"{what} ({name})", outcome)

    def ensure_template_buckets(self, regions: list[str]) -> None:
        """The template buckets of these regions, as `run` makes them (deploy: regions added since)."""
        for region in regions:
            self._ensure_bucket(naming.template_bucket_name(self.env.project, self.clients.account, region), region)

    def _ensure_bucket(self, bucket: str, region: str) -> None:
        s3 = self.clients.admin("s3", region)
        what = f"template bucket {bucket}"
        outcome = "unchanged"
        try:
            s3.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in ("403", "AccessDenied", "Forbidden"):
                raise RolloutFailed(f"bucket {bucket} exists but is not readable by this account "
                                    "(bucket names are global: is it another account's?)") from exc
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**kwargs)
            outcome = "created"
        if self._ensure_bucket_settings(s3, bucket) and outcome == "unchanged":
            outcome = "updated"
        self._report(what, outcome)

    def _ensure_bucket_settings(self, s3: Any, bucket: str) -> bool:
        changed = False
        block_all = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                     "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
        try:
            current_block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except botocore.exceptions.ClientError:
            current_block = {}
        if any(current_block.get(k) is not True for k in block_all):
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block_all)
            changed = True
        # SSE-S3, not SSE-KMS: the execution roles of other accounts read these templates, and a
        # KMS key would need a cross-account key grant for each of them.
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        except botocore.exceptions.ClientError:
            rules = []
        if not any(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") == "AES256" for r in rules):
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
            changed = True
        try:
            ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        except botocore.exceptions.ClientError:
            ownership = []
        if [r.get("ObjectOwnership") for r in ownership] != ["BucketOwnerEnforced"]:
            s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
                "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
            changed = True
        try:
            existing = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in ("NoSuchBucketPolicy", "404"):
                raise
            existing = None
        wanted = template_bucket_policy(bucket, self.env, existing)
        if existing is None or _canonical(existing) != _canonical(wanted):
            self._put_bucket_policy(s3, bucket, wanted)
            changed = True
        return changed

    def _put_bucket_policy(self, s3: Any, bucket: str, policy: dict[str, Any]) -> None:
        for attempt in range(1, PRINCIPAL_ATTEMPTS + 1):
            try:
                s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
                return
            except botocore.exceptions.ClientError as exc:
                # IAM is eventually consistent: S3 can call a role created seconds ago an invalid
                # principal until the role has propagated.
                if (error_code(exc) != "MalformedPolicy" or "principal" not in error_message(exc).lower()
                        or attempt == PRINCIPAL_ATTEMPTS):
                    raise
                self.console.line(f"  S3 does not know the new execution role(s) yet (IAM propagation); "
                                  f"retrying the bucket policy of {bucket} in {PRINCIPAL_WAIT_SECONDS:.0f}s")
                self.clients.sleep(PRINCIPAL_WAIT_SECONDS)


def bootstrap(env: EnvConfig, clients: Clients, console: Console) -> int:
    """Create or repair the administration role, the execution roles and the template buckets."""
    return Bootstrapper(env, clients, console).run()
