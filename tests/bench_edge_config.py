"""Benchmark of `edge-config push` across accounts: API calls and wall time per push, for 1, 3 and 20 accounts.

Run: python tests/bench_edge_config.py   (prints the figures; exit 1 if a target is missed)

Targets: a push costs each account one AssumeRole, one GetItem and one TransactWriteItems; the same
push again writes nothing (one GetItem per account here, where the run's credentials are reused; a
new command also assumes the role once per account); finishing a push that stopped after the first
account writes only the others.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

# A script under tests/ sees tests/ on sys.path, not the project root that holds the packages.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from edgeconfig.accounts import EnvironmentTables, push  # noqa: E402
from edgeconfig.model import load_edge_config  # noqa: E402
from rollout.aws import Clients  # noqa: E402
from rollout.rehearse import moto_server, rehearsal_session, reset_moto  # noqa: E402
from templates.config import load_environment  # noqa: E402

ACCOUNT_COUNTS = (1, 3, 20)


def create_tables(url: str, env, accounts: tuple[str, ...]) -> None:
    """The edge-config table in each account, as the dynamodb stack creates it."""
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    for account in accounts:
        credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/bench",
                                      RoleSessionName="bench")["Credentials"]
        boto3.client("dynamodb", region_name=env.primary_region, endpoint_url=url,
                     aws_access_key_id=credentials["AccessKeyId"],
                     aws_secret_access_key=credentials["SecretAccessKey"],
                     aws_session_token=credentials["SessionToken"]).create_table(
            TableName=env.edge_config_table_name,
            KeySchema=[{"AttributeName": "config_id", "KeyType": "HASH"},
                       {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "config_id", "AttributeType": "S"},
                                  {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST")


def timed_push(tables: EnvironmentTables, config) -> tuple[float, dict[str, int], int]:
    mark = tables.clients.log.mark()
    began = time.perf_counter()
    report = push(tables, config, None, "bench")
    seconds = time.perf_counter() - began
    assert report.ok, [o.result for o in report.outcomes]
    return seconds, dict(tables.clients.log.since(mark).by_operation()), len(report.written)


def main() -> int:
    print(f"edge-config push benchmark (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs), "
          "moto as an HTTP server in this process\n")
    prod = load_environment("prod")
    failures = []
    with tempfile.TemporaryDirectory() as scratch, moto_server() as url:
        files = []
        for target in ("/one", "/two"):
            path = Path(scratch) / f"{target.strip('/')}.yaml"
            path.write_text(f"redirects: [{{from: /old, to: {target}}}]\n")
            files.append(load_edge_config(path))
        print("calls: AssumeRole / GetItem / TransactWriteItems; finish: the same push after one that "
              "reached only the first account\n")
        print(f"{'accounts':>8}  {'push':>7}  {'calls':<12}  {'no-op push':>10}  {'calls':<12}  "
              f"{'finish':>7}  {'written':>7}")
        for count in ACCOUNT_COUNTS:
            reset_moto(url)
            accounts = tuple(f"{100000000000 + n:012d}" for n in range(1, count + 1))
            env = dataclasses.replace(prod, deploy=dataclasses.replace(prod.deploy, accounts=accounts))
            create_tables(url, env, accounts)
            tables = EnvironmentTables(env, Clients(rehearsal_session(), endpoint_url=url), accounts, write=True)
            first_s, first, first_written = timed_push(tables, files[0])
            again_s, again, again_written = timed_push(tables, files[0])
            # A push that reached the first account only, then the same push for all: the others.
            partial = EnvironmentTables(env, tables.clients, accounts[:1], write=True)
            timed_push(partial, files[1])
            finish_s, finish, finish_written = timed_push(tables, files[1])

            def calls(counts: dict[str, int]) -> str:
                return " / ".join(str(counts.get(f"{service}:{op}", 0)) for service, op in (
                    ("sts", "AssumeRole"), ("dynamodb", "GetItem"), ("dynamodb", "TransactWriteItems")))

            print(f"{count:>8}  {first_s:6.2f}s  {calls(first):<12}  {again_s:9.2f}s  {calls(again):<12}  "
                  f"{finish_s:6.2f}s  {finish_written:>7}")
            if (first.get("sts:AssumeRole"), first.get("dynamodb:GetItem"),
                    first.get("dynamodb:TransactWriteItems")) != (count, count, count) or first_written != count:
                failures.append(f"{count} accounts: a first push is not one AssumeRole, GetItem and write each")
            if again.get("dynamodb:TransactWriteItems") or again_written or again.get("sts:AssumeRole"):
                failures.append(f"{count} accounts: the same push again wrote or assumed a role")
            if finish_written != count - 1:
                failures.append(f"{count} accounts: finishing wrote {finish_written}, not {count - 1}")
    print("\n(wall times are moto's on this machine; AWS adds a round trip per call and account)")
    for failure in failures:
        print(f"MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
