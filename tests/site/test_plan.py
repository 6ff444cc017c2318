"""The plan of a sync or rollback (pure): what is uploaded, in which order, deleted when, invalidated where."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sitepublish.cache_rules import CacheRules, is_immutable
from sitepublish.invalidation import collapse, path_for
from sitepublish.plan import ASSETS, FILES, PAGES, RemoteObject, Wanted, keys_to_head, plan
from sitepublish.releases import ObjectRecord, PendingDeletion, Release, format_time
from templates.config import load_environment

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)
IMMUTABLE = "public, max-age=31536000, immutable"
PAGE = "public, max-age=0, must-revalidate"


def want(sha: str, cache_control: str | None = PAGE, content_type: str = "text/html; charset=utf-8") -> Wanted:
    return Wanted(sha256=sha, size=10, content_type=content_type, cache_control=cache_control)


def record(sha: str, version: str, etag: str, cache_control: str | None = PAGE,
           content_type: str = "text/html; charset=utf-8") -> ObjectRecord:
    return ObjectRecord(version_id=version, sha256=sha, size=10, etag=etag, content_type=content_type,
                        cache_control=cache_control)


def live_release(files: dict[str, ObjectRecord], pending: dict[str, PendingDeletion] | None = None,
                 failed_paths: tuple[str, ...] = ()) -> Release:
    return Release(release_id="20261120T000000Z-aaaaaaaa", created="2026-11-20T00:00:00Z", source="sync",
                   files=files, pending_deletion=pending or {}, invalidation_pending=failed_paths)


def no_rule(key: str) -> str | None:
    return None


def test_first_sync_uploads_everything_assets_then_files_then_pages_and_invalidates_nothing() -> None:
    wanted = {"index.html": want("a"), "assets/app.3f9a1c2b.js": want("b", IMMUTABLE, "text/javascript"),
              "robots.txt": want("c", None, "text/plain"), "docs/index.html": want("d")}
    result = plan(wanted, {}, {}, None, NOW, no_rule, WEEK)
    assert [(t.key, t.action, t.reason, t.wave) for t in result.transfers] == [
        ("assets/app.3f9a1c2b.js", "upload", "new", ASSETS),
        ("robots.txt", "upload", "new", FILES),
        ("docs/index.html", "upload", "new", PAGES),
        ("index.html", "upload", "new", PAGES),
    ]
    assert [name for name, _ in result.waves()] == ["assets", "files", "pages"]
    assert result.invalidation_keys == [] and result.deletions == [] and result.pending == {}
    assert not result.is_noop(None)


def test_manifest_vouches_by_etag_and_size_whatever_the_modification_time() -> None:
    live = live_release({"index.html": record("a", "v1", '"e1"'), "about.html": record("b", "v2", '"e2"')})
    remote = {"index.html": RemoteObject('"e1"', 10), "about.html": RemoteObject('"other"', 10)}
    # about.html changed in the bucket since the release (another tool, a run that died): ask S3.
    assert keys_to_head(["index.html", "about.html", "new.html"], remote, live) == ["about.html"]
    heads = {"about.html": record("b", "v9", '"other"')}
    result = plan({"index.html": want("a"), "about.html": want("b")}, remote, heads, live, NOW, no_rule, WEEK)
    assert result.transfers == []
    assert result.unchanged["index.html"].version_id == "v1"
    assert result.unchanged["about.html"].version_id == "v9"
    assert not result.is_noop(live)  # the release must now name version v9


def test_nothing_changed_is_a_noop() -> None:
    live = live_release({"index.html": record("a", "v1", '"e1"')})
    result = plan({"index.html": want("a")}, {"index.html": RemoteObject('"e1"', 10)}, {}, live, NOW, no_rule, WEEK)
    assert result.is_noop(live)
    assert result.invalidation_paths(15) == []


def test_a_changed_page_is_uploaded_and_invalidated_a_changed_header_is_rewritten_in_place() -> None:
    live = live_release({"index.html": record("a", "v1", '"e1"'), "data.json": record(
        "j", "v2", '"e2"', cache_control=None, content_type="application/json")})
    remote = {"index.html": RemoteObject('"e1"', 10), "data.json": RemoteObject('"e2"', 10)}
    wanted = {"index.html": want("a2"), "data.json": want("j", "public, max-age=60", "application/json")}
    result = plan(wanted, remote, {}, live, NOW, no_rule, WEEK)
    assert [(t.key, t.action, t.reason, t.source_version) for t in result.transfers] == [
        ("data.json", "headers", "headers", "v2"), ("index.html", "upload", "changed", None)]
    assert result.invalidation_keys == ["data.json", "index.html"]
    assert result.invalidation_paths(15) == ["/data.json", "/index.html"]


def test_a_changed_immutable_asset_is_uploaded_not_invalidated_and_warned_about() -> None:
    live = live_release({"assets/app.3f9a1c2b.js": record("a", "v1", '"e1"', IMMUTABLE, "text/javascript")})
    result = plan({"assets/app.3f9a1c2b.js": want("CHANGED", IMMUTABLE, "text/javascript")},
                  {"assets/app.3f9a1c2b.js": RemoteObject('"e1"', 10)}, {}, live, NOW, no_rule, WEEK)
    assert [t.key for t in result.transfers] == ["assets/app.3f9a1c2b.js"]
    assert result.invalidation_keys == []
    assert result.warnings == ["assets/app.3f9a1c2b.js: its content changed, but its Cache-Control "
                               f"({IMMUTABLE}) says immutable, so it is not invalidated: caches may serve the old "
                               "content for its whole max-age. Give changed content a new name (a content hash)."]


def test_stale_files_wait_for_the_grace_period_then_are_deleted_and_invalidated_unless_immutable() -> None:
    live = live_release({"index.html": record("a", "v1", '"e1"'),
                         "old.html": record("o", "v2", '"e2"'),
                         "assets/old.11111111.js": record("x", "v3", '"e3"', IMMUTABLE, "text/javascript")})
    remote = {"index.html": RemoteObject('"e1"', 10), "old.html": RemoteObject('"e2"', 10),
              "assets/old.11111111.js": RemoteObject('"e3"', 10)}
    first = plan({"index.html": want("a")}, remote, {}, live, NOW, no_rule, WEEK)
    assert first.deletions == [] and first.invalidation_keys == []
    assert first.pending == {"assets/old.11111111.js": PendingDeletion(format_time(NOW), IMMUTABLE),
                             "old.html": PendingDeletion(format_time(NOW), PAGE)}
    recorded = live_release(first.unchanged, first.pending)
    # A sync before the grace period ends keeps them; the first one after deletes them.
    early = plan({"index.html": want("a")}, remote, {}, recorded, NOW + WEEK - timedelta(seconds=1), no_rule, WEEK)
    assert early.deletions == [] and early.pending == first.pending and early.is_noop(recorded)
    late = plan({"index.html": want("a")}, remote, {}, recorded, NOW + WEEK, no_rule, WEEK)
    assert late.deletions == ["assets/old.11111111.js", "old.html"]
    assert late.invalidation_keys == ["old.html"]
    assert late.pending == {}


def test_a_file_back_in_the_site_is_no_longer_pending() -> None:
    pending = {"old.html": PendingDeletion("2026-11-01T00:00:00Z", PAGE)}
    live = live_release({}, pending)
    result = plan({"old.html": want("o")}, {"old.html": RemoteObject('"e2"', 10)},
                  {"old.html": record("o", "v2", '"e2"')}, live, NOW, no_rule, WEEK)
    assert result.pending == {} and result.deletions == [] and result.transfers == []


def test_objects_gone_without_a_sync_and_failed_invalidations_are_invalidated_next_time() -> None:
    live = live_release({"index.html": record("a", "v1", '"e1"'), "gone.html": record("g", "v2", '"e2"')},
                        pending={"deleted-then-died.html": PendingDeletion("2026-11-01T00:00:00Z", PAGE)},
                        failed_paths=("/faq.html",))
    result = plan({"index.html": want("a")}, {"index.html": RemoteObject('"e1"', 10)}, {}, live, NOW, no_rule, WEEK)
    assert result.invalidation_keys == ["deleted-then-died.html", "gone.html"]
    assert result.invalidation_paths(15) == ["/deleted-then-died.html", "/faq.html", "/gone.html"]


def test_a_run_that_died_after_uploading_is_invalidated_by_the_next_one() -> None:
    # The page was uploaded (new ETag), no release recorded: the bucket already holds the new content.
    live = live_release({"index.html": record("a", "v1", '"e1"')})
    remote = {"index.html": RemoteObject('"e-new"', 10)}
    heads = {"index.html": record("a2", "v2", '"e-new"')}
    result = plan({"index.html": want("a2")}, remote, heads, live, NOW, no_rule, WEEK)
    assert result.transfers == []
    assert result.invalidation_keys == ["index.html"]


def test_rollback_copies_each_differing_key_from_its_version_and_deletes_nothing() -> None:
    live = live_release({"index.html": record("a2", "v2", '"e2"'), "new.html": record("n", "v3", '"e3"')})
    remote = {"index.html": RemoteObject('"e2"', 10), "new.html": RemoteObject('"e3"', 10)}
    wanted = {"index.html": Wanted("a", 10, "text/html; charset=utf-8", PAGE, version_id="v1")}
    result = plan(wanted, remote, {}, live, NOW, no_rule, grace=None, restore=True)
    assert [(t.key, t.action, t.source_version) for t in result.transfers] == [("index.html", "restore", "v1")]
    assert result.deletions == []
    assert list(result.pending) == ["new.html"]
    assert result.invalidation_keys == ["index.html"]


def test_cache_rules_come_from_the_edge_handler_on_the_environment_file() -> None:
    rules = CacheRules.for_environment(load_environment("prod"))
    assert rules.source == "config/edge/prod.yaml"
    assert rules.cache_control("assets/app.3f9a1c2b.js") == IMMUTABLE
    assert rules.cache_control("fonts/inter.woff2") == "public, max-age=2592000"
    assert rules.cache_control("index.html") == PAGE
    # The handler strips an experiment variant's origin prefix before matching, as at the edge.
    assert rules.cache_control("_variants/one-page/shop/index.html") == PAGE
    assert rules.cache_control("robots.txt") is None
    assert rules.cache_control("100%.html") == PAGE  # percent-encoded on the way, decoded by the handler
    assert is_immutable(IMMUTABLE) and not is_immutable(PAGE) and not is_immutable(None)


@pytest.mark.parametrize("key, path", [
    ("index.html", "/index.html"),
    ("a b/c.html", "/a%20b/c.html"),
    ("café/ü.html", "/caf%C3%A9/%C3%BC.html"),
    ("100%.html", "/100%25.html"),
    ("what?.html", "/what%3F.html"),
    ("a~b[1].html", "/a%7Eb%5B1%5D.html"),
    ("plus+comma,semi;.html", "/plus+comma,semi;.html"),
    ("star*name.html", "/star*"),  # CloudFront reads * as a wildcard, and only at the end
])
def test_invalidation_paths_are_encoded_as_cloudfront_matches_them(key: str, path: str) -> None:
    assert path_for(key) == path


def test_collapse_keeps_paths_under_the_limit_and_merges_the_deepest_busiest_directories_first() -> None:
    paths = ["/index.html", "/blog/2026/a.html", "/blog/2026/b.html", "/blog/2026/c.html", "/blog/2025/x.html",
             "/docs/start.html"]
    assert collapse(paths, 15) == sorted(paths)
    assert collapse(paths, 4) == ["/blog/2025/x.html", "/blog/2026/*", "/docs/start.html", "/index.html"]
    assert collapse(paths, 3) == ["/blog/*", "/docs/start.html", "/index.html"]
    assert collapse(paths, 1) == ["/*"]
    # Paths alone in their directories move up until they meet.
    assert collapse(["/a/b/c/d.html", "/x/y.html"], 1) == ["/*"]
    assert collapse(["/a/b/c/d.html", "/a/x/y.html", "/z.html"], 2) == ["/a/*", "/z.html"]
    # A wildcard covers what it matches.
    assert collapse(["/blog/*", "/blog/a.html", "/blogger.html"], 15) == ["/blog/*", "/blogger.html"]


def test_collapse_always_ends_within_the_limit() -> None:
    paths = [f"/d{i % 7}/e{i % 5}/f{i}.html" for i in range(500)]
    for limit in (1, 2, 5, 15, 100, 499, 500):
        result = collapse(paths, limit)
        assert 1 <= len(result) <= limit
        for path in paths:  # every changed path stays covered
            assert path in result or any(w.endswith("*") and path.startswith(w[:-1]) for w in result)
