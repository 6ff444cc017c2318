"""Benchmark of the rollout: the rehearsal's wall time and API calls, and stack-set operations per rollout.

Run: python tests/bench_rollout.py   (prints the figures; exit 1 if a target is missed)
     python tests/bench_rollout.py --accounts 1 3   (the scaling part with fewer sizes)

Targets: the no-op redeploy makes zero mutating calls; a first rollout of N accounts in two
regions uses at most 1 + N operations (one for the edge region, then one per account in the
primary region, whose DistributionArn override differs per account); an update that changes one
nested template is one operation; adding an account to a running environment is at most three:
an UpdateStackSet (the template names every account: its domain, the accounts the root allows),
then the new account's instance in each region, the primary one after its distribution exists.
The issue asked for two; the bench prints that figure against it and the reason it is not met.
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
from rollout.scenarios import templates_for  # noqa: E402
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

            with tempfile.TemporaryDirectory() as tmp:
                update = changed_copy(name, Path(tmp))
                mark = rehearsal.clients.log.mark()
                deployer = Deployer(update, rehearsal.clients, Console(io.StringIO(), tty=False))
                updated_at = time.perf_counter()
                deployer.run()
                update_seconds = time.perf_counter() - updated_at
                update_calls = rehearsal.clients.log.since(mark)
            update_operations = [op for _, op in update_calls.mutating if op in OPERATION_CALLS]
            expected_first = 1 if env.single_region else 1 + len(env.deploy.accounts)
            rows.append((name, env, report, first, noop, total, update_operations, update_calls, update_seconds))
            if noop.mutating:
                failures.append(f"{name}: the no-op redeploy made {noop.mutating} mutating call(s)")
            if first.operations != expected_first:
                failures.append(f"{name}: first rollout used {first.operations} operations, expected {expected_first}")
            if len(update_operations) != 1:
                failures.append(f"{name}: the one-template update used {len(update_operations)} operations")

    print("rehearsal (bootstrap, publish, deploy, outputs, no-op deploy, checks), wall time and API calls:")
    print(f"  {'env':<8} {'accounts x regions':<20} {'first deploy':>14} {'calls mut/read':>16} "
          f"{'no-op deploy':>14} {'calls mut/read':>16} {'whole rehearsal':>16}")
    for name, env, report, first, noop, total, *_ in rows:
        shape = f"{len(env.deploy.accounts)} x {1 if env.single_region else 2}"
        print(f"  {name:<8} {shape:<20} {first.seconds:>13.2f}s {first.mutating:>7}/{first.reads:<8} "
              f"{noop.seconds:>13.2f}s {noop.mutating:>7}/{noop.reads:<8} {total:>15.2f}s")
    print("\n  API calls of the first deploy by operation (prod):")
    prod_first = next(r[3] for r in rows if r[0] == "prod")
    for operation, count in sorted(prod_first.calls.by_operation().items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {count:>4}  {operation}")
    print("\n  (bootstrap and publish, first run: "
          + "; ".join(f"{r[0]} {r[2].phase('bootstrap').mutating + r[2].phase('publish').mutating} mutating, "
                      f"{r[2].phase('bootstrap').reads + r[2].phase('publish').reads} reads" for r in rows) + ")")

    print("\nstack-set operations:")
    print(f"  {'env':<8} {'first rollout':>14} {'(minimum)':>9} {'update of one nested template':>30} "
          f"{'its calls mut/read':>20} {'time':>8}")
    for name, env, report, first, noop, total, update_operations, update_calls, update_seconds in rows:
        target = 1 if env.single_region else 1 + len(env.deploy.accounts)
        print(f"  {name:<8} {first.operations:>14} {target:>9} {len(update_operations):>30} "
              f"{len(update_calls.mutating):>10}/{len(update_calls.reads):<9} {update_seconds:>7.2f}s")
    print("  (first rollout: CreateStackSet is not an operation; one CreateStackInstances for us-east-1, then\n"
          "   one per account in the primary region because each account's DistributionArn differs: the issue's\n"
          "   target of two operations holds for one account; with N accounts the minimum is 1 + N.\n"
          "   The update: one UpdateStackSet over every instance, us-east-1 first; its PutObject calls\n"
          "   upload only the changed file, once per region.)")

    print("\nstack-set operations by number of accounts (prod's shape: us-east-1 + us-west-2, one domain per account):")
    print(f"  {'accounts':>8} {'first rollout':>14} {'target 1+N':>11} {'update':>7} {'target':>7} "
          f"{'add an account':>15} {'issue target':>13} {'time':>8}")
    with moto_server() as url:
        for count in args.accounts:
            first, update, added, seconds = operations_by_accounts(url, count)
            print(f"  {count:>8} {first:>14} {1 + count:>11} {update:>7} {'<= 2':>7} {added:>15} {'<= 2':>13} "
                  f"{seconds:>7.1f}s")
            if first > 1 + count:
                failures.append(f"{count} accounts: first rollout used {first} operations, more than {1 + count}")
            if update > 2:
                failures.append(f"{count} accounts: the one-template update used {update} operations, more than "
                                "one per region")
            if added > 3:
                failures.append(f"{count} accounts: adding an account used {added} operations, more than 3")
    print("  (update: one UpdateStackSet over every instance, region by region. Adding an account takes 3, not\n"
          "   the issue's 2: the template names every account (its domain, the accounts the root allows), so\n"
          "   it changes: one UpdateStackSet; then the new account's us-east-1 instance; then its us-west-2\n"
          "   instance, whose DistributionArn override is the ARN of the distribution just created. Two would\n"
          "   need that ARN without an override: a bucket policy allowing any distribution of the account\n"
          "   (weaker) or a custom resource reading the us-east-1 stack (a Lambda in every primary stack).)")

    if failures:
        print("\nTARGETS MISSED:\n  " + "\n  ".join(failures))
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
