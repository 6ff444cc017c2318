"""`deploy.py edge-config`: validate, push, show, diff and roll back an environment's edge configuration."""

from __future__ import annotations

import argparse
import difflib
import getpass
import socket
import sys
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError, ProfileNotFound

from edgeconfig.model import EdgeConfig, StoredVersion, edge_config_path, load_edge_config
from edgeconfig.store import EdgeConfigStore, StoreError
from rollout.aws import endpoint_url, region_name
from templates.config import ConfigError, EnvConfig, load_environment

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

DESCRIPTION = """\
Manage the configuration the edge functions read from DynamoDB: redirects, index and SPA
rewrites, A/B experiments, maintenance mode and Cache-Control rules. The rules live in
config/edge/<env>.yaml; the table, its region and its replicas come from config/<env>.yaml.
Every push and rollback writes a new numbered version (history is append-only), on the
condition that nobody else pushed in between. Edge locations pick a new version up within
the cache TTL (edge_config.cache_ttl_seconds, 60 s by default), without a redeploy.

actions:
  validate   check the local file (no AWS access)
  push       validate, then write the file as the next version
  show       print the deployed configuration, a given --version, or the --history
  diff       compare the local file with the deployed configuration
  rollback   write a new version holding an earlier version's content

exit status:
  0  success; for diff: no differences
  1  the operation failed: version conflict, table missing, AWS error, nothing to roll
     back to, a --version or --to-version that does not exist; for diff: differences found
  2  bad input: invalid edge-config file (file and field named), unknown environment,
     missing AWS credentials or profile, a bad option value

See docs/edge-config.md for the file format and the table layout."""


def register(commands: Any) -> argparse.ArgumentParser:
    """Add the `edge-config` command and its actions to deploy.py's subcommands."""
    parser = commands.add_parser(
        "edge-config",
        help="validate, push, show, diff or roll back the edge functions' configuration",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", required=True, metavar="NAME",
                        help="environment: config/NAME.yaml names the table, config/edge/NAME.yaml holds the rules")
    local = argparse.ArgumentParser(add_help=False)
    local.add_argument("--file", type=Path, metavar="PATH",
                       help="edge configuration file to use instead of config/edge/NAME.yaml")
    aws = argparse.ArgumentParser(add_help=False)
    aws.add_argument("--profile", help="AWS named profile (default: the standard credential chain)")
    aws.add_argument("--region", type=region_name,
                     help="region of the table to write and read (default: the primary region)")
    aws.add_argument("--endpoint-url", metavar="URL", type=endpoint_url,
                     help="DynamoDB endpoint, e.g. a moto server or DynamoDB Local (http://localhost:8000)")

    actions = parser.add_subparsers(dest="edge_config_action", metavar="ACTION", required=True)
    actions.add_parser("validate", parents=[common, local], help="check the local file (no AWS access)",
                       description="Validate config/edge/NAME.yaml; every problem names the field path.")
    push = actions.add_parser("push", parents=[common, local, aws], help="write the file as the next version",
                              description="Validate the file, then write it as the next version, on the "
                                          "condition that the deployed version did not change meanwhile.")
    push.add_argument("--message", "-m", default="", type=_message,
                      help="why: stored with the version and shown by show")
    push.add_argument("--expect-version", type=_non_negative, metavar="N",
                      help="only push if version N is deployed (0: nothing deployed yet), e.g. the version "
                           "a reviewed diff was made against")
    show = actions.add_parser("show", parents=[common, aws], help="print the deployed configuration",
                              description="Print the deployed version, who pushed it and when, and its content.")
    what = show.add_mutually_exclusive_group()
    what.add_argument("--version", type=_positive, metavar="N", help="print version N from the history")
    what.add_argument("--history", action="store_true", help="list every version, newest first")
    actions.add_parser("diff", parents=[common, local, aws], help="compare the local file with the deployed one",
                       description="Unified diff from the deployed configuration to the local file "
                                   "(both with defaults filled in). Exit 1 when they differ.")
    rollback = actions.add_parser("rollback", parents=[common, aws], help="restore an earlier version",
                                  description="Write a NEW version whose content is an earlier version's "
                                              "(the previous one by default). History is never rewritten.")
    rollback.add_argument("--to-version", type=_positive, metavar="N",
                          help="version to restore (default: the one before the deployed version)")
    rollback.add_argument("--message", "-m", default="", type=_message, help="why: stored with the new version")
    parser.set_defaults(func=run)
    return parser


