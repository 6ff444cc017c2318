"""deploy.py site against moto: the real prod templates deployed to three accounts, KMS-encrypted buckets."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from moto.cloudfront import models as cloudfront_models
from moto.cloudfront.exceptions import CloudFrontException
from moto.s3 import models as s3_models
from moto.s3.exceptions import S3ClientError

import deploy
from rollout.inputs import load_templates
from site_support import (
    ROOT,
    SITE,
    CallRecorder,
    Deployment,
    console_and_buffer,
    quiet,
    touch_all,
    write_site,
)
from site_support import deploy as deploy_environment
from sitepublish.commands import rollback_site, sync_site
from sitepublish.releases import LOCK_KEY, RELEASES_PREFIX
from templates.config import load_environment

ADMIN = "123456789012"
ACCOUNTS = ("333333333333", "444444444444", "555555555555")
IMMUTABLE = "public, max-age=31536000, immutable"
PAGE = "public, max-age=0, must-revalidate"
EXPECTED_CACHE_CONTROL = {
    "index.html": PAGE, "about/index.html": PAGE, "_variants/one-page/shop/index.html": PAGE,
    "assets/app.3f9a1c2b.js": IMMUTABLE, "assets/style.0a1b2c3d4e.css": IMMUTABLE,
    "fonts/inter.woff2": "public, max-age=2592000", "robots.txt": None, "logo.png": None,
}


@pytest.fixture(scope="module")
def prod(moto_endpoint: str) -> Deployment:
    """config/prod.yaml and the committed output/prod/, deployed to its three accounts (about 20 s)."""
    return deploy_environment(load_templates(load_environment("prod")), moto_endpoint)


@pytest.fixture
def deployment(prod: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """The deployment with empty origin buckets, and credentials of the administration account."""
    prod.empty_buckets()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield prod


def cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """deploy.py in this process: exit status (argparse's usage errors included), stdout, stderr."""
    try:
        status = deploy.main(argv)
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def sync_args(d: Deployment, directory: Path, *extra: str) -> list[str]:
    return ["site", "sync", "--env", "prod", str(directory), "--endpoint-url", d.endpoint, *extra]


def site_keys(objects: dict[str, Any]) -> list[str]:
    return sorted(k for k in objects if not k.startswith(".edgecdn/"))


def mutating(d: Deployment, action: Any) -> list[tuple[str, str]]:
    clients = d.clients()
    mark = clients.log.mark()
    action(clients)
    return clients.log.since(mark).mutating


# --- sync ---------------------------------------------------------------------------------------------


def test_sync_publishes_to_every_account_with_type_cache_control_hash_and_kms(
        deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    site = write_site(tmp_path / "site", SITE)
    status, out, err = cli(sync_args(deployment, site), capsys)
    assert status == 0, out + err
    for account in ACCOUNTS:
        assert f"  {account}  published" in out
        objects = deployment.objects(account)
        assert site_keys(objects) == sorted(SITE)
        key_arn = deployment.inside(account, "s3").get_bucket_encryption(
            Bucket=deployment.targets[account].bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
            "ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
        assert key_arn.startswith(f"arn:aws:kms:us-west-2:{account}:key/")
        for key, content in SITE.items():
            head = objects[key]
            body = content.encode() if isinstance(content, str) else content
            assert head["Metadata"]["sha256"] == __import__("hashlib").sha256(body).hexdigest(), key
            assert head.get("CacheControl") == EXPECTED_CACHE_CONTROL[key], key
            assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn, key
            assert deployment.body(account, key) == body
        types = {key: objects[key]["ContentType"] for key in SITE}
        assert types["index.html"] == "text/html; charset=utf-8"
        assert types["assets/app.3f9a1c2b.js"] == "text/javascript; charset=utf-8"
        assert types["fonts/inter.woff2"] == "font/woff2" and types["logo.png"] == "image/png"
        assert [k for k in objects if k.startswith(RELEASES_PREFIX)] != []
        assert LOCK_KEY not in objects  # released
        assert deployment.invalidations(account) == []  # nothing was cached before the first release
    assert "Summary: site sync of" in out and "live release: " in out


def test_uploads_go_through_each_accounts_publisher_role_and_stay_within_its_policy(
        deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = CallRecorder().install(monkeypatch)
    clients = deployment.clients()
    site = write_site(tmp_path / "site", SITE)
    env = deployment.env
    sync_site(env, clients, quiet(), site, now=datetime.now(timezone.utc))
    (site / "index.html").write_text("<p>v2</p>")
    (site / "robots.txt").unlink()
    sync_site(env, clients, quiet(), site, grace=timedelta(0))
    rollback_site(env, clients, quiet())
    # Every S3 and CloudFront call went through a publisher role (the admin clients made none).
    assert len([c for c in clients.log.calls if c[0] in ("s3", "cloudfront")]) == len(recorder.calls)
    for account in ACCOUNTS:
        target = deployment.targets[account]
        iam = deployment.inside(account, "iam", "us-east-1")
        role = iam.get_role(RoleName=target.role_arn.split("/")[-1])["Role"]
        trust = role["AssumeRolePolicyDocument"]
        trust = trust if isinstance(trust, dict) else json.loads(trust)
        assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ADMIN}:root"}
        policy = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="PublishSite")["PolicyDocument"]
        policy = policy if isinstance(policy, dict) else json.loads(policy)
        granted = [(action, resource) for s in policy["Statement"] if s["Effect"] == "Allow"
                   for action in s["Action"] for resource in (s["Resource"] if isinstance(s["Resource"], list)
                                                              else [s["Resource"]])]
        key_arn = deployment.inside(account, "s3").get_bucket_encryption(Bucket=target.bucket)[
            "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
        calls = [(op, kwargs) for role_arn, op, kwargs in recorder.calls if role_arn == target.role_arn]
        assert {op for op, _ in calls} >= {"ListObjectsV2", "PutObject", "CopyObject", "DeleteObjects",
                                           "GetObject", "HeadObject", "CreateInvalidation"}
        for op, kwargs in calls:
            for action, resource in _needs(op, kwargs, target, key_arn):
                assert any(a == action and fnmatch.fnmatchcase(resource, r) for a, r in granted), (op, action, resource)
    assert {role for role, _, _ in recorder.calls} == {t.role_arn for t in deployment.targets.values()}


def _needs(operation: str, kwargs: dict[str, Any], target: Any, key_arn: str) -> list[tuple[str, str]]:
    """The IAM actions (and resources) an S3 or CloudFront call needs (service authorization reference)."""
    bucket = f"arn:aws:s3:::{target.bucket}"
    distribution = f"arn:aws:cloudfront::{target.account}:distribution/{target.distribution_id}"
    obj = f"{bucket}/{kwargs.get('Key', '')}"
    read = "s3:GetObjectVersion" if kwargs.get("VersionId") else "s3:GetObject"
    return {
        "ListObjectsV2": [("s3:ListBucket", bucket)],
        "HeadObject": [(read, obj)],
        "GetObject": [(read, obj), ("kms:Decrypt", key_arn)],
        "PutObject": [("s3:PutObject", obj), ("kms:GenerateDataKey", key_arn)],
        "CopyObject": [("s3:PutObject", obj), ("s3:GetObjectVersion", obj), ("kms:Decrypt", key_arn),
                       ("kms:GenerateDataKey", key_arn)],
        "DeleteObject": [("s3:DeleteObject", obj)],
        "DeleteObjects": [("s3:DeleteObject", f"{bucket}/{o['Key']}") for o in kwargs.get("Delete", {}).get(
            "Objects", [])],
        "CreateInvalidation": [("cloudfront:CreateInvalidation", distribution)],
        "GetInvalidation": [("cloudfront:GetInvalidation", distribution)],
    }[operation]


def test_a_rebuild_with_new_modification_times_uploads_nothing(
        deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    site = write_site(tmp_path / "site", SITE)
    assert cli(sync_args(deployment, site), capsys)[0] == 0
    touch_all(site, datetime.now(timezone.utc).timestamp() + 3600)
    calls = mutating(deployment, lambda clients: sync_site(deployment.env, clients, quiet(), site))
    assert calls == []  # no upload, no lock, no release, no invalidation
    status, out, _ = cli(sync_args(deployment, site), capsys)
    assert status == 0
    for account in ACCOUNTS:
        assert f"account {account}: nothing changed; release " in out
        assert deployment.invalidations(account) == []


def test_one_changed_page_is_one_upload_and_one_invalidation_path_per_account(
        deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = write_site(tmp_path / "site", SITE)
    sync_site(deployment.env, deployment.clients(), quiet(), site)
    (site / "about" / "index.html").write_text("<!doctype html><title>about us</title>")
    touch_all(site, datetime.now(timezone.utc).timestamp() + 3600)
    recorder = CallRecorder().install(monkeypatch)
    console, out = console_and_buffer()
    sync_site(deployment.env, deployment.clients(), console, site, wait=True)
    uploads = [k for k in recorder.keys("PutObject") if not k.startswith(".edgecdn/")]
    assert uploads == ["about/index.html"] * 3
    for account in ACCOUNTS:
        (invalidation,) = deployment.invalidations(account)
        assert invalidation["InvalidationBatch"]["Paths"]["Items"] == ["/about/index.html"]
        assert deployment.body(account, "about/index.html") == b"<!doctype html><title>about us</title>"
        assert f"account {account}: invalidation {invalidation['Id']} completed" in out.getvalue()


def test_assets_go_first_then_other_files_then_pages(
        deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = CallRecorder().install(monkeypatch)
    site = write_site(tmp_path / "site", SITE)
    sync_site(deployment.env, deployment.clients(), quiet(), site, account="444444444444")
    order = [k for k in recorder.keys("PutObject") if not k.startswith(".edgecdn/")]
    assets = {"assets/app.3f9a1c2b.js", "assets/style.0a1b2c3d4e.css"}
    pages = {"index.html", "about/index.html", "_variants/one-page/shop/index.html"}
    assert set(order[:2]) == assets
    assert set(order[2:5]) == {"fonts/inter.woff2", "robots.txt", "logo.png"}
    assert set(order[5:]) == pages
    # The lock is taken before the first upload and the release recorded after the last.
    puts = recorder.keys("PutObject")
    assert puts[0] == LOCK_KEY and puts[-1].startswith(RELEASES_PREFIX)
    assert site_keys(deployment.objects("333333333333")) == []  # --account: the others untouched


def test_files_that_left_the_site_wait_for_the_grace_period(deployment: Deployment, tmp_path: Path) -> None:
    env, clients = deployment.env, deployment.clients()
    start = datetime.now(timezone.utc)
    site = write_site(tmp_path / "site", {**SITE, "old.html": "<p>old</p>", "assets/old.11111111.js": "old()"})
    sync_site(env, clients, quiet(), site, now=start)
    (site / "old.html").unlink()
    (site / "assets" / "old.11111111.js").unlink()
    console, out = console_and_buffer()
    sync_site(env, clients, console, site, now=start + timedelta(hours=1))
    for account in ACCOUNTS:
        assert {"old.html", "assets/old.11111111.js"} <= set(deployment.objects(account))  # old pages find them
        assert deployment.invalidations(account) == []
    assert "0 to delete, 2 waiting for deletion" in out.getvalue()
    # The first sync after the grace period (7 days by default) deletes them.
    sync_site(env, clients, quiet(), site, now=start + timedelta(hours=1, days=7))
    for account in ACCOUNTS:
        assert site_keys(deployment.objects(account)) == sorted(SITE)
        (invalidation,) = deployment.invalidations(account)
        assert invalidation["InvalidationBatch"]["Paths"]["Items"] == ["/old.html"]  # the asset is immutable
        versions = deployment.inside(account, "s3").list_object_versions(
            Bucket=deployment.targets[account].bucket, Prefix="old.html")
        assert len(versions["Versions"]) == 1 and len(versions["DeleteMarkers"]) == 1  # still restorable


def test_grace_period_option(deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    site = write_site(tmp_path / "site", {**SITE, "old.html": "<p>old</p>"})
    assert cli(sync_args(deployment, site, "--account", "555555555555"), capsys)[0] == 0
    (site / "old.html").unlink()
    status, out, err = cli(sync_args(deployment, site, "--account", "555555555555", "--grace-period", "0"), capsys)
    assert status == 0, out + err
    assert "old.html" not in deployment.objects("555555555555")
    status, out, err = cli(sync_args(deployment, site, "--grace-period", "a week"), capsys)
    assert status == 2 and "--grace-period: must be a duration such as 7d, 12h, 30m or 0, got 'a week'" in err


def test_dry_run_lists_everything_and_changes_nothing(
        deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    site = write_site(tmp_path / "site", SITE)
    assert cli(sync_args(deployment, site), capsys)[0] == 0
    (site / "index.html").write_text("<p>new home</p>")
    (site / "logo.png").unlink()
    before = {account: deployment.objects(account) for account in ACCOUNTS}
    status, out, err = cli(sync_args(deployment, site, "--dry-run"), capsys)
    assert status == 0, out + err
    assert "dry run: nothing is changed" in out
    assert "  pages  upload  changed index.html (15 B)" in out
    assert "  keep           logo.png (left the site " in out
    assert "  invalidate     /index.html" in out
    assert out.count("  planned  ") == 3
    after = {account: deployment.objects(account) for account in ACCOUNTS}
    assert {a: {k: h["ETag"] for k, h in o.items()} for a, o in after.items()} == {
        a: {k: h["ETag"] for k, h in o.items()} for a, o in before.items()}


# --- releases and rollback ----------------------------------------------------------------------------


def test_rollback_restores_the_previous_release_from_versions_without_uploading(
        deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    site = write_site(tmp_path / "site", SITE)
    assert cli(sync_args(deployment, site), capsys)[0] == 0
    (site / "index.html").write_text("<script src=/assets/app.99999999.js></script>")
    write_site(site, {"assets/app.99999999.js": "console.log('v2');"})
    assert cli(sync_args(deployment, site), capsys)[0] == 0
    recorder = CallRecorder().install(monkeypatch)
    status, out, err = cli(["site", "rollback", "--env", "prod", "--endpoint-url", deployment.endpoint, "--wait"],
                           capsys)
    assert status == 0, out + err
    assert [k for k in recorder.keys("PutObject") if not k.startswith(".edgecdn/")] == []  # nothing uploaded
    assert sorted(recorder.keys("CopyObject")) == ["index.html"] * 3
    for account in ACCOUNTS:
        assert deployment.body(account, "index.html") == SITE["index.html"].encode()
        assert deployment.objects(account)["index.html"]["CacheControl"] == PAGE
        # The new asset stays for the grace period: pages cached with it still load.
        assert "assets/app.99999999.js" in deployment.objects(account)
        assert deployment.invalidations(account)[-1]["InvalidationBatch"]["Paths"]["Items"] == ["/index.html"]
    status, out, err = cli(["site", "releases", "--env", "prod", "--endpoint-url", deployment.endpoint,
                            "--account", "333333333333"], capsys)
    assert status == 0, err
    rows = [line.split(" ", 1)[1] for line in out.splitlines() if re.search(r"Z   \d{8}T\d{6}Z-", line)]
    assert len(rows) == 3
    first_id = rows[2].split()[0]
    assert " live " in rows[0] and " rollback " in rows[0] and rows[0].rstrip().endswith(first_id)
    # A second rollback returns to the release the first one undid.
    status, out, err = cli(["site", "rollback", "--env", "prod", "--endpoint-url", deployment.endpoint], capsys)
    assert status == 0, out + err
    assert deployment.body("444444444444", "index.html") == b"<script src=/assets/app.99999999.js></script>"


def test_rollback_to_a_named_release_and_refusals(
        deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    env, clients = deployment.env, deployment.clients()
    start = datetime.now(timezone.utc)
    site = write_site(tmp_path / "site", SITE)
    first = sync_site(env, clients, quiet(), site, now=start)[0].release
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private\n")
    sync_site(env, clients, quiet(), site, now=start + timedelta(minutes=1))
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    sync_site(env, clients, quiet(), site, now=start + timedelta(minutes=2))
    base = ["site", "rollback", "--env", "prod", "--endpoint-url", deployment.endpoint]
    status, out, err = cli(base + ["--to", "last-week"], capsys)
    assert status == 2 and "argument --to: must be a release id such as 20261126T101500Z-3f9a1c2b" in err
    status, out, err = cli(base + ["--to", "20200101T000000Z-deadbeef"], capsys)
    assert status == 2
    assert "--to 20200101T000000Z-deadbeef: account 333333333333 (s3://edgecdn-prod-origin-333333333333-us-west-2) " \
           "has no such release" in err
    # A version that expired (lifecycle) makes the release unrestorable: refused, nothing changed.
    s3 = deployment.inside("555555555555", "s3")
    bucket = deployment.targets["555555555555"].bucket
    oldest = [v for v in s3.list_object_versions(Bucket=bucket, Prefix="robots.txt")["Versions"]][-1]
    s3.delete_object(Bucket=bucket, Key="robots.txt", VersionId=oldest["VersionId"])
    status, out, err = cli(base + ["--to", first], capsys)
    assert status == 2
    assert (f"release {first} of account 555555555555 cannot be restored: 1 object version(s) no longer exist "
            "(robots.txt); replaced versions expire after retention.noncurrent_versions_days (90 days in "
            "prod.yaml). Nothing was changed.") in err
    assert deployment.body("333333333333", "robots.txt") == b"User-agent: *\nDisallow: /\n"
    status, out, err = cli(base + ["--to", first, "--account", "333333333333"], capsys)
    assert status == 0, out + err
    assert deployment.body("333333333333", "robots.txt") == SITE["robots.txt"].encode()
    assert deployment.invalidations("333333333333")[-1]["InvalidationBatch"]["Paths"]["Items"] == ["/robots.txt"]
    status, out, err = cli(base + ["--to", first, "--account", "333333333333"], capsys)
    assert status == 0 and f"the content of release {first} is already live" in out


# --- failures -----------------------------------------------------------------------------------------


def test_a_failed_invalidation_is_recorded_and_requested_by_the_next_sync(
        deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    site = write_site(tmp_path / "site", SITE)
    assert cli(sync_args(deployment, site, "--account", "333333333333"), capsys)[0] == 0
    original = cloudfront_models.CloudFrontBackend.create_invalidation

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise CloudFrontException("AccessDenied", "injected fault")
    monkeypatch.setattr(cloudfront_models.CloudFrontBackend, "create_invalidation", refuse)
    (site / "index.html").write_text("<p>v2</p>")
    status, out, err = cli(sync_args(deployment, site, "--account", "333333333333"), capsys)
    assert status == 1
    assert "is live and recorded, but the invalidation of 1 path(s) failed (AccessDenied: injected fault); " \
           "the next sync or rollback requests them again" in err
    monkeypatch.setattr(cloudfront_models.CloudFrontBackend, "create_invalidation", original)
    status, out, err = cli(sync_args(deployment, site, "--account", "333333333333"), capsys)
    assert status == 0, out + err
    (invalidation,) = deployment.invalidations("333333333333")
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == ["/index.html"]
    # Once requested, never again.
    assert cli(sync_args(deployment, site, "--account", "333333333333"), capsys)[0] == 0
    assert len(deployment.invalidations("333333333333")) == 1


def test_a_failed_upload_stops_before_the_pages_and_the_next_sync_finishes(
        deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    site = write_site(tmp_path / "site", SITE)
    assert cli(sync_args(deployment, site, "--account", "444444444444"), capsys)[0] == 0
    (site / "index.html").write_text("<script src=/assets/app.77777777.js></script>")
    write_site(site, {"assets/app.77777777.js": "v3()", "robots.txt": "changed"})
    original = s3_models.S3Backend.put_object

    def fail_robots(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        if key_name == "robots.txt":
            raise S3ClientError("AccessDenied", "injected fault")
        return original(self, bucket_name, key_name, *args, **kwargs)
    monkeypatch.setattr(s3_models.S3Backend, "put_object", fail_robots)
    status, out, err = cli(sync_args(deployment, site, "--account", "444444444444"), capsys)
    assert status == 1
    assert "account 444444444444: could not write (files) 1 object(s) of s3://edgecdn-prod-origin-444444444444-" \
           "us-west-2: robots.txt: AccessDenied: injected fault" in err
    objects = deployment.objects("444444444444")
    assert "assets/app.77777777.js" in objects  # the asset went first...
    assert deployment.body("444444444444", "index.html") == SITE["index.html"].encode()  # ...no page followed
    assert LOCK_KEY not in objects
    monkeypatch.setattr(s3_models.S3Backend, "put_object", original)
    recorder = CallRecorder().install(monkeypatch)
    status, out, err = cli(sync_args(deployment, site, "--account", "444444444444"), capsys)
    assert status == 0, out + err
    assert sorted(k for k in recorder.keys("PutObject") if not k.startswith(".edgecdn/")) == [
        "index.html", "robots.txt"]
    assert deployment.invalidations("444444444444")[-1]["InvalidationBatch"]["Paths"]["Items"] == [
        "/index.html", "/robots.txt"]


def test_a_second_run_waits_for_the_lock_and_takes_over_an_expired_one(
        deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    site = write_site(tmp_path / "site", SITE)
    s3 = deployment.inside("555555555555", "s3")
    bucket = deployment.targets["555555555555"].bucket
    now = datetime.now(timezone.utc)
    held = {"held_by": "ci-runner-7 pid 42", "what": "published x", "since": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expires": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    s3.put_object(Bucket=bucket, Key=LOCK_KEY, Body=json.dumps(held).encode())
    status, out, err = cli(sync_args(deployment, site, "--account", "555555555555"), capsys)
    assert status == 1
    assert f"s3://{bucket}/{LOCK_KEY}: another deploy.py site run (published x, ci-runner-7 pid 42) holds the " \
           "bucket since" in err
    assert site_keys(deployment.objects("555555555555")) == []
    held["expires"] = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    s3.put_object(Bucket=bucket, Key=LOCK_KEY, Body=json.dumps(held).encode())
    status, out, err = cli(sync_args(deployment, site, "--account", "555555555555"), capsys)
    assert status == 0, out + err
    assert site_keys(deployment.objects("555555555555")) == sorted(SITE)


# --- bad input ----------------------------------------------------------------------------------------


def test_bad_input_is_refused_before_any_upload(
        deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    outside = write_site(tmp_path / "outside", {"secret.txt": "s"})
    leaky = write_site(tmp_path / "leaky", SITE)
    (leaky / "secret.txt").symlink_to(outside / "secret.txt")
    (tmp_path / "empty").mkdir()
    cases = [
        (tmp_path / "missing", f"{tmp_path / 'missing'}: no such directory"),
        (tmp_path / "empty", f"{tmp_path / 'empty'}: the directory contains no files; nothing to publish"),
        (leaky, f"secret.txt: symlink to {outside / 'secret.txt'}, outside the directory"),
    ]
    for directory, message in cases:
        status, out, err = cli(sync_args(deployment, directory), capsys)
        assert status == 2, (directory, out, err)
        assert message in err
    good = write_site(tmp_path / "good", SITE)
    status, out, err = cli(sync_args(deployment, good, "--account", "999999999999"), capsys)
    assert status == 2
    assert "--account 999999999999: not an account of environment prod (prod.yaml deploy.accounts: " \
           "333333333333, 444444444444, 555555555555)" in err
    status, out, err = cli(sync_args(deployment, good, "--account", "12"), capsys)
    assert status == 2 and "--account: must be a 12-digit account id, got '12'" in err
    for account in ACCOUNTS:
        assert deployment.objects(account) == {}


def test_sync_from_another_directory_as_a_user_runs_it(deployment: Deployment, tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", SITE)
    env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    result = subprocess.run([sys.executable, str(ROOT / "deploy.py"), "site", "sync", "--env", "prod", "site",
                             "--endpoint-url", deployment.endpoint, "--account", "333333333333"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "site: 333333333333  us-west-2      pages" in result.stdout  # progress lines in a log
    assert re.search(r"  333333333333  published +8 \(236 B\) ", result.stdout), result.stdout
    assert site_keys(deployment.objects("333333333333")) == sorted(SITE)


def test_ctrl_c_leaves_no_lock_and_no_release(
        deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from sitepublish.bucket import Bucket

    site = write_site(tmp_path / "site", SITE)
    original = Bucket.put

    def interrupted(self: Bucket, item: Any, transfer: Any) -> Any:
        if transfer.key == "index.html":
            raise KeyboardInterrupt
        return original(self, item, transfer)
    monkeypatch.setattr(Bucket, "put", interrupted)
    status, out, err = cli(sync_args(deployment, site, "--account", "555555555555"), capsys)
    assert status == 130
    assert "interrupted. Files written so far stay" in err
    objects = deployment.objects("555555555555")
    assert LOCK_KEY not in objects
    assert [k for k in objects if k.startswith(RELEASES_PREFIX)] == []
    assert "assets/app.3f9a1c2b.js" in objects and "index.html" not in objects
