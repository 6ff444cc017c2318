"""Helpers of the site publisher tests: a deployed environment on moto, sites on disk, a call recorder."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.aws import Access, Clients
from rollout.bootstrap import Bootstrapper
from rollout.console import Console
from rollout.deployer import Deployer
from rollout.inputs import TemplateSet
from rollout.rehearse import rehearsal_session, reset_moto, seed_accounts
from sitepublish.targets import SiteTarget, resolve_targets

ROOT = Path(__file__).resolve().parents[2]


def quiet() -> Console:
    return Console(io.StringIO(), tty=False)


def console_and_buffer() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(buffer, tty=False), buffer


@dataclass
class Deployment:
    """An environment deployed on the moto server, with what the tests read through the service APIs."""

    templates: TemplateSet
    endpoint: str
    targets: dict[str, SiteTarget] = field(default_factory=dict)
    _inspector: Clients | None = None
    _seen_invalidations: dict[str, int] = field(default_factory=dict)

    @property
    def env(self) -> Any:
        return self.templates.env

    def clients(self) -> Clients:
        return Clients(rehearsal_session(), endpoint_url=self.endpoint)

    def inside(self, account: str, service: str, region: str | None = None) -> Any:
        """A client in `account` with full access (the bootstrap role), to check what the commands did."""
        if self._inspector is None:
            self._inspector = self.clients()
        return self._inspector.target(account, service, region or self.env.primary_region, Access.BOOTSTRAP)

    def objects(self, account: str) -> dict[str, dict[str, Any]]:
        """HeadObject of every current object in the account's origin bucket, by key."""
        s3 = self.inside(account, "s3")
        bucket = self.targets[account].bucket
        found = {}
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            found[item["Key"]] = s3.head_object(Bucket=bucket, Key=item["Key"])
        return found

    def body(self, account: str, key: str) -> bytes:
        return self.inside(account, "s3").get_object(Bucket=self.targets[account].bucket, Key=key)["Body"].read()

    def invalidations(self, account: str) -> list[dict[str, Any]]:
        """The invalidations of the account's distribution since the test began, oldest first, with their paths."""
        cloudfront = self.inside(account, "cloudfront", "us-east-1")
        distribution = self.targets[account].distribution_id
        listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"].get("Items", [])
        full = [cloudfront.get_invalidation(DistributionId=distribution, Id=i["Id"])["Invalidation"] for i in listed]
        return sorted(full, key=lambda i: i["CreateTime"])[self._seen_invalidations.get(account, 0):]

    def empty_buckets(self) -> None:
        """Start a test afresh: delete every version of every object from each origin bucket (site and
        releases), and count only the invalidations made from now on."""
        self._seen_invalidations = {}
        for account in self.targets:
            self._seen_invalidations[account] = len(self.invalidations(account))
        for account, target in self.targets.items():
            s3 = self.inside(account, "s3")
            versions = s3.list_object_versions(Bucket=target.bucket)
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                      for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
            if doomed:
                s3.delete_objects(Bucket=target.bucket, Delete={"Objects": doomed, "Quiet": True})


def deploy(templates: TemplateSet, endpoint: str, with_targets: bool = True) -> Deployment:
    """Reset moto, then bootstrap and deploy the environment as `deploy.py` does."""
    reset_moto(endpoint)
    env = templates.env
    clients = Clients(rehearsal_session(), endpoint_url=endpoint)
    seed_accounts(env)
    Bootstrapper(env, clients, quiet()).run()
    Deployer(templates, clients, quiet()).run()
    deployment = Deployment(templates, endpoint)
    if with_targets:
        deployment.targets = {t.account: t for t in resolve_targets(env, clients, quiet())}
    return deployment


def write_site(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (key -> content) under root; returns root."""
    for key, content in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def touch_all(root: Path, when: float) -> None:
    """A rebuild with identical content: every file gets a new modification time."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (when, when))


# The site of most tests: content-hashed assets, fonts (their own rule in config/edge/prod.yaml),
# other files, pages, and an experiment variant's copy of a page.
SITE = {
    "index.html": "<!doctype html><title>home</title><script src=/assets/app.3f9a1c2b.js></script>",
    "about/index.html": "<!doctype html><title>about</title>",
    "assets/app.3f9a1c2b.js": "console.log('v1');",
    "assets/style.0a1b2c3d4e.css": "body{color:#111}",
    "fonts/inter.woff2": b"wOF2\x00\x01binary",
    "robots.txt": "User-agent: *\n",
    "logo.png": b"\x89PNG\r\n\x1a\nnot really",
    "_variants/one-page/shop/index.html": "<!doctype html><title>shop, one page</title>",
}


class CallRecorder:
    """Wraps the clients `Clients.assumed` returns: every call, with the role it was made as."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def install(self, monkeypatch: Any) -> "CallRecorder":
        original = Clients.assumed
        recorder = self

        def assumed(clients: Clients, role_arn: str, service: str, region: str, session_name: str,
                    pool: int = 10) -> Any:
            return _Recorded(original(clients, role_arn, service, region, session_name, pool), role_arn, recorder)

        monkeypatch.setattr(Clients, "assumed", assumed)
        return self

    def operations(self, role_arn: str | None = None) -> list[str]:
        return [operation for role, operation, _ in self.calls if role_arn is None or role == role_arn]

    def keys(self, operation: str) -> list[str]:
        return [kwargs["Key"] for _, op, kwargs in self.calls if op == operation]


class _Recorded:
    def __init__(self, client: Any, role_arn: str, recorder: CallRecorder):
        self._client = client
        self._role_arn = role_arn
        self._recorder = recorder
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        operation = self._client.meta.method_to_api_mapping.get(name)
        if operation is None:
            return attr

        def call(**kwargs: Any) -> Any:
            self._recorder.calls.append((self._role_arn, operation, kwargs))
            return attr(**kwargs)
        return call
