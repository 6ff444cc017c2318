"""boto3 access for the rollout: sessions, clients per account and region, throttling retries, call counts."""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import boto3
import botocore.exceptions
from botocore.config import Config

from rollout.errors import InputError, RolloutFailed
from rollout.naming import EXECUTION_ROLE_NAME

# Error codes AWS services use for throttling. botocore's standard retry mode already retries
# them a few times; what still comes through (a long burst, many CI jobs) is retried here with a
# longer backoff, and Stubber-driven tests can exercise it (Stubber bypasses botocore's retries).
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "PriorRequestNotComplete",
})

_READ_PREFIXES = ("Describe", "List", "Get", "Head")
_NON_MUTATING = frozenset({"AssumeRole", "GetCallerIdentity"})


def is_mutating(operation: str) -> bool:
    """True for an API operation that can change state (everything but Describe/List/Get/Head)."""
    return not (operation.startswith(_READ_PREFIXES) or operation in _NON_MUTATING)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, or "" for anything else."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def head_object(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject's answer, or None when there is no such object."""
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def error_message(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


@dataclass
class CallLog:
    """Every API call the rollout makes (service, operation), in order: for the no-op check and figures."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def record(self, service: str, operation: str) -> None:
        self.calls.append((service, operation))

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> "CallLog":
        return CallLog(self.calls[mark:])

    @property
    def mutating(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if is_mutating(c[1])]

    @property
    def reads(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if not is_mutating(c[1])]

    def by_operation(self) -> Counter[str]:
        return Counter(f"{service}:{operation}" for service, operation in self.calls)


@dataclass(frozen=True)
class Backoff:
    """Exponential delays with a cap: fast first, then no more than one call per `cap` seconds."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 15.0
    jitter: float = 0.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay * (1 + random.uniform(-self.jitter, self.jitter)) if self.jitter else delay
            delay = min(self.cap, delay * self.factor)


THROTTLE_BACKOFF = Backoff(initial=1.0, factor=2.0, cap=20.0, jitter=0.2)
THROTTLE_ATTEMPTS = 8


class RetryingClient:
    """A boto3 client whose operations retry throttling with backoff and are counted in a CallLog."""

    def __init__(
        self,
        client: Any,
        log: CallLog,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff = THROTTLE_BACKOFF,
        attempts: int = THROTTLE_ATTEMPTS,
        notify: Callable[[str], None] | None = None,
    ):
        self._client = client
        self._log = log
        self._sleep = sleep
        self._backoff = backoff
        self._attempts = attempts
        self._notify = notify
        self._operations = client.meta.method_to_api_mapping

    @property
    def meta(self) -> Any:
        return self._client.meta

    @property
    def exceptions(self) -> Any:
        return self._client.exceptions

    @property
    def region(self) -> str:
        return self._client.meta.region_name

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        operation = self._operations.get(name)
        if operation is None:
            return attr
        service = self._client.meta.service_model.service_name

        def call(**kwargs: Any) -> Any:
            delays = self._backoff.delays()
            for attempt in range(1, self._attempts + 1):
                self._log.record(service, operation)
                try:
                    return attr(**kwargs)
                except botocore.exceptions.ClientError as exc:
                    if error_code(exc) not in THROTTLING_CODES or attempt == self._attempts:
                        raise
                    delay = next(delays)
                    if self._notify:
                        self._notify(f"{service} {operation} throttled ({error_code(exc)}); "
                                     f"retrying in {delay:.1f}s (attempt {attempt + 1} of {self._attempts})")
                    self._sleep(delay)
            raise AssertionError("unreachable")

        call.__name__ = name
        return call


def pages(method: Callable[..., dict], key: str, **kwargs: Any) -> Iterator[Any]:
    """Items of a paginated list/describe call that uses NextToken (through RetryingClient)."""
    while True:
        response = method(**kwargs)
        yield from response.get(key, [])
        token = response.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


# The reads deploy/status/outputs/diff/destroy make in a target account: the execution role is
# assumed with this session policy, so those commands can only look (a session policy narrows
# what the role may do for this session).
READ_ACTIONS = (
    "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResources", "cloudformation:ListStackResources",
    "cloudformation:GetTemplate",
)
# What deploy's pre-flight and `retained` also read: whether a name the templates use is taken.
# These Describe/List/Get/Head calls take no narrower resource that is known before the lookup
# (ListBuckets, ListAliases and ListDistributions have none at all).
INSPECT_ACTIONS = READ_ACTIONS + (
    "s3:ListAllMyBuckets", "s3:ListBucket", "dynamodb:DescribeTable", "logs:DescribeLogGroups",
    "lambda:GetFunction", "iam:GetRole", "kms:ListAliases", "cloudfront:ListDistributions",
)


def session_policy(statements: list[dict[str, Any]]) -> str:
    """A session policy document, as compact as STS counts it (at most 2,048 characters)."""
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))


