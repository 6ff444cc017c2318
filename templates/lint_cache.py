"""The lint-result cache: findings stored under a key that covers everything that can change them.

A template's key hashes, besides the template's bytes and the regions it is linted for:

* cfn-lint's version and every file of its installed package (code and the bundled resource
  schemas, which ``cfn-lint --update-specs`` rewrites in place), plus the names of the
  distributions installed beside it and the Python version;
* every file under ``templates/lint_rules/`` (the edge rules, their shared helpers, and the
  check settings in its ``__init__.py``) and ``templates/lint.py`` (how findings are worded);
* the ``.cfnlintrc`` files cfn-lint reads from the home and the working directory.

Hashing cfn-lint's ~2,700 files (35 MB) takes 0.1-0.4 s, so that digest is itself kept in the cache
under a signature of their paths, sizes and modification times (a ``stat`` of each, ~20 ms).
Entries are written to a temporary file and renamed into place, so runs sharing the directory
never read half an entry; an entry that does not parse, carries another format marker or echoes
another key is ignored and replaced.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from templates.config import PROJECT_ROOT

CACHE_DIR = PROJECT_ROOT / ".lint-cache"
FORMAT = "edge-cdn lint cache 1"  # change it when the meaning of an entry changes

# templates.lint_rules.RULES_DIR, named here without importing that package (it imports cfn-lint).
RULES_DIR = Path(__file__).resolve().parent / "lint_rules"
LINT_MODULE = Path(__file__).resolve().parent / "lint.py"

# Entries not rewritten for this long are removed after a run that wrote entries.
MAX_ENTRY_AGE_SECONDS = 30 * 24 * 3600

# cfn-lint settings that name other files, whose content the key does not follow: a .cfnlintrc
# or a template's Metadata cfn-lint config that uses one turns the cache off for it.
_SETTINGS_NAMING_FILES = ("override_spec", "custom_rules", "append_rules", "registry_schemas")


def cfn_lint_package_dir() -> Path:
    """The installed cfnlint package, found without importing it (importing takes about a second)."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed in this Python environment")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def cfn_lint_version() -> str:
    """The version cfn-lint reports (``cfnlint/version.py``), read without importing cfn-lint."""
    text = (cfn_lint_package_dir() / "version.py").read_text(encoding="utf-8")
    match = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", text)
    return match.group(1) if match else "unknown"


def cfnlintrc_files() -> list[Path]:
    """The .cfnlintrc files cfn-lint reads: the first of each name variant in the home and the working directory."""
    found = []
    for directory in (Path.home(), Path.cwd()):
        for name in (".cfnlintrc", ".cfnlintrc.yaml", ".cfnlintrc.yml"):
            if (directory / name).is_file():
                found.append(directory / name)
                break
    return found


def _files_under(directory: Path) -> list[tuple[str, os.stat_result]]:
    """(path relative to ``directory``, stat) of every regular file under it, sorted; no ``__pycache__``."""
    found = []
    pending = [("", str(directory))]
    while pending:  # os.scandir and plain strings: pathlib makes this walk 10 times slower
        prefix, path = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        pending.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.is_file() and not entry.name.endswith(".pyc"):
                    found.append((prefix + entry.name, entry.stat()))
    return sorted(found, key=lambda item: item[0])


