"""The edge configuration model: `config/edge/<env>.yaml` validated with the handlers' own schema, and its stored versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from templates.config import PROJECT_ROOT, ConfigError, display_path, read_yaml
from templates.edge_functions import edge_handler as schema

EDGE_CONFIG_DIR = PROJECT_ROOT / "config" / "edge"

# A DynamoDB item holds at most 400 KB (names and values); the content is one attribute of it.
MAX_CONTENT_BYTES = 350_000


def edge_config_path(environment: str) -> Path:
    """Where an environment's edge configuration lives: `config/edge/<env>.yaml`."""
    return EDGE_CONFIG_DIR / f"{environment}.yaml"


@dataclass(frozen=True)
class EdgeConfig:
    """A validated edge configuration: the normalized document, its stored JSON form and hash."""

    source: str
    document: dict
    content: str
    content_hash: str

    @classmethod
    def from_document(cls, data: Any, source: Path | str) -> EdgeConfig:
        """Validate parsed YAML or stored JSON; raise ConfigError naming `source` and every field path."""
        document, problems = schema.validate_config(data)
        if not problems:
            content = schema.canonical_json(document)
            size = len(content.encode("utf-8"))
            if size > MAX_CONTENT_BYTES:
                problems = [("(whole file)", f"is {size} bytes as stored JSON; the table item allows at most "
                             f"{MAX_CONTENT_BYTES}: remove rules")]
        if problems:
            raise ConfigError(source, problems)
        return cls(source=str(source), document=document, content=content, content_hash=schema.content_hash(content))

    def to_yaml(self) -> str:
        """The normalized configuration as YAML (defaults filled in), for show and diff."""
        return yaml.safe_dump(self.document, sort_keys=False, allow_unicode=True, width=100)

    def summary(self) -> str:
        """One line: rule counts and the content hash."""
        d = self.document
        exact = sum(1 for r in d["redirects"] if "from" in r)
        parts = [
            f"{exact} exact and {len(d['redirects']) - exact} prefix redirects",
            f"{len(d['experiments'])} experiments",
            f"{len(d['cache_control'])} cache-control rules",
            "maintenance ON" if d["maintenance"]["enabled"] else "maintenance off",
            "SPA fallback on" if d["rewrites"]["spa_fallback"] else "SPA fallback off",
        ]
        return ", ".join(parts) + f"; {self.content_hash}"


def load_edge_config(path: Path | str) -> EdgeConfig:
    """Read and validate an edge configuration file; ConfigError names the file and the field path."""
    path = Path(path)
    return EdgeConfig.from_document(read_yaml(path), display_path(path))


@dataclass(frozen=True)
class StoredVersion:
    """One version of the configuration as the table holds it (the current item or a history item)."""

    version: int
    schema_version: int
    content: str
    content_hash: str
    pushed_at: str
    pushed_by: str
    action: str
    message: str = ""
    restored_from: int | None = None

    @classmethod
    def from_item(cls, item: dict) -> StoredVersion:
        """Read a low-level DynamoDB item (attribute-value form); ConfigError names an attribute that is wrong."""
        key = ", ".join(f"{name}={next(iter(item[name].values()))}"
                        for name in (schema.PARTITION_KEY, schema.SORT_KEY)
                        if isinstance(item.get(name), dict) and item[name])
        problems: list[tuple[str, str]] = []

        def attribute(name: str, kind: str, required: bool = False) -> str | None:
            value = item.get(name)
            if value is None:
                if required:
                    problems.append((name, "is missing"))
                return None
            if not isinstance(value, dict) or not isinstance(value.get(kind), str):
                problems.append((name, f"must be a DynamoDB {'number' if kind == 'N' else 'string'} ({kind})"))
                return None
            if kind == "N" and not value[kind].isdigit():
                problems.append((name, f"must be a whole number, got {value[kind][:20]!r}"))
                return None
            return value[kind]

        version = attribute("config_version", "N", required=True)
        schema_version = attribute("schema_version", "N")
        restored = attribute("restored_from", "N")
        texts = {name: attribute(name, "S") or "" for name in
                 ("content", "content_hash", "pushed_at", "pushed_by", "action", "message")}
        if problems:
            raise ConfigError(f"table item ({key})" if key else "table item", problems)
        return cls(version=int(version), schema_version=int(schema_version or "0"),
                   restored_from=int(restored) if restored is not None else None, **texts)

    def to_item(self, config_id: str, sort_version: int) -> dict:
        """The item under (config_id, sort_version): 0 for the current item, `version` for history."""
        item = {
            schema.PARTITION_KEY: {"S": config_id},
            schema.SORT_KEY: {"N": str(sort_version)},
            "config_version": {"N": str(self.version)},
            "schema_version": {"N": str(self.schema_version)},
            "content": {"S": self.content},
            "content_hash": {"S": self.content_hash},
            "pushed_at": {"S": self.pushed_at},
            "pushed_by": {"S": self.pushed_by},
            "action": {"S": self.action},
        }
        if self.message:
            item["message"] = {"S": self.message}
        if self.restored_from is not None:
            item["restored_from"] = {"N": str(self.restored_from)}
        return item

    def config(self) -> EdgeConfig:
        """The stored content, validated by the current schema (ConfigError if it no longer passes)."""
        if schema.content_hash(self.content) != self.content_hash:
            raise ConfigError(f"version {self.version}", [("content", "does not match its content_hash")])
        try:
            data = json.loads(self.content)
        except ValueError as exc:
            raise ConfigError(f"version {self.version}", [("content", f"is not JSON: {exc}")]) from exc
        return EdgeConfig.from_document(data, f"version {self.version}")

    def describe(self) -> str:
        """Who pushed this version, when, and why."""
        what = f"rollback to version {self.restored_from}" if self.action == "rollback" else self.action
        text = f"version {self.version}  {self.pushed_at}  {self.pushed_by}  {what}"
        return text + (f"  \"{self.message}\"" if self.message else "")
