"""`publish`: upload output/<env>/ to each region's template bucket under content-addressed keys.

Layout of a template bucket (one per project, administration account and region):

    blobs/sha256/<sha256 of a file>        every distinct file body, uploaded once
    <env>/<set digest[:16]>/<file>.json    one prefix per template set, copied from the blobs

The root template builds nested TemplateURLs as `${TemplatesPrefix}<component>.json`, so a set
must keep plain file names under one prefix; the prefix changes whenever any file changes, so a
published set is immutable and what a stack set runs can always be read back. Bytes go over the
network only for a body no set has used before: the files of a new set that did not change are
server-side copies (CopyObject) of their blobs. The last object written under a prefix is
`.published` (the set's manifest, its digest in metadata): an already-published set costs one
HeadObject per region, whatever the number of files and regions.

The edge functions' packages go to the edge region's bucket under the keys lambda_edge.json names
(rollout/edge_package.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import botocore.exceptions

from rollout import naming
from rollout.aws import Clients, error_code, head_object
from rollout.console import Console
from rollout.edge_package import (
    LAMBDA_EDGE_TEMPLATE,
    NO_BYTECODE,
    PackageOutcome,
    RuntimePython,
    edge_code,
    publish_packages,
    runtime_python,
)
from rollout.errors import InputError
from rollout.inputs import TemplateSet

BLOB_PREFIX = "blobs/sha256/"
DIGEST_METADATA = "sha256"
# Written after every file of a set is under its prefix; its metadata holds the set digest.
SET_MARKER = ".published"


@dataclass
class RegionPublication:
    region: str
    bucket: str
    prefix: str
    uploaded: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return naming.template_url(self.bucket, self.region, self.prefix + name)


@dataclass
class Publication:
    prefix: str
    regions: dict[str, RegionPublication]
    packages: list[PackageOutcome] = field(default_factory=list)
    runtime_python: RuntimePython | None = None

    def bucket(self, region: str) -> str:
        return self.regions[region].bucket

    @property
    def root_url(self) -> str:
        """The root template in the stack set's region: the stack set's TemplateURL."""
        return self.regions[naming.STACK_SET_REGION].url(naming.ROOT_TEMPLATE)

    @property
    def changed(self) -> bool:
        return (any(r.uploaded or r.copied for r in self.regions.values())
                or any(p.action != "present" for p in self.packages))


def _require_bucket(s3: Any, bucket: str, env_name: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            raise InputError(f"template bucket {bucket} does not exist: run "
                             f"`python deploy.py bootstrap --env {env_name}` first") from exc
        raise


def require_bootstrap(templates: TemplateSet, clients: Clients) -> list[str]:
    """The regions whose template bucket is missing although bootstrap has run (regions added to
    the environment since: deploy creates their buckets); InputError (exit 2) when the stack set's
    region has none, i.e. bootstrap has not run."""
    env = templates.env
    missing = []
    for region in env.regions:
        bucket = naming.template_bucket_name(env.project, clients.account, region)
        try:
            clients.admin("s3", region).head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            missing.append(region)
    if naming.STACK_SET_REGION in missing:
        bucket = naming.template_bucket_name(env.project, clients.account, naming.STACK_SET_REGION)
        raise InputError(f"template bucket {bucket} does not exist: run "
                         f"`python deploy.py bootstrap --env {env.environment}` first")
    return missing


def publish_templates(templates: TemplateSet, clients: Clients, buckets_checked: bool = False) -> Publication:
    """Make the set available under its prefix in every region's template bucket (`buckets_checked`:
    require_bootstrap has just found each bucket)."""
    env = templates.env
    admin = clients.account
    prefix = templates.prefix
    result = Publication(prefix=prefix, regions={})
    code = []
    if LAMBDA_EDGE_TEMPLATE in templates.files:
        # Checked before anything is uploaded: the sources match their keys, the interpreter is usable.
        code = edge_code(env.environment, templates.template(LAMBDA_EDGE_TEMPLATE),
                         str(templates.directory / LAMBDA_EDGE_TEMPLATE))
        result.runtime_python = runtime_python()
    for region in env.regions:
        bucket = naming.template_bucket_name(env.project, admin, region)
        s3 = clients.admin("s3", region)
        if not buckets_checked:
            _require_bucket(s3, bucket, env.environment)
        published = RegionPublication(region=region, bucket=bucket, prefix=prefix)
        result.regions[region] = published
        marker = head_object(s3, bucket, prefix + SET_MARKER)
        if marker is not None and marker.get("Metadata", {}).get(DIGEST_METADATA) == templates.digest:
            published.present = sorted(templates.files)
            continue
        for name, body in sorted(templates.files.items()):
            digest = templates.digests[name]
            key = prefix + name
            head = head_object(s3, bucket, key)
            if head is not None and head.get("Metadata", {}).get(DIGEST_METADATA) == digest:
                published.present.append(name)
                continue
            blob = BLOB_PREFIX + digest
            if head_object(s3, bucket, blob) is None:
                s3.put_object(
                    Bucket=bucket, Key=blob, Body=body, ContentType="application/json",
                    Metadata={DIGEST_METADATA: digest},
                    # S3 rejects the upload if the bytes it received do not match.
                    ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
                )
                published.uploaded.append(name)
            else:
                published.copied.append(name)
            s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": blob},
                           MetadataDirective="COPY")
        manifest = json.dumps(templates.digests, sort_keys=True, indent=1).encode()
        s3.put_object(Bucket=bucket, Key=prefix + SET_MARKER, Body=manifest, ContentType="application/json",
                      Metadata={DIGEST_METADATA: templates.digest})
    if result.runtime_python is not None:
        # The functions exist only in the edge region: their packages go to its bucket, whose policy
        # lets the environment's execution roles read <env>/*.
        result.packages = publish_packages(code, clients.admin("s3", naming.STACK_SET_REGION),
                                           result.bucket(naming.STACK_SET_REGION), result.runtime_python)
    return result


def console_link(region: str, url: str, stack_name: str, parameters: dict[str, str]) -> str:
    """A CloudFormation console quick-create link with the template URL and parameters filled in."""
    query = {"templateURL": url, "stackName": stack_name}
    query.update({f"param_{k}": v for k, v in parameters.items()})
    return (f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
            f"#/stacks/create/review?{urlencode(query, quote_via=quote)}")


def report_publication(templates: TemplateSet, publication: Publication, console: Console) -> None:
    env = templates.env
    console.line(f"Templates of {naming.stack_set_name(env)} (set {templates.digest[:16]}, "
                 f"{len(templates.files)} files):")
    for region, p in publication.regions.items():
        console.line(f"  {region:<14} s3://{p.bucket}/{p.prefix}  uploaded {len(p.uploaded)}, "
                     f"copied {len(p.copied)}, already there {len(p.present)}")
    if publication.packages:
        bucket = publication.bucket(naming.STACK_SET_REGION)
        console.line(f"Edge function packages ({publication.runtime_python.note}):")
        for package in publication.packages:
            bytecode = "with bytecode" if package.bytecode != NO_BYTECODE else "source only"
            size = f", {package.size:,} bytes" if package.size is not None else ""
            console.line(f"  s3://{bucket}/{package.key}  {package.action}, {bytecode}{size}")
    console.line(f"Root template URL: {publication.root_url}")
    console.line("To create the stacks from the console instead (one stack per region, no StackSets):")
    for region, p in publication.regions.items():
        parameters = {naming.PARAM_TEMPLATES_BUCKET: p.bucket, naming.PARAM_TEMPLATES_PREFIX: p.prefix}
        link = console_link(region, p.url(naming.ROOT_TEMPLATE), env.name_prefix, parameters)
        console.line(f"  {region}: {link}")
        if region != naming.STACK_SET_REGION and templates.has_distribution_parameter:
            console.line(f"    (after the {naming.STACK_SET_REGION} stack is complete, set "
                         f"{naming.PARAM_DISTRIBUTION_ARN} to its {naming.OUTPUT_DISTRIBUTION_ARN} output)")


def publish(templates: TemplateSet, clients: Clients, console: Console) -> int:
    """The `publish` command: upload what is missing and print the URLs."""
    publication = publish_templates(templates, clients)
    report_publication(templates, publication, console)
    return 0