READ_SESSION_POLICY = session_policy([{"Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"}])
INSPECT_SESSION_POLICY = session_policy([{"Effect": "Allow", "Action": list(INSPECT_ACTIONS), "Resource": "*"}])

# STS refuses a session policy over 2,048 characters of plain text.
MAX_SESSION_POLICY_CHARS = 2048


class Access:
    """Why a target account is entered, and so which role and session policy are used.

    READ, INSPECT and SCOPED use the execution role narrowed by a session policy: READ to reading
    stacks, INSPECT also to looking up names, SCOPED to what the caller's policy names (the
    resources `retained` reads or deletes). BOOTSTRAP uses the bootstrap role, unnarrowed.
    Others: Clients.define_access.
    """

    READ = "read"
    INSPECT = "inspect"
    SCOPED = "scoped"
    BOOTSTRAP = "bootstrap"


@dataclass
class _Assumed:
    credentials: dict[str, Any]
    expires: datetime


class Clients:
    """Clients of the deploying (administration) account and, through roles, of the target accounts.

    Deploy logic only talks to AWS through this object, so tests can hand it pre-stubbed clients.
    """

    def __init__(
        self,
        session: boto3.Session,
        endpoint_url: str | None = None,
        log: CallLog | None = None,
        sleep: Callable[[float], None] = time.sleep,
        bootstrap_role_name: str = "OrganizationAccountAccessRole",
        notify: Callable[[str], None] | None = None,
    ):
        self.session = session
        self.endpoint_url = endpoint_url
        self.log = log if log is not None else CallLog()
        self.sleep = sleep
        self.bootstrap_role_name = bootstrap_role_name
        self.notify = notify
        self._clients: dict[tuple, RetryingClient] = {}
        self._assumed: dict[tuple[str, str, str], _Assumed] = {}
        # Access -> (role assumed in the target account, session policy narrowing it, or None;
        # Access.SCOPED takes its policy from each call).
        self._accesses: dict[str, tuple[str, str | None]] = {
            Access.READ: (EXECUTION_ROLE_NAME, READ_SESSION_POLICY),
            Access.INSPECT: (EXECUTION_ROLE_NAME, INSPECT_SESSION_POLICY),
            Access.SCOPED: (EXECUTION_ROLE_NAME, None),
            Access.BOOTSTRAP: (bootstrap_role_name, None),
        }
        self._account: str | None = None
        self._arn: str | None = None

    def _config(self, service: str) -> Config:
        options: dict[str, Any] = {
            "retries": {"mode": "standard", "max_attempts": 5},
            "user_agent_extra": "edgecdn-deploy",
        }
        if service == "s3" and self.endpoint_url:
            # An emulator endpoint has no per-bucket DNS names.
            options["s3"] = {"addressing_style": "path"}
        return Config(**options)

    def _wrap(self, client: Any) -> RetryingClient:
        return RetryingClient(client, self.log, sleep=lambda seconds: self.sleep(seconds),
                              notify=lambda message: self.notify(message) if self.notify else None)

    def admin(self, service: str, region: str) -> RetryingClient:
        """A client of the deploying account."""
        key = ("admin", service, region)
        if key not in self._clients:
            self._clients[key] = self._wrap(self.session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=self._config(service)))
        return self._clients[key]

    def caller(self) -> tuple[str, str]:
        """(account id, principal ARN) of the credentials in use."""
        if self._account is None:
            try:
                identity = self.admin("sts", "us-east-1").get_caller_identity()
            except (botocore.exceptions.NoCredentialsError,
                    botocore.exceptions.PartialCredentialsError) as exc:
                raise InputError(f"no usable AWS credentials: {exc}. Set AWS_PROFILE or pass "
                                 "--profile, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.") from exc
            except botocore.exceptions.ClientError as exc:
                raise InputError(f"the AWS credentials were rejected ({error_code(exc)}: "
                                 f"{error_message(exc)})") from exc
            self._account, self._arn = identity["Account"], identity["Arn"]
        return self._account, self._arn or ""

    @property
    def account(self) -> str:
        return self.caller()[0]

    def target(self, account: str, service: str, region: str, access: str = Access.READ,
               policy: str | None = None) -> RetryingClient:
        """A client acting in `account`: the caller's own credentials there, else an assumed role.

        `policy` is the session policy of Access.SCOPED (the others have a fixed one).
        """
        if account == self.account:
            return self.admin(service, region)
        credentials = self._credentials(account, access, policy)
        key = ("target", account, access, service, region, credentials["AccessKeyId"])
        if key not in self._clients:
            self._clients[key] = self._wrap(self._client_as(credentials, service, region, self._config(service)))
        return self._clients[key]

    def assumed(self, role_arn: str, service: str, region: str, session_name: str, pool: int = 10) -> RetryingClient:
        """A client acting as `role_arn`, assumed with the caller's credentials (e.g. the site publisher role).

        `pool` is the number of HTTP connections the client keeps, for callers that send in parallel.
        """
        now = datetime.now(timezone.utc)
        cached = self._assumed.get((role_arn, session_name))
        if not cached or cached.expires - now <= timedelta(minutes=5):
            try:
                response = self.admin("sts", "us-east-1").assume_role(
                    RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=3600)
            except botocore.exceptions.ClientError as exc:
                raise RolloutFailed(f"cannot assume {role_arn} ({error_code(exc)}: {error_message(exc)}); "
                                    "the role trusts the account that deployed the stack set: use its "
                                    "credentials, with sts:AssumeRole on this role") from exc
            expires = response["Credentials"].get("Expiration")
            if not isinstance(expires, datetime):
                expires = now + timedelta(hours=1)
            cached = self._assumed[(role_arn, session_name)] = _Assumed(
                response["Credentials"], expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc))
        credentials = cached.credentials
        key = ("assumed", role_arn, service, region, pool, credentials["AccessKeyId"])
        if key not in self._clients:
            config = self._config(service).merge(Config(max_pool_connections=pool))
            self._clients[key] = self._wrap(self._client_as(credentials, service, region, config))
        return self._clients[key]

    def _client_as(self, credentials: dict[str, Any], service: str, region: str, config: Config) -> Any:
        """A client with other credentials (a role's), from the caller's session: its loaded service
        models are reused (a new session per account would parse them again, about 0.3 s per client)."""
        return self.session.client(
            service, region_name=region, endpoint_url=self.endpoint_url, config=config,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def define_access(self, access: str, role_name: str, session_policy: str | None) -> None:
        """Another reason to enter target accounts: assume `role_name` there, narrowed by `session_policy`."""
        self._accesses[access] = (role_name, session_policy)

    def _credentials(self, account: str, access: str, policy: str | None = None) -> dict[str, Any]:
        role_name, session_policy = self._accesses[access]
        session_policy = policy or session_policy
        if access == Access.SCOPED and not session_policy:
            raise ValueError("Access.SCOPED needs the session policy that names what it may do")
        cached = self._assumed.get((account, access, session_policy or ""))
        now = datetime.now(timezone.utc)
        # Long CloudFront operations outlive a session: renew before the credentials expire.
        if cached and cached.expires - now > timedelta(minutes=5):
            return cached.credentials
        role_arn = f"arn:aws:iam::{account}:role/{role_name}"
        kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": f"edgecdn-deploy-{access}",
                                  "DurationSeconds": 3600}
        if session_policy is not None:
            kwargs["Policy"] = session_policy
        try:
            response = self.admin("sts", "us-east-1").assume_role(**kwargs)
        except botocore.exceptions.ClientError as exc:
            hint = ("run `deploy.py bootstrap` first, or check that the execution role trusts this account"
                    if role_name == EXECUTION_ROLE_NAME else
                    "pass --bootstrap-role with a role of that account that trusts this one")
            raise RolloutFailed(f"cannot assume {role_arn} ({error_code(exc)}: {error_message(exc)}); "
                                f"{hint}") from exc
        credentials = response["Credentials"]
        expires = credentials.get("Expiration")
        if not isinstance(expires, datetime):
            expires = now + timedelta(hours=1)
        elif expires.tzinfo is None:
            expires = expires.replace(tzinfo=timezone.utc)
        self._assumed[(account, access, session_policy or "")] = _Assumed(credentials, expires)
        return credentials


