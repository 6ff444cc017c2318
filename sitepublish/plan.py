"""What a sync or rollback does to one bucket, decided without changing anything (pure functions).

Inputs: what each key must hold (from the site directory, or from the release a rollback restores),
the bucket listing (ListObjectsV2: key, ETag, size), the live release's manifest, and HeadObject
answers for the keys the manifest cannot vouch for. An object whose ETag and size are the manifest's
is the version the manifest records, with its sha256; any other object is asked for the sha256 in its
metadata. Modification times play no part: an unchanged file is never uploaded again.

Invalidation compares with the live release (what viewers may have cached), not with the bucket:
a run that died after uploading still gets its paths invalidated by the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sitepublish.cache_rules import is_immutable
from sitepublish.invalidation import collapse, path_for
from sitepublish.releases import ObjectRecord, PendingDeletion, Release, format_time, parse_time, same_etag

# Upload order: content-hashed assets (immutable) first, then the other non-hashed files, then the
# HTML pages that reference both, so a page never goes live before what it loads.
ASSETS, FILES, PAGES = 0, 1, 2
WAVE_NAMES = ("assets", "files", "pages")


def wave_of(content_type: str, cache_control: str | None) -> int:
    if is_immutable(cache_control):
        return ASSETS
    if content_type.startswith("text/html"):
        return PAGES
    return FILES


@dataclass(frozen=True)
class RemoteObject:
    """One object of the bucket listing."""

    etag: str
    size: int


@dataclass(frozen=True)
class Wanted:
    """What one key must hold after the run; `version_id` is the version a rollback copies from."""

    sha256: str
    size: int
    content_type: str
    cache_control: str | None
    version_id: str | None = None

    def held_by(self, record: ObjectRecord) -> bool:
        return (self.sha256, self.content_type, self.cache_control) == (
            record.sha256, record.content_type, record.cache_control)


@dataclass(frozen=True)
class Transfer:
    """One write: an upload, a header rewrite (server-side copy onto itself) or a restore (copy of a version)."""

    key: str
    action: str  # "upload", "headers" or "restore"
    reason: str  # "new", "changed", "headers"
    wave: int
    size: int
    wanted: Wanted
    source_version: str | None = None


@dataclass
class Plan:
    transfers: list[Transfer]
    unchanged: dict[str, ObjectRecord]
    deletions: list[str]
    pending: dict[str, PendingDeletion]
    invalidation_keys: list[str]
    carried_paths: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    def waves(self) -> list[tuple[str, list[Transfer]]]:
        """The transfers in upload order, wave by wave (empty waves left out)."""
        return [(name, [t for t in self.transfers if t.wave == wave])
                for wave, name in enumerate(WAVE_NAMES) if any(t.wave == wave for t in self.transfers)]

    def invalidation_paths(self, limit: int) -> list[str]:
        return collapse([path_for(key) for key in self.invalidation_keys] + list(self.carried_paths), limit)

    @property
    def transfer_bytes(self) -> int:
        return sum(t.size for t in self.transfers if t.action == "upload")

    def is_noop(self, live: Release | None) -> bool:
        """Nothing to write: no transfer, deletion or invalidation, and the live release already says so."""
        if self.transfers or self.deletions or self.invalidation_keys or self.carried_paths or live is None:
            return False
        return ({k: r.version_id for k, r in self.unchanged.items()} ==
                {k: r.version_id for k, r in live.files.items()} and self.pending == live.pending_deletion)


def keys_to_head(keys: Iterable[str], remote: dict[str, RemoteObject], live: Release | None) -> list[str]:
    """Keys present in the bucket whose object the live manifest does not describe (ETag or size differ)."""
    return sorted(key for key in keys if key in remote and _from_manifest(key, remote, live) is None)


def _from_manifest(key: str, remote: dict[str, RemoteObject], live: Release | None) -> ObjectRecord | None:
    record = live.files.get(key) if live else None
    found = remote.get(key)
    if record is not None and found is not None and same_etag(record.etag, found.etag) and record.size == found.size:
        return record
    return None


def plan(
    wanted: dict[str, Wanted],
    remote: dict[str, RemoteObject],
    heads: dict[str, ObjectRecord],
    live: Release | None,
    now: datetime,
    cache_control_of: Callable[[str], str | None],
    grace: timedelta | None,
    restore: bool = False,
) -> Plan:
    """The transfers, deletions, pending deletions and invalidations that bring the bucket to `wanted`.

    `heads` answers keys_to_head(); `grace` None never deletes (rollback keeps every file pending);
    `restore` copies each differing key from `Wanted.version_id` instead of uploading it.
    """
    transfers: list[Transfer] = []
    unchanged: dict[str, ObjectRecord] = {}
    invalidate: set[str] = set()
    warnings: list[str] = []
    for key, want in wanted.items():
        current = _from_manifest(key, remote, live) or (heads.get(key) if key in remote else None)
        baseline = live.files.get(key) if live and key in live.files else current
        if baseline is not None and not want.held_by(baseline):
            if not is_immutable(want.cache_control):
                invalidate.add(key)
            elif baseline.sha256 != want.sha256:
                warnings.append(f"{key}: its content changed, but its Cache-Control ({want.cache_control}) says "
                                "immutable, so it is not invalidated: caches may serve the old content for its "
                                "whole max-age. Give changed content a new name (a content hash).")
        if current is not None and want.held_by(current):
            unchanged[key] = current
            continue
        reason = "new" if current is None else "changed"
        if restore:
            transfers.append(Transfer(key, "restore", reason, wave_of(want.content_type, want.cache_control),
                                      want.size, want, want.version_id))
        elif current is not None and current.sha256 == want.sha256:
            transfers.append(Transfer(key, "headers", "headers", wave_of(want.content_type, want.cache_control),
                                      want.size, want, current.version_id))
        else:
            transfers.append(Transfer(key, "upload", reason, wave_of(want.content_type, want.cache_control),
                                      want.size, want))

    def old_cache_control(key: str) -> str | None:
        if live and key in live.files:
            return live.files[key].cache_control
        if live and key in live.pending_deletion:
            return live.pending_deletion[key].cache_control
        return cache_control_of(key)

    deletions: list[str] = []
    pending: dict[str, PendingDeletion] = {}
    for key in sorted(set(remote) - set(wanted)):
        waiting = (live.pending_deletion.get(key) if live else None) or PendingDeletion(
            since=format_time(now), cache_control=old_cache_control(key))
        if grace is not None and parse_time(waiting.since) + grace <= now:
            deletions.append(key)
            if not is_immutable(waiting.cache_control):
                invalidate.add(key)
        else:
            pending[key] = waiting
    if live:
        # Gone from the bucket without this tool (by hand, or a run that died after deleting).
        for key in (set(live.files) | set(live.pending_deletion)) - set(wanted) - set(remote):
            if not is_immutable(old_cache_control(key)):
                invalidate.add(key)
    transfers.sort(key=lambda t: (t.wave, t.key))
    return Plan(transfers=transfers, unchanged=unchanged, deletions=deletions, pending=pending,
                invalidation_keys=sorted(invalidate), carried_paths=live.invalidation_pending if live else (),
                warnings=warnings)
