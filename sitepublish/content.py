"""The site directory as `site sync` reads it: every file's key, size, sha256 and Content-Type, checked up front.

Everything wrong with the directory is found here, before any AWS call, and reported at once:
a missing or empty directory, symlinks that leave it (or loop, or point nowhere), special files,
unreadable files, and names S3 cannot store or viewers could not reach.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rollout.errors import InputError

# S3 object keys are at most 1,024 bytes of UTF-8 (S3 user guide, "Naming Amazon S3 objects").
MAX_KEY_BYTES = 1024
# One PutObject carries at most 5 GiB; a site file beyond that is almost certainly a mistake.
MAX_OBJECT_BYTES = 5 * 1024 ** 3
# Problems listed in the error message before "... and N more".
SHOWN_PROBLEMS = 20

# C0 controls, DEL and C1 controls: S3's XML listings cannot carry some of them, and a URL cannot
# carry any of them unencoded (S3 user guide, "Characters to avoid").
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Fixed on purpose: Python's mimetypes also reads /etc/mime.types, which differs between machines,
# and would make the same directory publish differently from a laptop and from CI.
CONTENT_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".css": "text/css", ".js": "text/javascript",
    ".mjs": "text/javascript", ".json": "application/json", ".map": "application/json",
    ".webmanifest": "application/manifest+json", ".xml": "application/xml", ".txt": "text/plain",
    ".md": "text/markdown", ".csv": "text/csv", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/vnd.microsoft.icon",
    ".bmp": "image/bmp", ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject", ".wasm": "application/wasm", ".pdf": "application/pdf",
    ".zip": "application/zip", ".gz": "application/gzip", ".mp4": "video/mp4", ".webm": "video/webm",
    ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wav",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_BUILTIN_TYPES = mimetypes.MimeTypes()  # Python's own table only (no system files)
_TEXT_TYPES = ("text/", "application/json", "application/manifest+json", "application/xml",
               "application/rss+xml", "application/atom+xml", "image/svg+xml")


def content_type_for(key: str, body: bytes | None) -> str:
    """The Content-Type of a key; text types say charset=utf-8 when the bytes are UTF-8 (`body`)."""
    suffix = os.path.splitext(key)[1].lower()
    content_type = CONTENT_TYPES.get(suffix)
    if content_type is None:
        guessed, encoding = _BUILTIN_TYPES.guess_type(key, strict=False)
        # A compressed file (x.tar.bz2) is served as the bytes it is, not as what it contains.
        content_type = guessed if guessed and encoding is None else DEFAULT_CONTENT_TYPE
    if body is not None and content_type.startswith(_TEXT_TYPES):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return content_type
        return content_type + "; charset=utf-8"
    return content_type


def is_text_type(key: str) -> bool:
    """True when the Content-Type of `key` depends on whether the file is UTF-8."""
    return content_type_for(key, None).startswith(_TEXT_TYPES)


def key_problem(key: str, reserved_prefix: str) -> str | None:
    """Why S3 cannot store `key` or a viewer could not reach it, or None when it is fine."""
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "the name is not valid UTF-8 (S3 keys are UTF-8): rename the file"
    if _CONTROL.search(key):
        return "the name contains a control character: rename the file"
    if "\\" in key:
        return "the name contains a backslash, which browsers turn into / in a URL: rename the file"
    if any(part in ("", ".", "..") for part in key.split("/")):
        return "the path has an empty, . or .. segment, which URLs normalize away"
    if size > MAX_KEY_BYTES:
        return f"the key is {size} bytes of UTF-8; S3 allows at most {MAX_KEY_BYTES}"
    if key.startswith(reserved_prefix):
        return f"{reserved_prefix} is reserved for deploy.py site's release manifests (never served to viewers)"
    return None


@dataclass(frozen=True)
class LocalFile:
    """One file to publish: its key (path relative to the directory, / separated) and what identifies its content."""

    key: str
    path: Path
    size: int
    sha256: str
    content_type: str


@dataclass(frozen=True)
class LocalSite:
    """The files of a site directory, by key."""

    directory: Path
    files: dict[str, LocalFile]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files.values())

    @cached_property
    def digest(self) -> str:
        """sha256 over every key with its content hash: equal directories have equal digests."""
        return files_digest(self.files)


def _display(name: str) -> str:
    """A name as the user can read it, even when it is not valid UTF-8."""
    return ascii(name)[1:-1] if _CONTROL.search(name) or not _encodable(name) else name


def _encodable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _hash(path: Path, key: str) -> tuple[str, bytes | None]:
    """sha256 of the file; its bytes too when its Content-Type depends on them (text)."""
    if is_text_type(key):
        body = path.read_bytes()
        return hashlib.sha256(body).hexdigest(), body
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest(), None


def scan(directory: Path | str, reserved_prefix: str) -> LocalSite:
    """Read and check the whole directory; InputError lists every problem, naming each file."""
    root = Path(directory)
    if not root.exists():
        raise InputError(f"{directory}: no such directory")
    if not root.is_dir():
        raise InputError(f"{directory}: not a directory")
    real_root = root.resolve()
    problems: list[str] = []
    files: dict[str, LocalFile] = {}
    # (directory to read, key prefix, real directories on the way down: a symlink back into one loops)
    stack: list[tuple[Path, str, tuple[Path, ...]]] = [(root, "", (real_root,))]
    while stack:
        current, prefix, chain = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            problems.append(f"{prefix or '.'}: cannot be listed ({exc.strerror or exc})")
            continue
        for entry in entries:
            key = prefix + entry.name
            shown = _display(key)
            path = Path(entry.path)
            if entry.is_symlink():
                target = path.resolve()
                if not target.exists():
                    problems.append(f"{shown}: symlink to {os.readlink(path)}, which does not exist")
                    continue
                if not target.is_relative_to(real_root):
                    problems.append(f"{shown}: symlink to {target}, outside the directory")
                    continue
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError as exc:
                problems.append(f"{shown}: cannot be read ({exc.strerror or exc})")
                continue
            if is_dir:
                real = path.resolve()
                if real in chain:
                    problems.append(f"{shown}: symlink loop (back to {real})")
                    continue
                stack.append((path, key + "/", chain + (real,)))
                continue
            if not is_file:
                problems.append(f"{shown}: not a regular file (a socket, pipe or device)")
                continue
            problem = key_problem(key, reserved_prefix)
            if problem:
                problems.append(f"{shown}: {problem}")
                continue
            try:
                size = path.stat().st_size
                if size > MAX_OBJECT_BYTES:
                    problems.append(f"{shown}: {size} bytes; one upload carries at most {MAX_OBJECT_BYTES}")
                    continue
                digest, body = _hash(path, key)
            except OSError as exc:
                problems.append(f"{shown}: cannot be read ({exc.strerror or exc})")
                continue
            files[key] = LocalFile(key, path, size, digest, content_type_for(key, body))
    if problems:
        listed = "\n".join(f"  {p}" for p in problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        raise InputError(f"{directory}: {len(problems)} file(s) cannot be published (nothing was uploaded):\n"
                         f"{listed}" + (f"\n  ... and {more} more" if more > 0 else ""))
    if not files:
        raise InputError(f"{directory}: the directory contains no files; nothing to publish")
    return LocalSite(root, dict(sorted(files.items())))


def files_digest(files: dict) -> str:
    """sha256 over every key with its content hash (`sha256` of each value), in key order, as
    `sha256sum` lists them: a directory and a release of the same files have the same digest."""
    lines = "".join(f"{f.sha256}  {key}\n" for key, f in sorted(files.items()))
    return hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()