def endpoint_url(text: str) -> str:
    """argparse type of --endpoint-url: an http(s) URL with a host (botocore raises ValueError on others)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in text
        parts.port  # noqa: B018 -- ValueError on a port that is not a number from 0 to 65535
    except ValueError:
        valid = False
    if not valid:
        raise argparse.ArgumentTypeError(f"must be an http(s) URL such as http://localhost:5000, got {text!r}")
    return text


def region_name(text: str) -> str:
    """argparse type of --region: an AWS region name such as us-west-2."""
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}", text):
        raise argparse.ArgumentTypeError(f"must be an AWS region such as us-west-2, got {text!r}")
    return text


def make_session(profile: str | None = None) -> boto3.Session:
    """A boto3 session from the standard credential chain (or the named profile)."""
    try:
        return boto3.Session(profile_name=profile)
    except botocore.exceptions.ProfileNotFound as exc:
        raise InputError(f"AWS profile {profile!r} not found in your AWS config ({exc})") from exc


def require_credentials(session: boto3.Session) -> None:
    """Fail with exit 2 before any call when the credential chain finds nothing."""
    try:
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as exc:
        raise InputError(f"cannot load AWS credentials: {exc}") from exc
    if credentials is None:
        raise InputError("no AWS credentials found: set AWS_PROFILE or pass --profile, or export "
                         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (deploy.py uses the standard "
                         "boto3 credential chain)")
