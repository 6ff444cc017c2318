"""`status`, `outputs` and `diff`: what the stack set runs, read-only."""

from __future__ import annotations

import difflib
import json
from typing import Any

import botocore.exceptions

from rollout import naming
from rollout.aws import Clients, error_code
from rollout.console import Console
from rollout.errors import RolloutFailed
from rollout.deployer import stack_set_parameters
from rollout.inputs import TemplateSet
from rollout.stackset import StackSetOps, stack_outputs
from templates.config import EnvConfig


def _ops(env: EnvConfig, clients: Clients, console: Console) -> StackSetOps:
    return StackSetOps(env, clients, console)


def _require(ops: StackSetOps) -> dict[str, Any]:
    stack_set = ops.describe()
    if stack_set is None:
        raise RolloutFailed(f"stack set {ops.name} does not exist in {naming.STACK_SET_REGION} of account "
                            f"{ops.clients.account} (run `deploy.py deploy --env {ops.env.environment}`)")
    return stack_set


def status(env: EnvConfig, clients: Clients, console: Console) -> int:
    """Stack set, instances and recent operations; exit 0 only when every instance is CURRENT."""
    ops = _ops(env, clients, console)
    stack_set = _require(ops)
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack_set.get("Parameters", [])}
    console.line(f"Stack set {ops.name} ({stack_set.get('Status')}, {stack_set.get('PermissionModel')}), "
                 f"templates s3://{params.get(naming.PARAM_TEMPLATES_BUCKET, '?')}/"
                 f"{params.get(naming.PARAM_TEMPLATES_PREFIX, '')}")
    instances = ops.instances()
    wanted = {(a, r) for a in env.deploy.accounts for r in env.regions}
    console.line("Instances:")
    for key in sorted(set(instances) | wanted, key=lambda k: (k[1] != naming.STACK_SET_REGION, k[1], k[0])):
        summary = instances.get(key)
        if summary is None:
            console.line(f"  {key[0]}  {key[1]:<14} MISSING (not deployed yet)")
            continue
        detailed = (summary.get("StackInstanceStatus") or {}).get("DetailedStatus", "")
        reason = summary.get("StatusReason") or ""
        note = "" if key in wanted else "  (not in the config)"
        console.line(f"  {key[0]}  {key[1]:<14} {summary.get('Status', '?'):<10} {detailed:<10} {reason}{note}".rstrip())
    operations = ops.cfn.list_stack_set_operations(StackSetName=ops.name, MaxResults=5).get("Summaries", [])
    if operations:
        console.line("Latest operations:")
        for op in operations:
            console.line(f"  {op['OperationId']}  {op.get('Action', ''):<7} {op.get('Status', ''):<10} "
                         f"{op.get('CreationTimestamp', '')}")
    healthy = all(instances.get(k, {}).get("Status") == "CURRENT" for k in wanted)
    console.line("All instances are CURRENT." if healthy else "Not every instance is CURRENT.")
    return 0 if healthy else 1


def collect_outputs(env: EnvConfig, clients: Clients) -> dict[str, dict[str, dict[str, str]]]:
    """{account: {region: {output: value}}} of every instance stack."""
    ops = StackSetOps(env, clients, Console())
    _require(ops)
    result: dict[str, dict[str, dict[str, str]]] = {}
    for (account, region), summary in sorted(ops.instances().items()):
        if not summary.get("StackId"):
            continue
        result.setdefault(account, {})[region] = stack_outputs(clients, account, region, summary["StackId"])
    return result


def print_outputs(outputs: dict[str, dict[str, dict[str, str]]], console: Console) -> None:
    for account, regions in outputs.items():
        for region, values in regions.items():
            console.line(f"{account} {region}:")
            for key, value in sorted(values.items()):
                console.line(f"  {key:<28} {value}")


def outputs(env: EnvConfig, clients: Clients, console: Console, as_json: bool = False) -> int:
    values = collect_outputs(env, clients)
    if as_json:
        console.stream.write(json.dumps(values, indent=2, sort_keys=True) + "\n")
        console.stream.flush()
    else:
        print_outputs(values, console)
    return 0


def _pretty(text: str | bytes) -> list[str]:
    try:
        return (json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n").splitlines(keepends=True)
    except ValueError:
        text = text.decode() if isinstance(text, bytes) else text
        return text.splitlines(keepends=True)


def diff(templates: TemplateSet, clients: Clients, console: Console) -> int:
    """Template and parameter differences, per file; exit 1 when there are any (like diff(1))."""
    env = templates.env
    ops = _ops(env, clients, console)
    stack_set = _require(ops)
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack_set.get("Parameters", [])}
    running_prefix = params.get(naming.PARAM_TEMPLATES_PREFIX)
    differences = 0
    desired = stack_set_parameters(templates, clients.account)
    for key in sorted(set(desired) | set(params)):
        if params.get(key) != desired.get(key):
            console.line(f"parameter {key}: running {params.get(key, '(none)')!r}, "
                         f"output/{env.environment}/ needs {desired.get(key, '(none)')!r}")
            differences += 1
    bucket = params.get(naming.PARAM_TEMPLATES_BUCKET, "")
    s3 = clients.admin("s3", naming.STACK_SET_REGION)
    running_files: dict[str, str | None] = {}
    for name in sorted(templates.files):
        if name == naming.ROOT_TEMPLATE:
            running_files[name] = stack_set.get("TemplateBody")
            continue
        try:
            body = s3.get_object(Bucket=bucket, Key=f"{running_prefix or ''}{name}")["Body"].read()
            running_files[name] = body.decode("utf-8")
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in ("NoSuchKey", "404", "AccessDenied"):
                raise
            running_files[name] = None
    for name in sorted(templates.files):
        running = running_files[name]
        local = templates.files[name]
        if running is None:
            console.line(f"{name}: not in the running set (new component)")
            differences += 1
            continue
        lines = list(difflib.unified_diff(_pretty(running), _pretty(local),
                                          fromfile=f"running/{name}", tofile=f"output/{env.environment}/{name}"))
        if lines:
            differences += 1
            for line in lines:
                console.line(line.rstrip("\n"))
    instances = ops.instances()
    for account in env.deploy.accounts:
        for region in env.regions:
            if (account, region) not in instances:
                console.line(f"instance {account} {region}: missing (deploy creates it)")
                differences += 1
            elif instances[(account, region)].get("Status") != "CURRENT":
                console.line(f"instance {account} {region}: {instances[(account, region)].get('Status')} "
                             "(deploy updates it)")
                differences += 1
    if differences:
        console.line(f"{differences} difference(s) between output/{env.environment}/ and stack set {ops.name}.")
        return 1
    console.line(f"No differences: stack set {ops.name} runs output/{env.environment}/ "
                 f"(set {templates.digest[:16]}).")
    return 0
