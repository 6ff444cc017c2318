"""Benchmark of the rollout: instances, stack-set operations, region waves and API calls per rollout.

Run: python tests/bench_rollout.py   (prints the figures; exit 1 if a target is missed)
     python tests/bench_rollout.py --accounts 1 3   (the scaling part with fewer sizes)

Targets: the no-op redeploy makes zero mutating calls; a first rollout of N accounts uses at most
1 + N operations however many regions there are (one for us-east-1 and every edge log and replica
region, all at once, then one per account in the primary region, whose DistributionArn override
differs per account); no operation goes through its regions one after the other, so the waves of
regions a rollout waits for equal its operations; an update that changes one nested template is
one operation; an environment that gains regions does so in one deploy of two operations (the
update, then the new instances); adding an account to a running environment is at most three: an
UpdateStackSet (the template names every account: its domain, the accounts the root allows), then
the new account's instances outside the primary region, then its primary one after its
distribution exists. The issue asked for two; the bench prints that figure against it and the
reason it is not met.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# A script under tests/ sees tests/ on sys.path, not the project root that holds the packages.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rollout.aws import Clients  # noqa: E402
from rollout.bootstrap import bootstrap  # noqa: E402
from rollout.console import Console  # noqa: E402
from rollout.deployer import Deployer  # noqa: E402
from rollout.inputs import TemplateSet, load_templates  # noqa: E402
from rollout.rehearse import Rehearsal, moto_server, rehearsal_session, reset_moto, seed_accounts  # noqa: E402
from rollout.scenarios import covering_only_table_regions, templates_for  # noqa: E402
from rollout.stackset import StackSetOps  # noqa: E402
from templates.config import DomainConfig, EnvConfig, load_environment  # noqa: E402

ENVIRONMENTS = ("dev", "staging", "prod")
ACCOUNT_COUNTS = (1, 3, 20)
OPERATION_CALLS = ("UpdateStackSet", "CreateStackInstances", "UpdateStackInstances", "DeleteStackInstances")


def changed_copy(name: str, root: Path):
    """output/<name>/ with one alarm threshold of monitoring.json changed (one nested template)."""
    directory = root / name
    shutil.copytree(ROOT / "output" / name, directory)
    monitoring = json.loads((directory / "monitoring.json").read_text())
    alarm = next(r for r in monitoring["Resources"].values()
                 if r["Type"] == "AWS::CloudWatch::Alarm" and "Threshold" in r["Properties"])
    alarm["Properties"]["Threshold"] = float(alarm["Properties"]["Threshold"]) + 1
    (directory / "monitoring.json").write_text(json.dumps(monitoring, indent=2, sort_keys=True) + "\n")
    files = {p.name: p.read_bytes() for p in directory.glob("*.json")}
    return load_templates(load_environment(name), output_root=root, renderer=lambda env: files)


def environment_of(accounts: int) -> EnvConfig:
    """prod (two regions, table replicas) with `accounts` accounts, each with its own zone and alias."""
    prod = load_environment("prod")
    ids = tuple(str(700000000000 + index) for index in range(accounts))
    domains = tuple((account, DomainConfig(f"site{index}.example.net", f"Z0BENCH{index:014d}",
                                           (f"site{index}.example.net",), where=f"deploy.accounts[{index}].domain"))
                    for index, account in enumerate(ids))
    return dataclasses.replace(prod, account_domains=domains,
                               deploy=dataclasses.replace(prod.deploy, accounts=ids))


def changed_monitoring(templates: TemplateSet) -> TemplateSet:
    """The set with one alarm threshold of monitoring.json changed (one nested template)."""
    monitoring = json.loads(templates.files["monitoring.json"])
    alarm = next(r for r in monitoring["Resources"].values()
                 if r["Type"] == "AWS::CloudWatch::Alarm" and "Threshold" in r["Properties"])
    alarm["Properties"]["Threshold"] = float(alarm["Properties"]["Threshold"]) + 1
    files = dict(templates.files, **{"monitoring.json": (json.dumps(monitoring, indent=2, sort_keys=True) + "\n").encode()})
    return dataclasses.replace(templates, files=files)


def region_waves(clients: Clients, env: EnvConfig, operation_ids: list[str]) -> int:
    """How many waves of regions the operations wait for, one after the other: a PARALLEL operation
    is one wave, a SEQUENTIAL one a wave per region (read back from StackSets)."""
    cfn = clients.admin("cloudformation", "us-east-1")
    waves = 0
    for operation_id in operation_ids:
        operation = cfn.describe_stack_set_operation(StackSetName=env.name_prefix, OperationId=operation_id)[
            "StackSetOperation"]
        results = cfn.list_stack_set_operation_results(StackSetName=env.name_prefix, OperationId=operation_id)
        regions = {r["Region"] for r in results["Summaries"]}
        parallel = operation.get("OperationPreferences", {}).get("RegionConcurrencyType") == "PARALLEL"
        waves += 1 if parallel else len(regions)
    return waves


def operations_by_accounts(url: str, accounts: int) -> tuple[int, int, int, float]:
    """(first rollout, one-template update, an added account) operations, and the seconds it took."""
    reset_moto(url)
    quiet = Console(io.StringIO(), tty=False)
    clients = Clients(rehearsal_session(), endpoint_url=url)
    full = environment_of(accounts + 1)
    running = dataclasses.replace(full, deploy=dataclasses.replace(full.deploy, accounts=full.deploy.accounts[:-1]),
                                  account_domains=full.account_domains[:-1])
    began = time.perf_counter()
    seed_accounts(full)
    figures = []
    bootstrap(running, clients, quiet)
    first = templates_for(running)
    for templates in (first, changed_monitoring(first)):
        deployer = Deployer(templates, clients, quiet)
        deployer.run()
        figures.append(len(deployer.ops.started))
    bootstrap(full, clients, quiet)
    deployer = Deployer(templates_for(full), clients, quiet)
    deployer.run()
    figures.append(len(deployer.ops.started))
    return figures[0], figures[1], figures[2], time.perf_counter() - began


def all_operations(clients: Clients, env: EnvConfig) -> list[str]:
    """Every operation the environment's stack set ran, oldest first."""
    ops = StackSetOps(env, clients, Console(io.StringIO(), tty=False))
    listed = ops.cfn.list_stack_set_operations(StackSetName=ops.name, MaxResults=100)["Summaries"]
    return [o["OperationId"] for o in sorted(listed, key=lambda o: o["CreationTimestamp"])]


