"""Cache-Control for each object, decided by the edge handler's own rule matching on config/edge/<env>.yaml.

The origin-response edge function adds a Cache-Control header from these rules only when the origin
sends none; an object that carries its own would win. So `site sync` stores exactly what the edge
would add: it asks the handler's public `cache_control_for`, never a copy of its matching.
"""

from __future__ import annotations

from urllib.parse import quote

from edgeconfig.model import edge_config_path, load_edge_config
from rollout.errors import InputError
from templates.config import ConfigError, EnvConfig, display_path
from templates.edge_functions import edge_handler


def is_immutable(cache_control: str | None) -> bool:
    """True when the value has the `immutable` directive: the object at this path never changes."""
    if not cache_control:
        return False
    return any(part.strip().lower() == "immutable" for part in cache_control.split(","))


class CacheRules:
    """The edge configuration's cache_control rules, compiled once by the edge handler."""

    def __init__(self, document: dict, source: str):
        self.source = source
        self._compiled = edge_handler.compile_config(document)

    @classmethod
    def for_environment(cls, env: EnvConfig) -> "CacheRules":
        """config/edge/<env>.yaml, or the handler's default rules when the environment has none."""
        path = edge_config_path(env.environment)
        if not path.is_file():
            document, _ = edge_handler.validate_config(None)
            return cls(document, f"the edge handler's default rules ({display_path(path)} does not exist)")
        try:
            config = load_edge_config(path)
        except ConfigError as exc:
            raise InputError(str(exc)) from exc
        return cls(config.document, config.source)

    def cache_control(self, key: str) -> str | None:
        """What the origin-response function would add for the object `key` (None: no rule matches)."""
        # The handler sees the request URI as CloudFront passes it (percent-encoded) and decodes it.
        request = {"uri": quote("/" + key, safe="/")}
        return edge_handler.cache_control_for(self._compiled, request, {"status": "200", "headers": {}})
