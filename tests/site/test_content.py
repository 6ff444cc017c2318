"""The site directory: what is published, with which Content-Type, and everything refused before any AWS call."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from rollout.errors import InputError
from sitepublish.content import content_type_for, key_problem, scan
from site_support import write_site

RESERVED = ".edgecdn/"
# Longer than S3 allows, with each name within the file system's 255 bytes.
LONG_KEY = "/".join(["d" * 200] * 6) + ".html"


def test_keys_hashes_and_content_types(tmp_path: Path) -> None:
    write_site(tmp_path, {"index.html": "<p>héllo</p>", "assets/app.3f9a1c2b.js": "x()", "a/b/c.woff2": b"\0\1",
                          "latin1.html": "<p>caf\xe9</p>".encode("latin-1"), "LICENSE": "MIT",
                          "data.webmanifest": "{}", "img.svg": "<svg/>", "dump.tar.bz2": b"BZh"})
    site = scan(tmp_path, RESERVED)
    assert list(site.files) == sorted(site.files) == [
        "LICENSE", "a/b/c.woff2", "assets/app.3f9a1c2b.js", "data.webmanifest", "dump.tar.bz2", "img.svg",
        "index.html", "latin1.html"]
    index = site.files["index.html"]
    assert index.sha256 == hashlib.sha256("<p>héllo</p>".encode()).hexdigest()
    assert index.size == len("<p>héllo</p>".encode())
    types = {key: f.content_type for key, f in site.files.items()}
    assert types == {
        "LICENSE": "application/octet-stream",
        "a/b/c.woff2": "font/woff2",
        "assets/app.3f9a1c2b.js": "text/javascript; charset=utf-8",
        "data.webmanifest": "application/manifest+json; charset=utf-8",
        "dump.tar.bz2": "application/octet-stream",  # served as the compressed bytes it is
        "img.svg": "image/svg+xml; charset=utf-8",
        "index.html": "text/html; charset=utf-8",
        "latin1.html": "text/html",  # not UTF-8: no charset claimed
    }
    assert site.total_bytes == sum(f.size for f in site.files.values())


def test_content_type_does_not_depend_on_the_machine() -> None:
    # /etc/mime.types differs between machines; the table is fixed.
    assert content_type_for("a.js", b"x") == "text/javascript; charset=utf-8"
    assert content_type_for("A.JSON", b"{}") == "application/json; charset=utf-8"
    assert content_type_for("movie.MP4", None) == "video/mp4"


def test_the_same_content_gives_the_same_digest_whatever_the_modification_times(tmp_path: Path) -> None:
    first = write_site(tmp_path / "a", {"index.html": "x", "b/c.css": "y"})
    second = write_site(tmp_path / "b", {"b/c.css": "y", "index.html": "x"})
    os.utime(second / "index.html", (1, 1))
    assert scan(first, RESERVED).digest == scan(second, RESERVED).digest
    (second / "index.html").write_text("z")
    assert scan(first, RESERVED).digest != scan(second, RESERVED).digest


def test_symlinks_inside_the_directory_are_followed(tmp_path: Path) -> None:
    write_site(tmp_path, {"v2/index.html": "two"})
    (tmp_path / "latest").symlink_to("v2")
    (tmp_path / "home.html").symlink_to("v2/index.html")
    site = scan(tmp_path, RESERVED)
    assert sorted(site.files) == ["home.html", "latest/index.html", "v2/index.html"]
    assert site.files["latest/index.html"].sha256 == site.files["v2/index.html"].sha256


def _refused(directory: Path | str) -> str:
    with pytest.raises(InputError) as caught:
        scan(directory, RESERVED)
    return str(caught.value)


def test_missing_not_a_directory_and_empty(tmp_path: Path) -> None:
    assert _refused(tmp_path / "nope") == f"{tmp_path / 'nope'}: no such directory"
    write_site(tmp_path, {"file.txt": "x"})
    assert _refused(tmp_path / "file.txt") == f"{tmp_path / 'file.txt'}: not a directory"
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert _refused(tmp_path / "empty") == f"{tmp_path / 'empty'}: the directory contains no files; nothing to publish"


def test_every_problem_is_listed_at_once_naming_each_file(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"ok.html": "fine", ".edgecdn/releases/x.json": "{}",
                                          "back\\slash.html": "b", "tab\there.html": "t",
                                          LONG_KEY: "long"})
    outside = write_site(tmp_path / "secret", {"passwd": "root"})
    (site / "leak").symlink_to(outside / "passwd")
    (site / "leakdir").symlink_to(outside)
    (site / "dangling.css").symlink_to(site / "missing.css")
    (site / "loop").symlink_to(site)
    os.mkfifo(site / "pipe")
    bad_name = os.fsdecode(b"caf\xe9.html")  # Latin-1 bytes: not a UTF-8 name
    (site / bad_name).write_text("x")
    message = _refused(site)
    lines = message.splitlines()
    assert lines[0] == f"{site}: 10 file(s) cannot be published (nothing was uploaded):"
    assert set(lines[1:]) == {
        "  .edgecdn/releases/x.json: .edgecdn/ is reserved for deploy.py site's release manifests "
        "(never served to viewers)",
        "  back\\slash.html: the name contains a backslash, which browsers turn into / in a URL: rename the file",
        "  tab\\there.html: the name contains a control character: rename the file",
        "  caf\\udce9.html: the name is not valid UTF-8 (S3 keys are UTF-8): rename the file",
        f"  {LONG_KEY}: the key is 1210 bytes of UTF-8; S3 allows at most 1024",
        f"  leak: symlink to {outside / 'passwd'}, outside the directory",
        f"  leakdir: symlink to {outside}, outside the directory",
        f"  dangling.css: symlink to {site / 'missing.css'}, which does not exist",
        f"  loop: symlink loop (back to {site})",
        "  pipe: not a regular file (a socket, pipe or device)",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path: Path) -> None:
    write_site(tmp_path, {"secret.html": "x"})
    (tmp_path / "secret.html").chmod(0)
    assert "secret.html: cannot be read (Permission denied)" in _refused(tmp_path)


@pytest.mark.parametrize("key, problem", [
    ("a/../b.html", "the path has an empty, . or .. segment, which URLs normalize away"),
    ("a//b.html", "the path has an empty, . or .. segment, which URLs normalize away"),
    ("x\x7f.html", "the name contains a control character: rename the file"),
    ("x\u0085.html", "the name contains a control character: rename the file"),
    ("é" * 513, "the key is 1026 bytes of UTF-8; S3 allows at most 1024"),
])
def test_key_problems(key: str, problem: str) -> None:
    assert key_problem(key, RESERVED) == problem


@pytest.mark.parametrize("key", ["index.html", "日本語/ページ.html", "a b/c+d%20(1).html", "x" * 1024,
                                 ".well-known/security.txt", "100%.html", "what?.html"])
def test_keys_s3_stores_and_viewers_reach(key: str) -> None:
    assert key_problem(key, RESERVED) is None
