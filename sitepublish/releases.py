"""Releases: one manifest per sync or rollback (key -> object version), stored in the origin bucket.

Layout, under the prefix the origin bucket policy denies to CloudFront (templates/s3.py):

    .edgecdn/releases/<sequence>-<release id>.json   one manifest per release, never overwritten
    .edgecdn/lock.json                    held while a sync or rollback changes the bucket

A manifest lists every object of the release with its version id, content hash, headers and ETag,
the files waiting for their grace period to end before deletion (and since when), and the
invalidation the release made. The manifest with the highest sequence number (not the latest clock:
clocks differ and go back) describes what is live. Keeping the manifests
beside the objects means one place, one key (the bucket's), one retention policy, and a rollback
that needs nothing but the bucket.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.exceptions

from rollout.aws import error_code, error_message
from rollout.errors import RolloutFailed
from sitepublish.content import files_digest
from templates.s3 import SITE_STATE_PREFIX

FORMAT = 1
RELEASES_PREFIX = SITE_STATE_PREFIX + "releases/"
LOCK_KEY = SITE_STATE_PREFIX + "lock.json"
# A lock older than this belongs to a run that died (a sync of thousands of files takes minutes).
LOCK_EXPIRY = timedelta(hours=1)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)


def release_id(moment: datetime, digest: str) -> str:
    """`<UTC time>-<first 8 hex of the content digest>`: sorts by time, names the content.

    One sync gives every account the same id, so `rollback --to` names one release everywhere.
    """
    return f"{moment.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{digest[:8]}"


def same_etag(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a.strip('"') == b.strip('"')


@dataclass(frozen=True)
class ObjectRecord:
    """One object as a release has it: the version to restore, and what the version holds."""

    version_id: str | None
    sha256: str
    size: int
    etag: str
    content_type: str
    cache_control: str | None

    def same_content(self, other: "ObjectRecord") -> bool:
        """Same bytes and same headers (what a viewer gets)."""
        return (self.sha256, self.content_type, self.cache_control) == (
            other.sha256, other.content_type, other.cache_control)


@dataclass(frozen=True)
class PendingDeletion:
    """A file no longer in the site, kept until its grace period ends."""

    since: str
    cache_control: str | None


@dataclass(frozen=True)
class Release:
    """What one sync or rollback left live in one account's origin bucket."""

    release_id: str
    created: str
    source: str  # "sync" or "rollback"
    files: dict[str, ObjectRecord]
    pending_deletion: dict[str, PendingDeletion] = field(default_factory=dict)
    restores: str | None = None
    invalidation_id: str | None = None
    # Paths of an invalidation that could not be created: the next sync or rollback requests them.
    invalidation_pending: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(r.size for r in self.files.values())

    @property
    def digest(self) -> str:
        """sha256 over every key with its content hash (the same digest as a LocalSite of these files)."""
        return files_digest(self.files)

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "release": self.release_id,
            "created": self.created,
            "source": self.source,
            "restores": self.restores,
            "invalidation": {"id": self.invalidation_id, "pending_paths": list(self.invalidation_pending)},
            "files": {key: asdict(record) for key, record in sorted(self.files.items())},
            "pending_deletion": {key: asdict(p) for key, p in sorted(self.pending_deletion.items())},
        }
        return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes, where: str) -> "Release":
        try:
            document = json.loads(body)
            if document.get("format") != FORMAT:
                raise ValueError(f"format {document.get('format')!r}, this deploy.py reads format {FORMAT}")
            invalidation = document.get("invalidation") or {}
            return cls(
                release_id=document["release"],
                created=document["created"],
                source=document["source"],
                restores=document.get("restores"),
                invalidation_id=invalidation.get("id"),
                invalidation_pending=tuple(invalidation.get("pending_paths") or ()),
                files={key: ObjectRecord(**record) for key, record in document["files"].items()},
                pending_deletion={key: PendingDeletion(**p) for key, p in document["pending_deletion"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RolloutFailed(f"{where} is not a release manifest deploy.py can read ({exc}); "
                                "it was changed by hand or by another tool") from exc


_MANIFEST_NAME = re.compile(r"([0-9]{8})-([0-9A-Za-z-]+)\.json")


class ReleaseStore:
    """The release manifests and the lock of one origin bucket, through the site publisher role."""

    def __init__(self, s3: Any, bucket: str):
        self.s3 = s3
        self.bucket = bucket
        self._keys: dict[str, str] = {}
        self._next = 1

    def ids(self) -> list[str]:
        """Every release id, oldest first, by sequence number (and remember where each is)."""
        entries = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": RELEASES_PREFIX}
        while True:
            response = self.s3.list_objects_v2(**kwargs)
            for item in response.get("Contents", []):
                match = _MANIFEST_NAME.fullmatch(item["Key"][len(RELEASES_PREFIX):])
                if match:
                    entries.append((int(match.group(1)), match.group(2)))
            if not response.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = response["NextContinuationToken"]
        entries.sort()
        self._keys = {name: f"{RELEASES_PREFIX}{sequence:08d}-{name}.json" for sequence, name in entries}
        self._next = entries[-1][0] + 1 if entries else 1
        return [name for _, name in entries]

    def read(self, release: str) -> Release:
        key = self._keys.get(release)
        if key is None:
            raise RolloutFailed(f"s3://{self.bucket}: no release {release} under {RELEASES_PREFIX}")
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return Release.from_json(body, f"s3://{self.bucket}/{key}")

    def latest(self, ids: list[str] | None = None) -> Release | None:
        ids = self.ids() if ids is None else ids
        return self.read(ids[-1]) if ids else None

    def write(self, release: Release) -> str:
        """Record a release after the newest one ids() saw; an existing manifest is never replaced."""
        key = f"{RELEASES_PREFIX}{self._next:08d}-{release.release_id}.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=release.to_json(),
                           ContentType="application/json", IfNoneMatch="*")
        self._keys[release.release_id] = key
        self._next += 1
        return key

    # --- the lock: one sync or rollback at a time per bucket ------------------------------------

    def acquire(self, now: datetime, what: str) -> None:
        """Create the lock object, or fail naming who holds it; an expired lock is taken over."""
        body = json.dumps({"held_by": f"{socket.gethostname()} pid {os.getpid()}", "what": what,
                           "since": format_time(now), "expires": format_time(now + LOCK_EXPIRY)}).encode()
        for attempt in (1, 2):
            try:
                # If-None-Match: * makes the PUT fail when the lock exists (S3 conditional writes).
                self.s3.put_object(Bucket=self.bucket, Key=LOCK_KEY, Body=body, ContentType="application/json",
                                   IfNoneMatch="*")
                return
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                    raise
            holder = self._holder()
            expires = holder.get("expires", "")
            try:
                expired = parse_time(expires) <= now
            except ValueError:
                expired = True
            if not expired or attempt == 2:
                raise RolloutFailed(
                    f"s3://{self.bucket}/{LOCK_KEY}: another deploy.py site run ({holder.get('what', '?')}, "
                    f"{holder.get('held_by', '?')}) holds the bucket since {holder.get('since', '?')}; "
                    f"run again when it is done (a lock left by a run that died expires at {expires})")
            self.s3.delete_object(Bucket=self.bucket, Key=LOCK_KEY)

    def release(self) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=LOCK_KEY)

    def _holder(self) -> dict[str, Any]:
        try:
            return json.loads(self.s3.get_object(Bucket=self.bucket, Key=LOCK_KEY)["Body"].read())
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return {"expires": ""}  # released meanwhile: the retry takes it
            raise RolloutFailed(f"cannot read s3://{self.bucket}/{LOCK_KEY}: {error_message(exc)}") from exc
        except ValueError:
            return {"expires": ""}