def gain_regions(url: str, name: str) -> tuple[int, int, int, int, int]:
    """The rehearsal's gain-regions scenario: (regions gained, operations, waves, mutating, reads)."""
    reset_moto(url)
    env = load_environment(name)
    rehearsal = Rehearsal(load_templates(env), Console(io.StringIO(), tty=False), url, scenario="gain-regions")
    with contextlib.redirect_stdout(io.StringIO()):
        report = rehearsal.run()
    if not report.ok:
        raise SystemExit(f"{name}: the gain-regions rehearsal failed")
    phase = report.phase("deploy (regions gained)")
    # The operations of that deploy: the last ones before `deploy --expire-legacy-edge-logs` (none).
    operations = all_operations(rehearsal.clients, env)[-phase.operations:] if phase.operations else []
    gained = len(env.regions) - len(covering_only_table_regions(env).regions)
    return gained, phase.operations, region_waves(rehearsal.clients, env, operations), phase.mutating, phase.reads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=list(ACCOUNT_COUNTS), metavar="N",
                        help="account counts of the scaling part (default: %(default)s)")
    args = parser.parse_args()
    print(f"rollout benchmark (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs), "
          "moto as an HTTP server in this process\n")
    failures = []
    rows = []
    with moto_server() as url:
        for name in ENVIRONMENTS:
            env = load_environment(name)
            reset_moto(url)
            templates = load_templates(env)
            log = io.StringIO()
            rehearsal = Rehearsal(templates, Console(log, tty=False), url)
            began = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                report = rehearsal.run()
            total = time.perf_counter() - began
            if not report.ok:
                failures.append(f"{name}: rehearsal checks failed")
            first, noop = report.phase("deploy"), report.phase("deploy again (no-op)")
            waves = region_waves(rehearsal.clients, env, all_operations(rehearsal.clients, env))

            with tempfile.TemporaryDirectory() as tmp:
                update = changed_copy(name, Path(tmp))
                mark = rehearsal.clients.log.mark()
                deployer = Deployer(update, rehearsal.clients, Console(io.StringIO(), tty=False))
                updated_at = time.perf_counter()
                deployer.run()
                update_seconds = time.perf_counter() - updated_at
                update_calls = rehearsal.clients.log.since(mark)
            update_operations = [op for _, op in update_calls.mutating if op in OPERATION_CALLS]
            update_waves = region_waves(rehearsal.clients, env, deployer.ops.started)
            expected_first = 1 if env.single_region else 1 + len(env.deploy.accounts)
            gained = gain_regions(url, name)
            rows.append((name, env, report, first, noop, total, update_operations, update_calls, update_seconds,
                         waves, update_waves, gained))
            if noop.mutating:
                failures.append(f"{name}: the no-op redeploy made {noop.mutating} mutating call(s)")
            if first.operations != expected_first:
                failures.append(f"{name}: first rollout used {first.operations} operations, expected {expected_first}")
            if waves != first.operations:
                failures.append(f"{name}: the first rollout waited for {waves} waves of regions in "
                                f"{first.operations} operations")
            if len(update_operations) != 1 or update_waves != 1:
                failures.append(f"{name}: the one-template update used {len(update_operations)} operations, "
                                f"{update_waves} waves")
            if gained[1] != 2 or gained[2] != 2:
                failures.append(f"{name}: gaining regions took {gained[1]} operations, {gained[2]} waves")

    print("first rollout and no-op redeploy (the rehearsal: bootstrap, publish, deploy, outputs, no-op deploy,")
    print("checks); instances = accounts x regions; waves = groups of regions waited for one after the other:")
    print(f"  {'env':<8} {'accounts x regions':>18} {'instances':>10} | {'first: ops':>10} {'waves':>6} "
          f"{'calls mut/read':>15} {'time':>7} | {'no-op: ops':>10} {'calls mut/read':>15} {'time':>7} "
          f"| {'rehearsal':>9}")
    for name, env, report, first, noop, total, *_rest in rows:
        waves = _rest[3]
        accounts, regions = len(env.deploy.accounts), len(env.regions)
        print(f"  {name:<8} {f'{accounts} x {regions}':>18} {accounts * regions:>10} | {first.operations:>10} "
              f"{waves:>6} {f'{first.mutating}/{first.reads}':>15} {first.seconds:>6.2f}s | {noop.operations:>10} "
              f"{f'{noop.mutating}/{noop.reads}':>15} {noop.seconds:>6.2f}s | {total:>8.1f}s")
    print("\n  API calls of the first deploy by operation (prod):")
    prod_first = next(r[3] for r in rows if r[0] == "prod")
    for operation, count in sorted(prod_first.calls.by_operation().items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {count:>4}  {operation}")
    print("\n  API calls of the no-op redeploy by operation (prod):")
    prod_noop = next(r[4] for r in rows if r[0] == "prod")
    for operation, count in sorted(prod_noop.calls.by_operation().items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {count:>4}  {operation}")
    print("\n  (bootstrap and publish, first run: "
          + "; ".join(f"{r[0]} {r[2].phase('bootstrap').mutating + r[2].phase('publish').mutating} mutating, "
                      f"{r[2].phase('bootstrap').reads + r[2].phase('publish').reads} reads" for r in rows) + ")")

    print("\nupdates:")
    print(f"  {'env':<8} {'first rollout':>14} {'(minimum)':>9} {'one nested template: ops':>25} {'waves':>6} "
          f"{'calls mut/read':>15} {'time':>8} | {'regions gained':>14} {'ops':>4} {'waves':>6} {'calls mut/read':>15}")
    for name, env, report, first, noop, total, update_operations, update_calls, update_seconds, waves, \
            update_waves, gained in rows:
        target = 1 if env.single_region else 1 + len(env.deploy.accounts)
        print(f"  {name:<8} {first.operations:>14} {target:>9} {len(update_operations):>25} {update_waves:>6} "
              f"{f'{len(update_calls.mutating)}/{len(update_calls.reads)}':>15} {update_seconds:>7.2f}s | "
              f"{gained[0]:>14} {gained[1]:>4} {gained[2]:>6} {f'{gained[3]}/{gained[4]}':>15}")
    print("  (first rollout: CreateStackSet is not an operation; one CreateStackInstances for us-east-1 and\n"
          "   every edge log and replica region, all regions at once, then one per account in the primary\n"
          "   region because each account's DistributionArn differs: the issue's target of two operations\n"
          "   holds for one account; with N accounts the minimum is 1 + N.\n"
          "   The update: one UpdateStackSet over every instance, all regions at once; its PutObject calls\n"
          "   upload only the changed file and the set's marker, once per region.\n"
          "   Regions gained: the environment deployed with log groups in us-east-1 and the table's regions\n"
          "   only, then with every edge log region: one UpdateStackSet, one CreateStackInstances; the\n"
          "   calls include the new regions' template buckets, publishing there and the old log groups'\n"
          "   listing.)")

    print("\nstack-set operations by number of accounts (prod's shape: 13 regions, one domain per account):")
    print(f"  {'accounts':>8} {'instances':>10} {'first rollout':>14} {'target 1+N':>11} {'update':>7} {'target':>7} "
          f"{'add an account':>15} {'issue target':>13} {'time':>8}")
    regions = len(load_environment("prod").regions)
    with moto_server() as url:
        for count in args.accounts:
            first, update, added, seconds = operations_by_accounts(url, count)
            print(f"  {count:>8} {count * regions:>10} {first:>14} {1 + count:>11} {update:>7} {'1':>7} "
                  f"{added:>15} {'<= 2':>13} {seconds:>7.1f}s")
            if first > 1 + count:
                failures.append(f"{count} accounts: first rollout used {first} operations, more than {1 + count}")
            if update > 1:
                failures.append(f"{count} accounts: the one-template update used {update} operations, more than 1")
            if added > 3:
                failures.append(f"{count} accounts: adding an account used {added} operations, more than 3")
    print("  (update: one UpdateStackSet over every instance, all regions at once. Adding an account takes 3,\n"
          "   not the issue's 2: the template names every account (its domain, the accounts the root allows),\n"
          "   so it changes: one UpdateStackSet; then the new account's instances outside the primary region;\n"
          "   then its us-west-2 instance, whose DistributionArn override is the ARN of the distribution just\n"
          "   created. Two would need that ARN without an override: a bucket policy allowing any distribution\n"
          "   of the account (weaker) or a custom resource reading the us-east-1 stack.)")

    if failures:
        print("\nTARGETS MISSED:\n  " + "\n  ".join(failures))
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