def _message(text: str) -> str:
    """argparse type of --message: one line the history can show (a DynamoDB item holds at most 400 KB)."""
    if len(text) > 1000 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"must be one line of at most 1000 printable characters, got {len(text)} "
                                         "characters" + ("" if text.isprintable() else " with control characters"))
    return text


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    if value > 10**9:
        raise argparse.ArgumentTypeError(f"must be a version number, at most 1000000000, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run one edge-config action; return the exit status."""
    try:
        env = load_environment(args.env)
        return _ACTIONS[args.edge_config_action](args, env)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except (NoCredentialsError, PartialCredentialsError) as exc:
        _error(f"{exc}: configure credentials (environment variables, ~/.aws/credentials, --profile, "
               "or an instance or SSO role)")
        return EXIT_BAD_INPUT
    except ProfileNotFound as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    except StoreError as exc:
        _error(str(exc))
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as exc:
        _error(f"AWS request failed: {exc}")
        return EXIT_FAILED


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _local_config(args: argparse.Namespace, env: EnvConfig) -> EdgeConfig:
    path = args.file or edge_config_path(env.environment)
    if args.file is None and not path.is_file():
        raise ConfigError(path, [("(file)", f"no edge configuration for environment "
                                            f"{env.environment!r}: create it (see docs/edge-config.md)")])
    return load_edge_config(path)


class _Session:
    """The AWS side of one command: a DynamoDB client for the table's region and the caller's name."""

    def __init__(self, args: argparse.Namespace, env: EnvConfig):
        self.region = args.region or env.primary_region
        self.endpoint_url = args.endpoint_url
        self.session = boto3.session.Session(profile_name=args.profile, region_name=self.region)
        if self.session.get_credentials() is None:
            raise NoCredentialsError()
        client = self.session.client("dynamodb", region_name=self.region, endpoint_url=self.endpoint_url)
        self.store = EdgeConfigStore(client, env.edge_config_table_name, env.environment)
        self.where = f"{env.edge_config_table_name} ({self.region}{', ' + self.endpoint_url if self.endpoint_url else ''})"

    def caller(self) -> str:
        """Who is pushing: the caller's ARN from STS, or user@host against a local endpoint."""
        if not self.endpoint_url:
            try:
                sts = self.session.client("sts", config=Config(connect_timeout=5, read_timeout=5,
                                                               retries={"max_attempts": 2}))
                return sts.get_caller_identity()["Arn"]
            except (ClientError, BotoCoreError):
                pass
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "unknown"
        return f"{user}@{socket.gethostname()}"


def _validate(args: argparse.Namespace, env: EnvConfig) -> int:
    config = _local_config(args, env)
    print(f"{config.source}: valid: {config.summary()}")
    return EXIT_OK


def _push(args: argparse.Namespace, env: EnvConfig) -> int:
    config = _local_config(args, env)
    aws = _Session(args, env)
    current = aws.store.current()
    deployed = current.version if current else None
    if args.expect_version is not None and (args.expect_version or None) != deployed:
        now = f"version {deployed}" if deployed else "no version (nothing pushed yet)"
        _error(f"conflict: --expect-version {args.expect_version}, but the deployed configuration is now at {now}. "
               "Nothing was written. Run `edge-config diff` and push again.")
        return EXIT_FAILED
    if current is not None and current.content_hash == config.content_hash:
        print(f"{env.environment}: version {current.version} in {aws.where} already has this content "
              f"({config.content_hash}): nothing to push, nothing written")
        return EXIT_OK
    stored = aws.store.write(config, deployed, aws.caller(), message=args.message)
    print(f"{env.environment}: pushed version {stored.version} to {aws.where}: {config.summary()}")
    print(f"edge locations apply it within {env.edge_config_cache_ttl_seconds} s")
    return EXIT_OK


def _show(args: argparse.Namespace, env: EnvConfig) -> int:
    aws = _Session(args, env)
    if args.history:
        versions = aws.store.history()
        if not versions:
            _error(f"nothing pushed to {aws.where} for {env.environment} yet")
            return EXIT_FAILED
        current = aws.store.current()
        for stored in versions:
            marker = "*" if current is not None and stored.version == current.version else " "
            print(f"{marker} {stored.describe()}")
        return EXIT_OK
    stored = aws.store.version(args.version) if args.version else aws.store.current()
    if stored is None and args.version:
        current = aws.store.current()
        exist = f"versions 1 to {current.version} exist" if current else "nothing was pushed yet"
        _error(f"version {args.version} does not exist in {aws.where} for {env.environment}: {exist}")
        return EXIT_FAILED
    if stored is None:
        _error(f"nothing pushed to {aws.where} for {env.environment} yet")
        return EXIT_FAILED
    print(f"# {env.environment} edge configuration in {aws.where}")
    print(f"# {stored.describe()}")
    print(f"# content_hash {stored.content_hash}  schema_version {stored.schema_version}")
    print(_as_yaml(stored), end="")
    return EXIT_OK


def _as_yaml(stored: StoredVersion) -> str:
    """A stored version as normalized YAML, or its raw content if it no longer passes validation."""
    try:
        return stored.config().to_yaml()
    except ConfigError as exc:
        return f"# WARNING: version {stored.version} does not pass today's validation: {exc}\n{stored.content}\n"


def _diff(args: argparse.Namespace, env: EnvConfig) -> int:
    config = _local_config(args, env)
    aws = _Session(args, env)
    current = aws.store.current()
    if current is not None and current.content_hash == config.content_hash:
        print(f"no differences: {config.source} matches deployed version {current.version}")
        return EXIT_OK
    deployed = _as_yaml(current) if current is not None else ""
    label = f"deployed version {current.version}" if current is not None else "deployed (nothing yet)"
    sys.stdout.writelines(difflib.unified_diff(
        deployed.splitlines(keepends=True), config.to_yaml().splitlines(keepends=True),
        fromfile=label, tofile=config.source))
    return EXIT_FAILED


def _rollback(args: argparse.Namespace, env: EnvConfig) -> int:
    aws = _Session(args, env)
    current = aws.store.current()
    if current is None:
        _error(f"nothing pushed to {aws.where} for {env.environment}: nothing to roll back")
        return EXIT_FAILED
    target = args.to_version if args.to_version is not None else current.version - 1
    if target < 1:
        _error(f"version {current.version} is the first version: nothing to roll back to")
        return EXIT_FAILED
    old = aws.store.version(target)
    if old is None:
        _error(f"no version {target} in {aws.where}: versions 1 to {current.version} exist")
        return EXIT_FAILED
    try:
        config = old.config()
    except ConfigError as exc:
        _error(f"version {target} cannot be restored, it does not pass today's validation: {exc}")
        return EXIT_FAILED
    if config.content_hash == current.content_hash:
        print(f"{env.environment}: deployed version {current.version} already has the content of version "
              f"{target}: nothing to do")
        return EXIT_OK
    stored = aws.store.write(config, current.version, aws.caller(), message=args.message,
                             action="rollback", restored_from=target)
    print(f"{env.environment}: rolled back: version {stored.version} in {aws.where} holds the content of "
          f"version {target} ({config.summary()})")
    return EXIT_OK


_ACTIONS: dict[str, Callable[[argparse.Namespace, EnvConfig], int]] = {
    "validate": _validate,
    "push": _push,
    "show": _show,
    "diff": _diff,
    "rollback": _rollback,
}