def _hash_files(directory: Path, files: list[tuple[str, os.stat_result]]) -> str:
    digest = hashlib.sha256()
    for relative, _ in files:
        with open(os.path.join(directory, relative), "rb") as source:
            content = source.read()
        digest.update(f"{relative}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def rules_digest(rules_dir: Path = RULES_DIR) -> str:
    """Hash of every file under the rules directory (new rule files and helpers count without any listing)."""
    return _hash_files(rules_dir, _files_under(rules_dir))


def _write_json_atomically(path: Path, data: dict) -> None:
    """Write to a temporary file in the same directory, then rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.chmod(temporary, 0o644)  # mkstemp makes it private
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None when it is missing, unreadable or not a JSON object."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class LintCache:
    """Findings per template, in a directory that concurrent runs may share."""

    def __init__(self, directory: Path = CACHE_DIR):
        self.directory = directory
        self.warning: str | None = None  # set when entries could not be written
        self.disabled_reason: str | None = None  # set when nothing may be cached this run
        self._inputs: str | None = None

    def key(self, body: bytes, regions: tuple[str, ...] | list[str]) -> str | None:
        """The entry name for linting ``body`` for ``regions``, or None when it must not be cached."""
        if self._inputs is None:
            self._inputs = self._lint_inputs_digest()
        if self.disabled_reason is not None or _names_other_files(body):
            return None
        digest = hashlib.sha256(f"{self._inputs}\0{json.dumps(list(regions))}\0".encode())
        digest.update(hashlib.sha256(body).digest())
        return digest.hexdigest()

    def get(self, key: str) -> list[str] | None:
        """The findings stored under ``key``; None when absent, corrupt or written for another key or format."""
        entry = _read_json(self._entry_path(key))
        if entry is None or entry.get("format") != FORMAT or entry.get("key") != key:
            return None
        findings = entry.get("findings")
        if not isinstance(findings, list) or not all(isinstance(line, str) for line in findings):
            return None
        return findings

    def put(self, key: str, findings: list[str]) -> None:
        """Store ``findings`` under ``key``; a cache that cannot be written only costs a warning."""
        try:
            _write_json_atomically(self._entry_path(key), {"format": FORMAT, "key": key, "findings": findings})
        except OSError as exc:
            self.warning = f"lint results not cached: cannot write {exc.filename or self.directory}: {exc.strerror}"

    def prune(self, now: float | None = None) -> None:
        """Remove entries not rewritten for MAX_ENTRY_AGE_SECONDS, and temporary files left by killed runs."""
        cutoff = (time.time() if now is None else now) - MAX_ENTRY_AGE_SECONDS
        try:
            with os.scandir(self.directory / "findings") as entries:
                for entry in entries:
                    try:
                        if entry.stat().st_mtime < cutoff:
                            os.unlink(entry.path)
                    except OSError:
                        pass  # removed meanwhile by another run, or not ours to remove
        except OSError:
            pass

    def _entry_path(self, key: str) -> Path:
        return self.directory / "findings" / f"{key}.json"

    def _lint_inputs_digest(self) -> str:
        """Hash of everything except the template and its regions that can change a finding."""
        rc_files = cfnlintrc_files()
        for path in rc_files:
            content = path.read_bytes()
            named = [name for name in _SETTINGS_NAMING_FILES if name.encode() in content]
            if named:
                self.disabled_reason = (f"{path} sets {', '.join(named)}, which names files the cache "
                                        "does not follow")
        parts = {
            "format": FORMAT,
            "python": sys.version,
            "cfn-lint": cfn_lint_version(),
            "cfn-lint files": self._cfn_lint_files_digest(),
            "installed distributions": _installed_distributions(cfn_lint_package_dir().parent),
            "rules": rules_digest(),
            "lint module": hashlib.sha256(LINT_MODULE.read_bytes()).hexdigest(),
            "cfnlintrc": {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in rc_files},
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def _cfn_lint_files_digest(self) -> str:
        """Content hash of cfn-lint's package, reused while no file's path, size or mtime changed."""
        package = cfn_lint_package_dir()
        files = _files_under(package)
        signature = hashlib.sha256(str(package).encode())
        for relative, stat in files:
            signature.update(f"\0{relative}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
        memo_path = self.directory / "cfn-lint-files.json"
        memo = _read_json(memo_path)
        if (memo is not None and memo.get("format") == FORMAT and memo.get("signature") == signature.hexdigest()
                and isinstance(memo.get("digest"), str)):
            return memo["digest"]
        digest = _hash_files(package, files)
        try:
            _write_json_atomically(memo_path, {"format": FORMAT, "signature": signature.hexdigest(), "digest": digest})
        except OSError:
            pass  # recomputed next time; put() reports an unwritable cache
        return digest


def _installed_distributions(site_packages: Path) -> list[str]:
    """Names (with versions) of the distributions installed beside cfn-lint: its dependencies' versions count."""
    try:
        return sorted(name for name in os.listdir(site_packages) if name.endswith((".dist-info", ".egg-info")))
    except OSError:
        return []


def _names_other_files(body: bytes) -> bool:
    """Whether a template's Metadata cfn-lint config may name files (rules, specs) the key does not follow."""
    return b"cfn-lint" in body and any(name.encode() in body for name in _SETTINGS_NAMING_FILES)
