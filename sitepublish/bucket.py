"""The origin bucket through the site publisher role: listing, metadata, parallel writes, deletions.

Every object carries its content's sha256 in its metadata (x-amz-meta-sha256): with SSE-KMS an ETag
is not the MD5 of the content, so the hash is what tells an unchanged file from a changed one.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable, Iterable, TypeVar

import botocore.exceptions

from rollout.aws import error_code, error_message
from rollout.console import Console
from rollout.errors import RolloutFailed
from rollout.publish import DIGEST_METADATA
from sitepublish.content import LocalFile
from sitepublish.plan import RemoteObject, Transfer
from sitepublish.progress import TransferProgress
from sitepublish.releases import ObjectRecord
from templates.s3 import SITE_STATE_PREFIX

# DeleteObjects takes at most 1,000 keys per request.
DELETE_BATCH = 1000
# Failures listed in a message before "... and N more".
SHOWN_FAILURES = 5

Item = TypeVar("Item")
Result = TypeVar("Result")


def list_objects(s3: Any, bucket: str) -> dict[str, RemoteObject]:
    """Every current object of the bucket (ListObjectsV2), except deploy.py site's own state."""
    found: dict[str, RemoteObject] = {}
    kwargs: dict[str, Any] = {"Bucket": bucket}
    while True:
        response = s3.list_objects_v2(**kwargs)
        for item in response.get("Contents", []):
            if not item["Key"].startswith(SITE_STATE_PREFIX):
                found[item["Key"]] = RemoteObject(etag=item.get("ETag", ""), size=item.get("Size", 0))
        if not response.get("IsTruncated"):
            return found
        kwargs["ContinuationToken"] = response["NextContinuationToken"]


def _record(response: dict[str, Any], sha256: str, size: int, content_type: str,
            cache_control: str | None) -> ObjectRecord:
    return ObjectRecord(version_id=response.get("VersionId"), sha256=sha256, size=size,
                        etag=response.get("ETag") or response.get("CopyObjectResult", {}).get("ETag", ""),
                        content_type=content_type, cache_control=cache_control)


class Bucket:
    """One account's origin bucket: reads, and writes `concurrency` at a time with live progress."""

    def __init__(self, s3: Any, bucket: str, console: Console, account: str, region: str, concurrency: int):
        self.s3 = s3
        self.name = bucket
        self.console = console
        self.account = account
        self.region = region
        self.concurrency = concurrency

    def head(self, key: str, version_id: str | None = None) -> ObjectRecord | None:
        """What the object (or one of its versions) holds, by its metadata; None if it does not exist."""
        kwargs = {"Bucket": self.name, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self.s3.head_object(**kwargs)
        except botocore.exceptions.ClientError as exc:
            missing = ("404", "NoSuchKey", "NotFound", "NoSuchVersion")
            # A version id S3 never issued (or one from another bucket) is a 400 to HeadObject.
            if error_code(exc) in missing or (version_id and error_code(exc) in ("400", "InvalidArgument")):
                return None
            raise
        return _record(response, response.get("Metadata", {}).get(DIGEST_METADATA, ""),
                       response.get("ContentLength", 0), response.get("ContentType", ""),
                       response.get("CacheControl"))

    def head_all(self, keys: list[str], version_of: Callable[[str], str | None] = lambda key: None,
                 ) -> dict[str, ObjectRecord | None]:
        """HeadObject for many keys, in parallel."""
        results, failures = self._parallel(keys, lambda key: self.head(key, version_of(key)))
        self._raise(failures, "read the metadata of")
        return results

    def put(self, item: LocalFile, transfer: Transfer) -> ObjectRecord:
        want = transfer.wanted
        extra: dict[str, Any] = {"ContentType": want.content_type}
        if want.cache_control:
            extra["CacheControl"] = want.cache_control
        with open(item.path, "rb") as body:
            response = self.s3.put_object(
                Bucket=self.name, Key=transfer.key, Body=body, Metadata={DIGEST_METADATA: want.sha256},
                # S3 rejects the upload if the bytes it received do not have this hash (the file
                # changed after it was read, or was damaged on the way).
                ChecksumSHA256=base64.b64encode(bytes.fromhex(want.sha256)).decode(), **extra)
        return _record(response, want.sha256, want.size, want.content_type, want.cache_control)

    def copy(self, transfer: Transfer) -> ObjectRecord:
        """A server-side copy of one version onto the key: headers rewritten, or an old version restored."""
        want = transfer.wanted
        source = {"Bucket": self.name, "Key": transfer.key, "VersionId": transfer.source_version}
        extra: dict[str, Any] = {"MetadataDirective": "COPY"}
        if transfer.action == "headers":
            extra = {"MetadataDirective": "REPLACE", "ContentType": want.content_type,
                     "Metadata": {DIGEST_METADATA: want.sha256}}
            if want.cache_control:
                extra["CacheControl"] = want.cache_control
        response = self.s3.copy_object(Bucket=self.name, Key=transfer.key, CopySource=source, **extra)
        return _record(response, want.sha256, want.size, want.content_type, want.cache_control)

    def write(self, transfers: list[Transfer], files: dict[str, LocalFile], progress: TransferProgress,
              wave: str) -> dict[str, ObjectRecord]:
        """One wave of uploads and copies, in parallel; RolloutFailed names what failed after the wave."""
        progress.start_wave(wave)

        def work(transfer: Transfer) -> ObjectRecord:
            if transfer.action == "upload":
                return self.put(files[transfer.key], transfer)
            return self.copy(transfer)

        results, failures = self._parallel(
            transfers, work, done=lambda t: progress.advance(t.size if t.action == "upload" else 0))
        progress.end_wave()
        self._raise([(t.key, exc) for t, exc in failures], f"write ({wave})")
        return {t.key: record for t, record in results.items()}

    def delete(self, keys: list[str]) -> None:
        """DeleteObjects (a delete marker each: the versions stay for rollback until they expire)."""
        failures = []
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            response = self.s3.delete_objects(Bucket=self.name, Delete={
                "Objects": [{"Key": key} for key in batch], "Quiet": True})
            failures += [(e.get("Key", "?"), f"{e.get('Code')}: {e.get('Message')}")
                         for e in response.get("Errors", [])]
        self._raise(failures, "delete")

    def _parallel(self, items: Iterable[Item], work: Callable[[Item], Result],
                  done: Callable[[Item], None] = lambda item: None,
                  ) -> tuple[dict[Item, Result], list[tuple[Item, Any]]]:
        results: dict[Item, Result] = {}
        failures: list[tuple[Item, Any]] = []
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="site")
        try:
            futures = {pool.submit(work, item): item for item in items}
            for future in as_completed(futures):
                item = futures[future]
                try:
                    results[item] = future.result()
                except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, OSError) as exc:
                    failures.append((item, exc))
                    continue
                done(item)
        finally:
            # On Ctrl-C, requests not yet sent are dropped; those in flight finish.
            pool.shutdown(wait=True, cancel_futures=True)
        return results, failures

    def _raise(self, failures: list[tuple[Any, Any]], what: str) -> None:
        if not failures:
            return
        shown = "; ".join(f"{key}: {_describe(exc)}" for key, exc in sorted(failures, key=lambda f: str(f[0]))[
            :SHOWN_FAILURES])
        more = len(failures) - SHOWN_FAILURES
        raise RolloutFailed(f"account {self.account}: could not {what} {len(failures)} object(s) of "
                            f"s3://{self.name}: {shown}" + (f"; ... and {more} more" if more > 0 else ""))


def _describe(exc: Any) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"{error_code(exc)}: {error_message(exc)}"
    return str(exc)
