"""Helpers of the rollout tests: sample template sets, moto clients, stubbed clients."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.stub import Stubber

import rollout_samples
from rollout import naming
from rollout.aws import Access, Clients
from rollout.console import Console
from rollout.edge_package import BYTECODE_METADATA, LAMBDA_EDGE_TEMPLATE, edge_code, runtime_cache_tag
from rollout.inputs import TemplateSet, load_templates
from rollout.moto_models.assume_role import seed_role
from rollout.publish import SET_MARKER
from rollout.rehearse import ADMIN_ACCOUNT, rehearsal_session
from templates.config import EnvConfig, load_environment

ROOT = Path(__file__).resolve().parents[2]


def console_and_buffer(tty: bool = False) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(buffer, tty=tty), buffer


def sample_set(env: EnvConfig, root: Path, mutate: Callable[[dict[str, bytes]], None] | None = None) -> TemplateSet:
    """The sample template set of `env` written under root/<env>/, loaded as the CLI would.

    The samples serve only CloudFront's default certificate: `env` loses its custom domains.
    """
    env = dataclasses.replace(env, account_domains=())
    files = rollout_samples.write(env, root / env.environment)
    if mutate:
        mutate(files)
        for name, body in files.items():
            (root / env.environment / name).write_bytes(body)

    def renderer(e: EnvConfig) -> dict[str, bytes]:
        return files

    return load_templates(env, output_root=root, renderer=renderer)


def real_set(name: str) -> TemplateSet:
    """The committed output/<name>/, checked against the generator like the CLI does."""
    return load_templates(load_environment(name))


def account_client(moto: str, service: str, account: str | None = None, region: str = "us-east-1") -> Any:
    """A client of moto's default account (the administration account), or of `account`, entered
    through STS as on AWS (a role `tests` trusting the administration account is seeded there)."""
    session = rehearsal_session()
    if account is not None:
        seed_role(account, "tests", ADMIN_ACCOUNT)
        credentials = session.client("sts", region_name="us-east-1", endpoint_url=moto).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/tests", RoleSessionName="tests")["Credentials"]
        session = boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                                aws_secret_access_key=credentials["SecretAccessKey"],
                                aws_session_token=credentials["SessionToken"])
    return session.client(service, region_name=region, endpoint_url=moto)


def moto_clients(endpoint: str, console: Console | None = None) -> Clients:
    return Clients(rehearsal_session(), endpoint_url=endpoint, notify=(console.line if console else None))


class StubbedClients(Clients):
    """Clients whose every call is answered by a botocore Stubber: nothing leaves the process."""

    def __init__(self, account: str = "999999999999") -> None:
        self.sleeps: list[float] = []
        session = boto3.Session(aws_access_key_id="stub", aws_secret_access_key="stub", region_name="us-east-1")
        super().__init__(session, sleep=self.sleeps.append)
        self._account = account
        self._arn = f"arn:aws:iam::{account}:user/ci"
        self.stubbers: dict[tuple, Stubber] = {}

    def _stubbed(self, key: tuple, service: str, region: str) -> Any:
        if key not in self._clients:
            client = self.session.client(service, region_name=region)
            stubber = Stubber(client)
            stubber.activate()
            self.stubbers[key] = stubber
            self._clients[key] = self._wrap(client)
        return self._clients[key]

    def admin(self, service: str, region: str) -> Any:
        return self._stubbed(("admin", service, region), service, region)

    def target(self, account: str, service: str, region: str, access: str = Access.READ,
               policy: str | None = None) -> Any:
        if account == self.account:
            return self.admin(service, region)
        return self._stubbed(("target", account, service, region), service, region)

    def stub(self, service: str, region: str, account: str | None = None) -> Stubber:
        if account is None or account == self.account:
            self.admin(service, region)
            return self.stubbers[("admin", service, region)]
        self.target(account, service, region)
        return self.stubbers[("target", account, service, region)]

    def assert_done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def stub_bootstrapped(clients: StubbedClients, templates: TemplateSet) -> None:
    """deploy's first check: each region's template bucket exists (HeadBucket answers)."""
    env = templates.env
    for region in env.regions:
        clients.stub("s3", region).add_response(
            "head_bucket", {}, {"Bucket": naming.template_bucket_name(env.project, clients.account, region)})


def stub_published(clients: StubbedClients, templates: TemplateSet) -> None:
    """The set is already in each region's template bucket: its marker answers HeadObject (deploy
    does not look at the buckets again after stub_bootstrapped's check); so are the edge functions'
    packages, with bytecode, in the us-east-1 bucket."""
    env = templates.env
    for region in env.regions:
        bucket = naming.template_bucket_name(env.project, clients.account, region)
        clients.stub("s3", region).add_response(
            "head_object", {"Metadata": {"sha256": templates.digest}},
            {"Bucket": bucket, "Key": templates.prefix + SET_MARKER})
    bucket = naming.template_bucket_name(env.project, clients.account, naming.STACK_SET_REGION)
    lambda_edge = templates.template(LAMBDA_EDGE_TEMPLATE)
    for function in edge_code(env.environment, lambda_edge, LAMBDA_EDGE_TEMPLATE):
        clients.stub("s3", naming.STACK_SET_REGION).add_response(
            "head_object", {"Metadata": {BYTECODE_METADATA: runtime_cache_tag()}},
            {"Bucket": bucket, "Key": function.key})
