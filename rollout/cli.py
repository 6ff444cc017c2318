"""deploy.py subcommands of the rollout: bootstrap, publish, deploy, status, outputs, diff, destroy, rehearse."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path
from typing import Callable

import botocore.exceptions

from rollout import naming
from rollout.aws import Clients, endpoint_url, error_code, error_message, make_session, require_credentials
from rollout.console import Console
from rollout.errors import InputError, RolloutFailed
from rollout.inputs import load_env, load_templates
from rollout.scenarios import DEFAULT_SCENARIO, SCENARIOS

EXIT_INTERRUPTED = 130


def add_common_options(parser: argparse.ArgumentParser, aws: bool = True) -> None:
    parser.add_argument("--env", required=True, metavar="NAME",
                        help="environment: config/NAME.yaml and output/NAME/")
    if aws:
        parser.add_argument("--profile", metavar="PROFILE",
                            help="AWS profile of the deploying (administration) account; default: "
                                 "the standard credential chain (AWS_PROFILE, environment, SSO, ...)")
        parser.add_argument("--endpoint-url", metavar="URL", type=endpoint_url,
                            help="send every AWS call to this endpoint (an emulator such as moto)")


def connect(args: argparse.Namespace, console: Console) -> Clients:
    session = make_session(args.profile)
    require_credentials(session)
    clients = Clients(session, endpoint_url=args.endpoint_url, notify=console.line,
                      bootstrap_role_name=getattr(args, "bootstrap_role", naming.DEFAULT_BOOTSTRAP_ROLE_NAME))
    clients.caller()  # fails here, before anything else, when the credentials are not accepted
    return clients


def guarded(action: Callable[[Console], int]) -> int:
    console = Console()
    try:
        return action(console)
    except InputError as exc:
        print(f"deploy.py: error: {exc}", file=sys.stderr)
        return InputError.exit_status
    except RolloutFailed as exc:
        print(f"deploy.py: failed: {exc}", file=sys.stderr)
        return RolloutFailed.exit_status
    except botocore.exceptions.ClientError as exc:
        operation = getattr(exc, "operation_name", "an AWS call")
        print(f"deploy.py: failed: {operation}: {error_code(exc)}: {error_message(exc)}", file=sys.stderr)
        return RolloutFailed.exit_status
    except botocore.exceptions.BotoCoreError as exc:
        print(f"deploy.py: failed: {exc}", file=sys.stderr)
        return RolloutFailed.exit_status
    except KeyboardInterrupt:
        print("\ndeploy.py: interrupted. A stack-set operation already started goes on in AWS; "
              "run deploy again to resume (it waits for that operation first).", file=sys.stderr)
        return EXIT_INTERRUPTED


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from rollout.bootstrap import bootstrap

    def run(console: Console) -> int:
        env = load_env(args.env)
        return bootstrap(env, connect(args, console), console)
    return guarded(run)


def cmd_publish(args: argparse.Namespace) -> int:
    from rollout.publish import publish

    def run(console: Console) -> int:
        templates = load_templates(load_env(args.env))
        return publish(templates, connect(args, console), console)
    return guarded(run)


def cmd_package(args: argparse.Namespace) -> int:
    from rollout.edge_package import LAMBDA_EDGE_TEMPLATE, edge_code, runtime_python, write_packages

    def run(console: Console) -> int:
        templates = load_templates(load_env(args.env))
        if LAMBDA_EDGE_TEMPLATE not in templates.files:
            raise InputError(f"{templates.directory} has no {LAMBDA_EDGE_TEMPLATE}: no edge functions to package")
        code = edge_code(templates.env.environment, templates.template(LAMBDA_EDGE_TEMPLATE),
                         str(templates.directory / LAMBDA_EDGE_TEMPLATE))
        python = runtime_python()
        if args.output.exists() and not args.output.is_dir():
            raise InputError(f"--output {args.output} exists and is not a directory")
        try:
            written = write_packages(code, args.output, python)
        except OSError as exc:
            raise InputError(f"--output {args.output}: cannot write the packages ({exc})") from exc
        console.line(f"Edge function packages ({python.note}):")
        for path in written:
            console.line(f"  {path}")
        console.line(f"Upload them to the us-east-1 bucket the us-east-1 stack gets as TemplatesBucket, keeping "
                     f"their keys: aws s3 sync {args.output}/ s3://<bucket>/")
        return 0
    return guarded(run)


def cmd_deploy(args: argparse.Namespace) -> int:
    from rollout.deployer import deploy

    def run(console: Console) -> int:
        templates = load_templates(load_env(args.env))
        return deploy(templates, connect(args, console), console,
                      expire_legacy_edge_logs=args.expire_legacy_edge_logs)
    return guarded(run)


def cmd_status(args: argparse.Namespace) -> int:
    from rollout.inspect import status

    def run(console: Console) -> int:
        env = load_env(args.env)
        return status(env, connect(args, console), console)
    return guarded(run)


def cmd_outputs(args: argparse.Namespace) -> int:
    from rollout.inspect import outputs

    def run(console: Console) -> int:
        env = load_env(args.env)
        return outputs(env, connect(args, console), console, as_json=args.json)
    return guarded(run)


def cmd_diff(args: argparse.Namespace) -> int:
    from rollout.inspect import diff

    def run(console: Console) -> int:
        templates = load_templates(load_env(args.env))
        return diff(templates, connect(args, console), console)
    return guarded(run)


def cmd_destroy(args: argparse.Namespace) -> int:
    from rollout.destroy import destroy

    def run(console: Console) -> int:
        env = load_env(args.env)
        if not args.yes:
            raise InputError(f"destroy deletes every instance of stack set {naming.stack_set_name(env)} "
                             "and the stack set itself; pass --yes to confirm")
        return destroy(env, connect(args, console), console)
    return guarded(run)


def cmd_retained(args: argparse.Namespace) -> int:
    from rollout.retained import retained

    def run(console: Console) -> int:
        templates = load_templates(load_env(args.env))
        return retained(templates, connect(args, console), console, delete_empty=args.delete_empty,
                        delete_data=args.delete_data, accounts=args.account)
    return guarded(run)


def cmd_rehearse(args: argparse.Namespace) -> int:
    from rollout.edge_package import runtime_python
    from rollout.rehearse import run_rehearsal

    def run(console: Console) -> int:
        env = load_env(args.env)
        unfit = SCENARIOS[args.scenario].unfit(env)
        if unfit:
            raise InputError(f"--scenario {args.scenario}: {unfit}")
        runtime_python()  # a bad EDGECDN_RUNTIME_PYTHON is bad input (exit 2), not a failed rehearsal
        return run_rehearsal(load_templates(env), console, scenario=args.scenario)
    return guarded(run)


def _role_name(text: str) -> str:
    """argparse type of --bootstrap-role: an IAM role name (1-64 of letters, digits and +=,.@_-)."""
    if not re.fullmatch(r"[\w+=,.@-]{1,64}", text, re.ASCII):
        raise argparse.ArgumentTypeError(f"must be an IAM role name (1-64 letters, digits and +=,.@_-), got {text!r}")
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the rollout subcommands to deploy.py's parser."""
    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str, description: str,
            aws: bool = True) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=help_text, description=description,
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
        add_common_options(parser, aws=aws)
        parser.set_defaults(func=func)
        return parser

    bootstrap = add(
        "bootstrap", cmd_bootstrap, "create the roles and template buckets stack sets need",
        "Create, idempotently, what self-managed stack sets need: the administration role in this\n"
        "account, the execution role in each account of the environment (entered through\n"
        "--bootstrap-role), and a private, encrypted template bucket per region that the execution\n"
        "roles can read. Run it once per environment, and again after adding an account.")
    bootstrap.add_argument("--bootstrap-role", default=naming.DEFAULT_BOOTSTRAP_ROLE_NAME, metavar="NAME",
                           type=_role_name,
                           help="role assumed in each target account to create the execution role "
                                "(default: %(default)s, which AWS Organizations creates)")
    add("publish", cmd_publish, "upload output/ENV/ to the template buckets",
        "Upload output/ENV/ to each region's template bucket under a prefix derived from the\n"
        "content (unchanged files are never uploaded again), and the edge functions' packages to the\n"
        "us-east-1 bucket, then print the root template URL and console links to create the stacks\n"
        "without StackSets. The packages carry bytecode compiled by a Python of the functions' runtime\n"
        "(EDGECDN_RUNTIME_PYTHON, else python3.13 on PATH); without one, the source alone.")
    package = add("package", cmd_package, "build the edge functions' packages into a directory (no AWS)",
                  "Build each edge function's deployment package from output/ENV/lambda_edge.json, as publish\n"
                  "does, into DIR/<its key> (ENV/lambda-edge/<event type>-<sha256>.zip), for deploying from\n"
                  "the console: upload them to the us-east-1 templates bucket with their keys. Bytecode is\n"
                  "compiled by EDGECDN_RUNTIME_PYTHON, else python3.13 on PATH; without one, the source alone.",
                  aws=False)
    package.add_argument("--output", type=Path, required=True, metavar="DIR",
                         help="directory to write the packages under (created if missing)")
    deploy = add("deploy", cmd_deploy, "create or update the stack set and its instances",
                 "Publish, then bring stack set PROJECT-ENV and its instances to output/ENV/: us-east-1,\n"
                 "the edge log regions and the replica regions first (all at once), then the primary\n"
                 "region with the DistributionArn of each account's us-east-1 instance.\n"
                 "Before any change, refuses names that are taken (exit 2) and lists the edge functions'\n"
                 "old /aws/lambda/us-east-1.<function> log groups, which it leaves as they are.\n"
                 "Waits for an operation already running; a run after an interruption resumes.\n"
                 "Exit 0 when every instance is CURRENT, 1 when an operation failed, 2 on bad input.")
    deploy.add_argument("--expire-legacy-edge-logs", action="store_true",
                        help="give the edge functions' old /aws/lambda/us-east-1.<function> log groups "
                             "retention.function_logs_days once the rollout succeeds (CloudWatch Logs then "
                             "deletes their older events); without it they keep every event")
    add("status", cmd_status, "show the stack set, its instances and recent operations",
        "Show the stack set, each instance's status and the latest operations.\n"
        "Exit 0 when every instance of the config is CURRENT, else 1.")
    outputs = add("outputs", cmd_outputs, "print the instance stacks' outputs per account and region",
                  "Print the outputs of each instance stack, per account and region.")
    outputs.add_argument("--json", action="store_true", help="print {account: {region: {key: value}}} as JSON")
    add("diff", cmd_diff, "compare output/ENV/ with what the stack set runs",
        "Show template and parameter differences between output/ENV/ and what the stack set runs,\n"
        "per nested template, and instances that are missing or not CURRENT.\n"
        "Exit 0 when there is no difference, 1 when there are differences.")
    destroy = add("destroy", cmd_destroy, "delete the instances and the stack set (keeps retained data)",
                  "Delete the instances (primary region first) and the stack set. Resources with\n"
                  "DeletionPolicy RetainExceptOnCreate stay and are listed; edge functions that CloudFront still\n"
                  "replicates are reported with what to run later.")
    destroy.add_argument("--yes", action="store_true", help="confirm the deletion")
    retained = add("retained", cmd_retained, "list (and delete) what an earlier rollout left that a deploy would hit",
                   "List the resources that have a name this environment's templates give (buckets, the\n"
                   "edge-config table, log groups, edge functions, roles, KMS aliases) but are not part of\n"
                   "its live stacks - retained by an earlier destroy or rollback - and aliases that\n"
                   "another distribution holds; say what each holds. A deploy refuses to start while any\n"
                   "exist. Resources of the live stacks are never touched.\n"
                   "Exit 0 when none is left (a deploy will not collide), 1 when some remain.")
    retained.add_argument("--delete-empty", action="store_true",
                          help="delete the ones that hold no data: buckets without any object version, tables "
                               "without items, log groups without log streams, functions, roles, KMS aliases")
    retained.add_argument("--delete-data", action="store_true",
                          help="also delete the ones that hold data (object versions, items, logs are lost)")
    retained.add_argument("--account", action="append", metavar="ID",
                          help="only this account of the environment (repeatable); default: all")
    rehearse = add("rehearse", cmd_rehearse, "rehearse the whole rollout against moto, in-process",
                   "Run bootstrap, publish, deploy, outputs and a second (no-op) deploy of output/ENV/\n"
                   "against moto started in this process (no AWS account needed), push config/edge/ENV.yaml\n"
                   "to every account (twice), sync, rebuild, change and roll back a small site (deploy.py\n"
                   "site), then check the cross-region wiring, the edge-config tables and the site through\n"
                   "the service APIs. Exit 0 only when everything holds.\n"
                   "--scenario runs another way a rollout goes instead of the first deploy:\n"
                   + "".join(textwrap.fill(f"{s.name}: {s.summary}", 90, initial_indent="  ",
                                           subsequent_indent="      ") + "\n" for s in SCENARIOS.values()),
                   aws=False)
    rehearse.add_argument("--scenario", choices=sorted(SCENARIOS), default=DEFAULT_SCENARIO, metavar="NAME",
                          help=f"one of {', '.join(sorted(SCENARIOS))} (default: %(default)s)")
