"""The site step of `deploy.py rehearse`: publish a small site to every account, rebuild, change a page, roll back.

Runs the same functions as `deploy.py site`, then checks the result through the service APIs.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from rollout.aws import Access, Clients
from rollout.console import Console
from sitepublish.cache_rules import CacheRules
from sitepublish.commands import rollback_site, sync_site
from templates.config import EDGE_REGION, EnvConfig

SITE = {
    "index.html": "<!doctype html><title>home</title><script src=/assets/app.5e1f0c2a.js></script>",
    "about.html": "<!doctype html><title>about</title>",
    "assets/app.5e1f0c2a.js": "console.log('rehearsal');",
    "robots.txt": "User-agent: *\n",
}
CHANGED_PAGE = "about.html"


def rehearse_site(env: EnvConfig, clients: Clients, console: Console) -> list[tuple[bool, str]]:
    """Sync, no-op rebuild, one changed page, rollback; returns (ok, text) checks."""
    checks: list[tuple[bool, str]] = []
    quiet = Console(io.StringIO(), tty=False)
    accounts = len(env.deploy.accounts)
    with tempfile.TemporaryDirectory(prefix="edgecdn-rehearsal-site-") as tmp:
        site = Path(tmp)
        for key, content in SITE.items():
            (site / key).parent.mkdir(parents=True, exist_ok=True)
            (site / key).write_text(content)
        results = sync_site(env, clients, console, site)
        checks.append(_check_objects(env, clients, results))

        for path in site.rglob("*"):
            os.utime(path, (time.time() + 3600,) * 2)
        mark = clients.log.mark()
        sync_site(env, clients, quiet, site)
        mutating = clients.log.since(mark).mutating
        checks.append((not mutating, f"site: a rebuild with new modification times made no mutating call "
                                     f"({len(mutating)} mutating)"))

        (site / CHANGED_PAGE).write_text("<!doctype html><title>about us</title>")
        changed = sync_site(env, clients, quiet, site, wait=True)
        ok = all(r.uploaded == 1 and r.paths == [f"/{CHANGED_PAGE}"] and r.invalidation_id for r in changed)
        checks.append((ok and len(changed) == accounts,
                       f"site: one changed page is one upload and one invalidation path (/{CHANGED_PAGE}) in each "
                       f"of {accounts} account(s); got "
                       + ", ".join(f"{r.uploaded} upload(s) {r.paths}" for r in changed)))

        mark = clients.log.mark()
        restored = rollback_site(env, clients, quiet)
        calls = clients.log.since(mark).by_operation()
        bodies = {r.target.account: _body(clients, r.target, CHANGED_PAGE) for r in restored}
        ok = (all(r.restored == 1 and r.paths == [f"/{CHANGED_PAGE}"] for r in restored)
              and set(bodies.values()) == {SITE[CHANGED_PAGE].encode()}
              # the lock and the release manifest are the only objects written; the page is a copy
              and calls["s3:PutObject"] == 2 * accounts and calls["s3:CopyObject"] == accounts)
        checks.append((ok, f"site: rollback restored /{CHANGED_PAGE} from its previous version by a server-side "
                           f"copy in each account and invalidated it ({calls['s3:CopyObject']} copies, "
                           f"{calls['s3:PutObject']} small writes: locks and release manifests)"))
    return checks


def _inside(clients: Clients, account: str, service: str, region: str) -> Any:
    # Checks read what the commands did with full access to the account (the bootstrap role).
    return clients.target(account, service, region, Access.BOOTSTRAP)


def _body(clients: Clients, target: Any, key: str) -> bytes:
    s3 = _inside(clients, target.account, "s3", target.region)
    return s3.get_object(Bucket=target.bucket, Key=key)["Body"].read()


def _check_objects(env: EnvConfig, clients: Clients, results: list[Any]) -> tuple[bool, str]:
    rules = CacheRules.for_environment(env)
    problems = []
    for result in results:
        target = result.target
        s3 = _inside(clients, target.account, "s3", target.region)
        key_arn = s3.get_bucket_encryption(Bucket=target.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
            "ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID")
        for key in SITE:
            head = s3.head_object(Bucket=target.bucket, Key=key)
            if (head.get("CacheControl") != rules.cache_control(key) or not head.get("Metadata", {}).get("sha256")
                    or head.get("ServerSideEncryption") != "aws:kms" or head.get("SSEKMSKeyId") != key_arn
                    or not head.get("ContentType")):
                problems.append(f"{target.account} {key}: {head.get('ContentType')}, {head.get('CacheControl')}, "
                                f"{head.get('ServerSideEncryption')}")
        role = _inside(clients, target.account, "iam", EDGE_REGION).get_role(
            RoleName=target.role_arn.split("/")[-1])["Role"]
        trust = role["AssumeRolePolicyDocument"]
        trust = trust if isinstance(trust, dict) else json.loads(trust)
        principals = [s.get("Principal") for s in trust.get("Statement", [])]
        if principals != [{"AWS": f"arn:aws:iam::{clients.account}:root"}]:
            problems.append(f"{target.account} role {role['RoleName']} trusts {principals}")
    return (not problems and len(results) == len(env.deploy.accounts),
            f"site: {len(SITE)} files published to {len(results)} account(s) through each account's site publisher "
            f"role (trusting only {clients.account}), with Content-Type, Cache-Control from {rules.source}, sha256 "
            "and SSE-KMS with the bucket's key" + (f"; problems: {'; '.join(problems)}" if problems else ""))
