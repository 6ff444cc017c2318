"""Benchmark: `deploy.py site sync` against `aws s3 sync` (the AWS CLI), on the same moto server in one run.

Run: python tests/bench_site.py [--files 5000]   (prints the figures; exit 1 if a target is missed)

Both tools run as the commands users type, each in its own process, against one moto HTTP server in
this process; every HTTP request the server receives is counted by the same WSGI wrapper, so both
tools are counted the same way. Each gets a bucket of the same kind: SSE-KMS by default, versioned
(deploy.py site: the dev environment's origin bucket, deployed as `deploy.py deploy` does; aws s3
sync: a bucket of the administration account set up alike). Scenarios, in order:

  1. the first upload of N files (5,000 by default);
  2. a rebuild with identical content and new modification times (target: zero uploads);
  3. a rebuild in which one page changed (target: one upload and one invalidation path).

The AWS CLI lives in an environment of its own, created on first run (network to PyPI needed once):
    python3 -m venv .venv-awscli && .venv-awscli/bin/pip install awscli==1.46.3
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

# A script under tests/ sees tests/ on sys.path, not the project root that holds the packages.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rollout.aws import Clients  # noqa: E402
from rollout.bootstrap import Bootstrapper  # noqa: E402
from rollout.console import Console  # noqa: E402
from rollout.deployer import Deployer  # noqa: E402
from rollout.inputs import load_templates  # noqa: E402
from rollout.rehearse import rehearsal_session, seed_accounts  # noqa: E402
from sitepublish.targets import resolve_targets  # noqa: E402
from templates.config import load_environment  # noqa: E402

AWSCLI_VERSION = "1.46.3"
AWSCLI_VENV = ROOT / ".venv-awscli"
AWSCLI_BUCKET = "bench-awscli-target"
ENVIRONMENT = "dev"
CHANGED_PAGE = "pages/17/index.html"
# deploy.py site keeps its release manifests and lock under this prefix of the bucket.
STATE_PREFIX = "/.edgecdn/"


class RequestCounter:
    """WSGI middleware: every request the moto server receives, as (service, method, kind).

    kind: "upload" for a PutObject of a site file, "state" for one of deploy.py site's own small
    objects (lock, release manifest), "" for anything else.
    """

    def __init__(self, app: Callable[..., Any]):
        self.app = app
        self.requests: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # The service is the one the request was signed for (SigV4 credential scope).
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
        service = scope[3] if len(scope) > 3 else "unsigned"
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        kind = ""
        if (service == "s3" and method == "PUT" and "HTTP_X_AMZ_COPY_SOURCE" not in environ
                and path.count("/") >= 2 and not environ.get("QUERY_STRING")):
            kind = "state" if STATE_PREFIX in path else "upload"
        with self._lock:
            self.requests.append((service, method, kind))
        return self.app(environ, start_response)

    def mark(self) -> int:
        with self._lock:
            return len(self.requests)

    def since(self, mark: int) -> list[tuple[str, str, str]]:
        with self._lock:
            return self.requests[mark:]


def start_moto() -> tuple[Any, str, RequestCounter]:
    from moto.server import ThreadedMotoServer

    from rollout.moto_models import install

    install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # The counter wraps the server's WSGI application (werkzeug reads server.app per request).
    counter = RequestCounter(server._server.app)
    server._server.app = counter
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}", counter


def awscli() -> Path:
    """The AWS CLI of .venv-awscli, created if missing."""
    aws = AWSCLI_VENV / "bin" / "aws"
    if not aws.exists():
        print(f"creating {AWSCLI_VENV} with awscli=={AWSCLI_VERSION} (once; needs PyPI) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(AWSCLI_VENV)], check=True)
        subprocess.run([str(AWSCLI_VENV / "bin" / "pip"), "install", "--quiet", f"awscli=={AWSCLI_VERSION}"],
                       check=True)
    return aws


def write_site(root: Path, count: int) -> None:
    """A built site of `count` files: 70% content-hashed assets, 20% pages, 10% other files (seeded)."""
    rng = random.Random(12)
    for index in range(count):
        kind = index % 10
        if kind < 7:
            body = rng.randbytes(rng.randint(200, 12000))
            digest = hashlib.sha256(body).hexdigest()[:8]
            extension = ("js", "css", "png", "woff2")[index % 4]
            key = f"assets/{index % 40:02d}/chunk{index}.{digest}.{extension}"
        elif kind < 9:
            key = f"pages/{index}/index.html"
            body = (f"<!doctype html><title>page {index}</title>" + "lorem ipsum " * rng.randint(20, 600)).encode()
        else:
            key = f"images/photo{index}.jpg"
            body = rng.randbytes(rng.randint(2000, 20000))
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def rebuild(root: Path) -> None:
    """What a build does to unchanged output: the same bytes, a new modification time."""
    time.sleep(1.1)  # strictly newer than what was just uploaded (S3 keeps seconds)
    now = time.time()
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (now, now))


def prepare(url: str) -> tuple[str, str]:
    """Deploy the dev environment (origin bucket, publisher role, distribution); a bucket alike for aws s3 sync."""
    env = load_environment(ENVIRONMENT)
    clients = Clients(rehearsal_session(), endpoint_url=url)
    quiet = Console(io.StringIO(), tty=False)
    seed_accounts(env)
    Bootstrapper(env, clients, quiet).run()
    Deployer(load_templates(env), clients, quiet).run()
    (target,) = resolve_targets(env, clients, quiet)
    s3, kms = clients.admin("s3", "us-east-1"), clients.admin("kms", "us-east-1")
    key = kms.create_key(Description="bench: aws s3 sync target")["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=AWSCLI_BUCKET)
    s3.put_bucket_versioning(Bucket=AWSCLI_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=AWSCLI_BUCKET, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
        "BucketKeyEnabled": True}]})
    return target.distribution_id, target.account


def invalidation_paths(url: str, account: str, distribution: str, seen: int) -> tuple[list[str], int]:
    """Paths of the invalidations made since `seen` (read outside the counted window)."""
    clients = Clients(rehearsal_session(), endpoint_url=url)
    from rollout.aws import Access

    cloudfront = clients.target(account, "cloudfront", "us-east-1", Access.BOOTSTRAP)
    items = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"].get("Items", [])
    paths = []
    for item in items[: len(items) - seen]:  # newest first
        paths += cloudfront.get_invalidation(DistributionId=distribution, Id=item["Id"])["Invalidation"][
            "InvalidationBatch"]["Paths"].get("Items", [])
    return sorted(paths), len(items)


def run(command: list[str], env: dict[str, str], counter: RequestCounter) -> tuple[float, list[tuple[str, str, str]]]:
    mark = counter.mark()
    began = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return seconds, counter.since(mark)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000, help="files in the site (default %(default)s)")
    args = parser.parse_args()
    aws = awscli()
    version = subprocess.run([str(aws), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"site benchmark: {args.files} files; {version}; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs; moto as an HTTP server in this process\n", flush=True)
    server, url, counter = start_moto()
    rows: list[tuple[str, str, float, int, int, str]] = []
    failures = []
    try:
        distribution, account = prepare(url)
        with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
            site = Path(tmp) / "site"
            write_site(site, args.files)
            total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
            config = Path(tmp) / "aws-config"
            config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
            environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_CONFIG_FILE": str(config),
                           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_DEFAULT_REGION": "us-east-1"}
            ours = [sys.executable, str(ROOT / "deploy.py"), "site", "sync", "--env", ENVIRONMENT, str(site),
                    "--endpoint-url", url]
            theirs = [str(aws), "s3", "sync", str(site), f"s3://{AWSCLI_BUCKET}/", "--endpoint-url", url,
                      "--no-progress", "--only-show-errors"]
            print(f"site: {args.files} files, {total / 1024 / 1024:.1f} MB\n", flush=True)
            seen = 0
            scenarios = [("first upload", lambda: None), ("rebuild, same content", lambda: rebuild(site)),
                         ("rebuild, one page changed", lambda: (
                             (site / CHANGED_PAGE).write_text("<!doctype html><title>changed</title>"),
                             rebuild(site)))]
            for name, change in scenarios:
                change()
                for tool, command in (("deploy.py site sync", ours), ("aws s3 sync", theirs)):
                    print(f"  {name}: {tool} ...", flush=True)
                    seconds, requests = run(command, environment, counter)
                    uploads = sum(1 for r in requests if r[2] == "upload")
                    state = sum(1 for r in requests if r[2] == "state")
                    if tool == "aws s3 sync":
                        invalidation = "- (says nothing of what changed: /* by hand)"
                    else:
                        paths, seen = invalidation_paths(url, account, distribution, seen)
                        invalidation = ", ".join(paths) if paths else "none"
                        if name == "rebuild, same content" and (uploads or paths):
                            failures.append(f"{name}: {uploads} uploads, invalidated {paths} (target: none)")
                        if name == "rebuild, one page changed" and (uploads != 1 or paths != [f"/{CHANGED_PAGE}"]):
                            failures.append(f"{name}: {uploads} uploads, invalidated {paths} (target: one, "
                                            f"/{CHANGED_PAGE})")
                    services = Counter(r[0] for r in requests)
                    rows.append((name, tool, seconds, len(requests), uploads, invalidation))
                    print(f"    {seconds:.1f} s, {len(requests)} requests ("
                          f"{', '.join(f'{s} {n}' for s, n in services.most_common())}), {uploads} uploads"
                          + (f" (+{state} writes of its lock and release manifest)" if state else ""), flush=True)
    finally:
        server.stop()

    print(f"\n{'scenario':<26} {'tool':<20} {'seconds':>8} {'requests':>9} {'uploads':>8}  invalidation")
    for name, tool, seconds, requests, uploads, invalidation in rows:
        print(f"{name:<26} {tool:<20} {seconds:>8.1f} {requests:>9} {uploads:>8}  {invalidation}")
    print("\nrequests: every HTTP request the moto server received while the command ran (deploy.py site also "
          "reads the stack outputs and assumes each account's publisher role: sts, cloudformation).\n"
          "uploads: PutObject of a site file (deploy.py site's lock and release manifest are counted in "
          "requests only).")
    if failures:
        print("\nMISSED: " + "; ".join(failures))
        return 1
    print("\nTargets met: a rebuild with the same content uploads and invalidates nothing; one changed page is "
          "one upload and one invalidation path.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
