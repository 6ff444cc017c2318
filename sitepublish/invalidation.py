"""CloudFront invalidation of changed paths: encoded as CloudFront matches them, collapsed into wildcards.

CloudFront charges per invalidation path beyond 1,000 a month (a wildcard counts as one), allows
3,000 file paths and 15 wildcard paths in progress per distribution, and a wildcard only as the
last character (CloudFront developer guide, "Invalidate files").
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import botocore.exceptions

from rollout.aws import Backoff, error_code
from rollout.errors import RolloutFailed

# Beyond this many paths, paths are merged into directory wildcards. 15 also keeps one release
# within the 15 wildcard paths CloudFront allows in progress at once.
DEFAULT_MAX_PATHS = 15
MAX_PATHS_LIMIT = 3000

# RFC 1738 "unsafe" characters, which CloudFront wants percent-encoded in an invalidation path
# (and no other character encoded, or the path no longer matches the cached object); ? too,
# since it would start a query string.
_UNSAFE = set(' <>"#%{}|\\^~[]`?')

WAIT_BACKOFF = Backoff(initial=5.0, factor=2.0, cap=30.0)
WAIT_TIMEOUT_SECONDS = 30 * 60
BUSY_BACKOFF = Backoff(initial=15.0, factor=2.0, cap=60.0)
BUSY_ATTEMPTS = 8


def path_for(key: str) -> str:
    """The invalidation path of an object key: / + the key, non-ASCII and unsafe characters encoded.

    A * inside a name cannot be expressed (CloudFront reads * as a wildcard, and only at the end):
    the path stops there with a wildcard, which covers the object.
    """
    encoded = "".join(
        "".join(f"%{byte:02X}" for byte in char.encode("utf-8")) if ord(char) > 127 or char in _UNSAFE else char
        for char in key
    )
    star = encoded.find("*")
    return "/" + (encoded[:star + 1] if star >= 0 else encoded)


def _covers(wildcard: str, path: str) -> bool:
    return wildcard.endswith("*") and path != wildcard and path.startswith(wildcard[:-1])


def _parent(path: str) -> str:
    """The wildcard of the directory above: /a/b/c.html -> /a/b/*, /a/b/* -> /a/*, /a -> /*."""
    trimmed = path[:-2] if path.endswith("/*") else path
    return trimmed[:trimmed.rstrip("/").rfind("/") + 1] + "*"


def _depth(path: str) -> int:
    return path.count("/")


def _normalize(paths: Iterable[str]) -> set[str]:
    unique = set(paths)
    wildcards = [p for p in unique if p.endswith("*")]
    return {p for p in unique if not any(_covers(w, p) for w in wildcards)}


def collapse(paths: Iterable[str], limit: int) -> list[str]:
    """At most `limit` paths covering `paths`: the deepest directories with most changes become wildcards first."""
    current = _normalize(paths)
    while len(current) > limit:
        groups: dict[str, list[str]] = {}
        for path in current:
            if path != "/*":
                groups.setdefault(_parent(path), []).append(path)
        shared = {parent: members for parent, members in groups.items() if len(members) > 1}
        if shared:
            parent = max(shared, key=lambda p: (_depth(p), len(shared[p]), p))
            current = _normalize((current - set(shared[parent])) | {parent})
        else:
            # Every path is alone in its directory: move the deepest one up a level, until some meet.
            deepest = max(current, key=lambda p: (_depth(p), p))
            current = _normalize((current - {deepest}) | {_parent(deepest)})
    return sorted(current)


def create_invalidation(cloudfront: Any, distribution_id: str, paths: list[str], reference: str,
                        notify: Callable[[str], None], sleep: Callable[[float], None] = time.sleep) -> str:
    """CreateInvalidation, waiting while CloudFront has too many in progress; returns the invalidation id."""
    delays = BUSY_BACKOFF.delays()
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        try:
            response = cloudfront.create_invalidation(
                DistributionId=distribution_id,
                InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": reference},
            )
            return response["Invalidation"]["Id"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "TooManyInvalidationsInProgress" or attempt == BUSY_ATTEMPTS:
                raise
            delay = next(delays)
            notify(f"distribution {distribution_id} has too many invalidations in progress; "
                   f"retrying in {delay:.0f}s (attempt {attempt + 1} of {BUSY_ATTEMPTS})")
            sleep(delay)
    raise AssertionError("unreachable")


def wait_for_invalidation(cloudfront: Any, distribution_id: str, invalidation_id: str,
                          clock: Callable[[], float] = time.time,
                          sleep: Callable[[float], None] = time.sleep) -> None:
    """Poll GetInvalidation until CloudFront reports it Completed (usually within minutes)."""
    began = clock()
    for delay in WAIT_BACKOFF.delays():
        status = cloudfront.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)[
            "Invalidation"]["Status"]
        if status.lower() == "completed":
            return
        if clock() - began > WAIT_TIMEOUT_SECONDS:
            raise RolloutFailed(f"invalidation {invalidation_id} of distribution {distribution_id} is still "
                                f"{status} after {WAIT_TIMEOUT_SECONDS // 60} minutes (it goes on in CloudFront)")
        sleep(delay)
