"""Fix to moto 5.2.5's CreateInvalidation: refuse the paths and batches CloudFront refuses.

moto accepted any path and made a new invalidation for every request. CloudFront answers
InvalidArgument for a path that does not start with / or has a * anywhere but at the end,
BatchTooLarge beyond 3,000 paths in one batch; a CallerReference sent again with the same paths
returns the invalidation it created, with other paths InvalidationBatchAlreadyExists
(CloudFront API reference, CreateInvalidation and InvalidationBatch; developer guide,
"Invalidate files").
"""

from __future__ import annotations

from typing import Any

from moto.cloudfront import models as cloudfront_models
from moto.cloudfront.exceptions import CloudFrontException

MAX_PATHS_PER_BATCH = 3000

_installed = False
_original = cloudfront_models.CloudFrontBackend.create_invalidation


def _create_invalidation(self: Any, dist_id: str, paths: list[str], caller_ref: str) -> Any:
    paths = paths if isinstance(paths, list) else [paths]
    if len(paths) > MAX_PATHS_PER_BATCH:
        raise CloudFrontException("BatchTooLarge", "Invalidation batch specified is too large.")
    if not paths:
        raise CloudFrontException("InvalidArgument", "An invalidation batch needs at least one path.")
    for path in paths:
        if not str(path).startswith("/") or "*" in str(path)[:-1]:
            raise CloudFrontException("InvalidArgument", f"Your request contains one or more invalid "
                                                         f"invalidation paths: {path}")
    for earlier in self.invalidations.get(dist_id, []):
        if earlier.caller_ref == caller_ref:
            if sorted(earlier.paths) != sorted(paths):
                raise CloudFrontException("InvalidationBatchAlreadyExists",
                                          f"CallerReference {caller_ref} was used with other paths.")
            return earlier
    return _original(self, dist_id, paths, caller_ref)


def install() -> None:
    global _installed
    if not _installed:
        cloudfront_models.CloudFrontBackend.create_invalidation = _create_invalidation
        _installed = True
