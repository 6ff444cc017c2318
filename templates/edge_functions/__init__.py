"""The edge functions: which triggers exist, and the handler source with its settings baked in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

HANDLER_SOURCE = Path(__file__).resolve().parent / "edge_handler.py"

_MARKER = "BAKED_SETTINGS = "
_SETTINGS_KEYS = {"table_name": str, "table_regions": list, "cache_ttl_seconds": int, "environment": str}


@dataclass(frozen=True)
class EdgeFunction:
    """One Lambda@Edge function: its CloudFront event type and the handler inside the inlined index.py."""

    key: str
    event_type: str
    handler: str
    include_body: bool
    description: str


FUNCTIONS: tuple[EdgeFunction, ...] = (
    EdgeFunction(
        key="viewer_request",
        event_type="viewer-request",
        handler="index.viewer_request",
        include_body=False,
        description="maintenance page, redirects, index and SPA rewrites, experiment routing",
    ),
    EdgeFunction(
        key="origin_response",
        event_type="origin-response",
        handler="index.origin_response",
        include_body=False,
        description="Cache-Control by path for origin responses that lack one",
    ),
    # The experiment cookie is per viewer: origin-response output is cached and replayed to every
    # viewer, so the Set-Cookie must come from viewer-response, which runs on every response.
    EdgeFunction(
        key="viewer_response",
        event_type="viewer-response",
        handler="index.viewer_response",
        include_body=False,
        description="Set-Cookie that keeps a viewer's experiment variant sticky",
    ),
)


def handler_source() -> str:
    """The handler module's source as committed (default BAKED_SETTINGS: no table, pass-through)."""
    return HANDLER_SOURCE.read_text(encoding="utf-8")


def _literal(value: Any) -> str:
    """A one-line Python literal with sorted keys: the same settings always give the same bytes."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return repr(value)
    raise ValueError(f"cannot bake a {type(value).__name__} into the handler settings: {value!r}")


def _check_settings(settings: dict) -> None:
    if not isinstance(settings, dict):
        raise ValueError(f"settings must be a dict, got {type(settings).__name__}")
    missing = sorted(set(_SETTINGS_KEYS) - set(settings))
    unknown = sorted(set(settings) - set(_SETTINGS_KEYS))
    if missing or unknown:
        raise ValueError(f"settings keys: missing {missing}, unknown {unknown}; expected {sorted(_SETTINGS_KEYS)}")
    for key, kind in _SETTINGS_KEYS.items():
        value = settings[key]
        if isinstance(value, tuple) and kind is list:
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ValueError(f"settings[{key!r}] must be a {kind.__name__}, got {value!r}")
    if not settings["table_name"] or not settings["environment"]:
        raise ValueError("settings table_name and environment must not be empty")
    regions = list(settings["table_regions"])
    if not regions or not all(isinstance(r, str) and r for r in regions) or len(set(regions)) != len(regions):
        raise ValueError(f"settings['table_regions'] must list distinct regions, primary first, got {regions!r}")
    if settings["cache_ttl_seconds"] < 1:
        raise ValueError(f"settings['cache_ttl_seconds'] must be at least 1, got {settings['cache_ttl_seconds']}")


def bake_source(settings: dict, source: str | None = None) -> str:
    """The handler source with its BAKED_SETTINGS line replaced by `settings`, ready for Code.ZipFile.

    `settings` holds table_name, table_regions (primary first), cache_ttl_seconds and environment.
    Raises ValueError on bad settings or when the marker line is not found exactly once.
    """
    _check_settings(settings)
    text = handler_source() if source is None else source
    lines = text.splitlines(keepends=True)
    marked = [i for i, line in enumerate(lines) if line.startswith(_MARKER)]
    if len(marked) != 1:
        raise ValueError(f"expected exactly one line starting with {_MARKER!r} in the handler source, "
                         f"found {len(marked)}")
    baked = dict(settings, table_regions=list(settings["table_regions"]))
    lines[marked[0]] = _MARKER + _literal(baked) + "\n"
    result = "".join(lines)
    compile(result, "index.py", "exec")
    return result

