"""One environment's configuration: loaded from `config/<env>.yaml`, validated once, immutable."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"

# Lambda@Edge, the CLOUDFRONT-scope WAF and CloudFront's certificate live here (AWS requirement).
EDGE_REGION = "us-east-1"

# Regions that can host the primary components (S3, DynamoDB, CloudWatch) and DynamoDB replicas.
# Only regions enabled by default: opt-in regions (af-south-1, ap-east-1, me-south-1, ...) must be
# enabled per account first, and CloudFront standard logging cannot deliver to buckets in them.
SUPPORTED_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
    "ap-southeast-2", "ap-south-1", "sa-east-1",
)

# The regions of CloudFront's regional edge caches (RECs): Lambda@Edge runs in the REC nearest the
# viewer's edge location and writes its logs in that REC's region (CloudFront developer guide,
# "Edge function logs"; "How CloudFront works with regional edge caches"). In REC order.
REGIONAL_EDGE_CACHE_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "eu-central-1", "eu-west-1", "eu-west-2",
    "sa-east-1",
)

# The REC regions each price class can reach (CloudFront developer guide, "Price classes", and the
# price-class table on the CloudFront pricing page): PriceClass_100 serves from North America,
# Europe and Israel; PriceClass_200 adds Asia, the Middle East and Africa but not South America
# (sa-east-1) or Australia and New Zealand (ap-southeast-2); PriceClass_All serves from everywhere.
# AWS notes that CloudFront may occasionally serve a request from an edge location outside the
# price class: edge_functions.log_regions widens the list (see README, "Edge function logs").
PRICE_CLASS_EDGE_REGIONS = {
    "PriceClass_100": ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-central-1", "eu-west-1",
                       "eu-west-2"),
    "PriceClass_200": ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1",
                       "ap-northeast-2", "ap-southeast-1", "eu-central-1", "eu-west-1", "eu-west-2"),
    "PriceClass_All": REGIONAL_EDGE_CACHE_REGIONS,
}

# Lambda@Edge quotas (CloudFront developer guide, "Quotas on Lambda@Edge").
VIEWER_TRIGGER_MAX_MEMORY_MB = 128
VIEWER_TRIGGER_MAX_TIMEOUT_S = 5
ORIGIN_TRIGGER_MAX_MEMORY_MB = 10240
ORIGIN_TRIGGER_MAX_TIMEOUT_S = 30

# ACM's default quota of domain names per certificate; the distribution's certificate names every
# alias. CloudFront's own limit, 100 alternate domain names per distribution, is never reached first.
MAX_CERTIFICATE_NAMES = 10

# WAFv2 rate-based rule limit range (requests per evaluation window per IP).
RATE_LIMIT_MIN = 10
RATE_LIMIT_MAX = 2_000_000_000

# CloudWatch Logs accepts only these retention values.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)

_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{1,14}[a-z0-9]\Z")
_ENV_RE = re.compile(r"^[a-z][a-z0-9]{1,9}\Z")
_DOMAIN_RE = re.compile(
    r"^(?=.{1,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z"
)
_ZONE_ID_RE = re.compile(r"^Z[A-Z0-9]{1,31}\Z")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}\Z")
_ACCOUNT_RE = re.compile(r"^[0-9]{12}\Z")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}\Z")


class PriceClass(str, enum.Enum):
    """CloudFront price classes: which edge locations serve the distribution."""

    PRICE_CLASS_100 = "PriceClass_100"
    PRICE_CLASS_200 = "PriceClass_200"
    PRICE_CLASS_ALL = "PriceClass_All"


class ConfigError(Exception):
    """A configuration file is invalid; each problem names the file and the field path."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]):
        self.path = Path(path)
        self.problems = problems
        shown = display_path(self.path)
        super().__init__("\n".join(f"{shown}: {field}: {msg}" for field, msg in problems))


def display_path(path: Path | str) -> str:
    """config/prod.yaml for the project's own files, the path as given otherwise."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class EdgeFunctionSettings:
    """Memory and timeout of one edge function."""

    memory_mb: int
    timeout_seconds: int


@dataclass(frozen=True)
class DomainConfig:
    """One account's custom domain: an existing delegated zone by id, or a new zone (first step only).

    `where` is the field path in the config file (`domain`, `deploy.accounts[1].domain`), for messages.
    """

    zone_name: str
    hosted_zone_id: str | None
    aliases: tuple[str, ...]
    where: str = "domain"

    @property
    def creates_zone(self) -> bool:
        return self.hosted_zone_id is None


@dataclass(frozen=True)
class DeployConfig:
    """StackSets rollout: target accounts and operation preferences."""

    accounts: tuple[str, ...]
    failure_tolerance_count: int
    max_concurrent_count: int


@dataclass(frozen=True)
class EnvConfig:
    """A validated environment; every resource name derives from `project` and `environment`."""

    source: Path
    project: str
    environment: str
    primary_region: str
    replica_regions: tuple[str, ...]
    edge_config_cache_ttl_seconds: int
    price_class: PriceClass
    default_root_object: str
    content_security_policy: str
    viewer_request: EdgeFunctionSettings
    origin_response: EdgeFunctionSettings
    viewer_response: EdgeFunctionSettings
    waf_rate_limit: int
    waf_blocked_countries: tuple[str, ...]
    waf_log_retention_days: int
    access_log_retention_days: int
    noncurrent_version_retention_days: int
    function_log_retention_days: int
    # Where the edge functions' log groups are created: REC regions, us-east-1 first, in REC order.
    edge_log_regions: tuple[str, ...]
    alarm_email: str | None
    error_rate_5xx_percent: float
    error_rate_4xx_percent: float
    origin_latency_ms: int
    waf_blocked_requests_per_5min: int
    replication_latency_ms: int
    # (account id, its domain) for each account that has one, in config order. A hosted zone lives
    # in one account and an alias names one distribution across AWS, so domains are per account.
    account_domains: tuple[tuple[str, DomainConfig], ...]
    deploy: DeployConfig
    tags: tuple[tuple[str, str], ...] = field(default=())

    def edge_function_settings(self, key: str) -> EdgeFunctionSettings:
        """Memory and timeout of the edge function `key` (viewer_request, origin_response, ...)."""
        return {"viewer_request": self.viewer_request, "viewer_response": self.viewer_response,
                "origin_response": self.origin_response}[key]

    @property
    def single_region(self) -> bool:
        """The primary region is us-east-1: edge and primary components share one stack, and the
        distribution ARN is wired directly (log and replica regions may still add instances)."""
        return self.primary_region == EDGE_REGION

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region with a stack-set instance, in rollout order: us-east-1, the primary region,
        then the other edge log regions and the replica regions."""
        return _unique((EDGE_REGION, self.primary_region, *self.edge_log_regions, *self.replica_regions))

    @property
    def monitored_regions(self) -> tuple[str, ...]:
        """Regions with a monitoring stack: us-east-1 (CloudFront, WAF), the table's regions."""
        return _unique((EDGE_REGION, *self.table_regions))

    @property
    def name_prefix(self) -> str:
        return f"{self.project}-{self.environment}"

    @property
    def edge_config_table_name(self) -> str:
        return f"{self.project}-edge-config-{self.environment}"

    @property
    def table_regions(self) -> tuple[str, ...]:
        """The primary region first, then the replicas: where the edge functions may read."""
        return (self.primary_region, *self.replica_regions)

    def domain_for(self, account: str) -> DomainConfig | None:
        """The account's custom domain, or None when it serves only *.cloudfront.net."""
        return dict(self.account_domains).get(account)

    @property
    def custom_domain(self) -> bool:
        """True when some account's distribution serves aliases with its own certificate."""
        return any(domain.aliases for _, domain in self.account_domains)

    @property
    def has_domain(self) -> bool:
        """True when some account has a domain section (a zone to create, or aliases)."""
        return bool(self.account_domains)


# --- validation --------------------------------------------------------------------------------


class _Reader:
    """Walks a parsed YAML mapping, collecting every problem with its field path."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def mapping(self, data: Any, path: str, allowed: set[str]) -> dict:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.fail(path or "(top level)", f"must be a mapping, got {_type_name(data)}")
            return {}
        for key in sorted(set(data) - allowed, key=str):
            where = f"{path}.{key}" if path else str(key)
            self.fail(where, f"unknown key; allowed keys here: {', '.join(sorted(allowed))}")
        return data

    def value(
        self,
        data: dict,
        path: str,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = ...,
        check: Callable[[Any], bool] | None = None,
        allowed: str = "",
    ) -> Any:
        where = f"{path}.{key}" if path else key
        if key not in data or data[key] is None:
            if default is ...:
                self.fail(where, f"is required ({allowed})" if allowed else "is required")
            return None if default is ... else default
        value = data[key]
        # YAML booleans are ints in Python: never accept one for a number.
        if isinstance(value, bool) and bool not in _as_tuple(kind):
            self.fail(where, f"must be {allowed or _kind_name(kind)}, got a boolean")
            return None
        if not isinstance(value, kind):
            shown = _shown(value)
            got = shown if shown == _type_name(value) else f"{_type_name(value)} {shown}"
            self.fail(where, f"must be {allowed or _kind_name(kind)}, got {got}")
            return None
        if check is not None and not check(value):
            self.fail(where, f"must be {allowed}, got {_shown(value)}")
            return None
        return value

    def string_list(
        self, data: dict, path: str, key: str, check: Callable[[str], bool], allowed: str
    ) -> tuple[str, ...]:
        where = f"{path}.{key}" if path else key
        items = data.get(key)
        if items is None:
            return ()
        if not isinstance(items, list):
            self.fail(where, f"must be a list of {allowed}, got {_type_name(items)}")
            return ()
        good = []
        for index, item in enumerate(items):
            if not isinstance(item, str) or not check(item):
                self.fail(f"{where}[{index}]", f"must be {allowed}, got {_shown(item)}")
            else:
                good.append(item)
        if len(set(good)) != len(good):
            self.fail(where, "must not repeat a value")
        return tuple(good)


def _unique(regions: tuple[str, ...]) -> tuple[str, ...]:
    """The regions in their first order, each once."""
    return tuple(dict.fromkeys(regions))


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def _shown(value: Any) -> str:
    """A value for an error message: scalars as written (shortened), collections by kind only."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return _type_name(value)


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def _in_range(low: float, high: float) -> Callable[[Any], bool]:
    return lambda v: low <= v <= high


def _is_region(value: str) -> bool:
    return value in SUPPORTED_REGIONS


_REGIONS_TEXT = "one of " + ", ".join(SUPPORTED_REGIONS)

# Keys that once existed, with what to do instead.
_REMOVED_CDN_KEYS = {
    "spa_fallback": "was removed: the distribution-wide error page it set answered every missing file, "
                    "assets included, with index.html and status 200. Set rewrites.spa_fallback in "
                    "config/edge/<env>.yaml instead: the viewer-request function rewrites only "
                    "extension-less paths, so a missing /assets/app.js stays a 404",
}

_TOP_KEYS = {"project", "primary_region", "edge_config", "cdn", "edge_functions", "waf",
             "retention", "monitoring", "domain", "deploy", "tags"}


def parse_config(data: Any, source: Path, environment: str) -> EnvConfig:
    """Validate parsed YAML into an EnvConfig, or raise ConfigError listing every problem."""
    r = _Reader()
    if not _ENV_RE.match(environment):
        r.fail("(file name)", "the environment name (file name without .yaml) must be 2-10 "
               "lowercase letters and digits, starting with a letter")
    top = r.mapping(data, "", _TOP_KEYS)
    if data is None:
        r.fail("(top level)", "the file is empty")

    project = r.value(top, "", "project", str, check=lambda v: bool(_PROJECT_RE.match(v)),
                      allowed="3-16 lowercase letters, digits and hyphens, starting with a letter")
    primary = r.value(top, "", "primary_region", str, default="us-west-2", check=_is_region,
                      allowed=_REGIONS_TEXT)

    edge_cfg = r.mapping(top.get("edge_config"), "edge_config", {"replica_regions", "cache_ttl_seconds"})
    replicas = r.string_list(edge_cfg, "edge_config", "replica_regions", _is_region, _REGIONS_TEXT)
    if primary in replicas:
        r.fail("edge_config.replica_regions", f"must not include the primary region {primary}")
    cache_ttl = r.value(edge_cfg, "edge_config", "cache_ttl_seconds", int, default=60,
                        check=_in_range(1, 3600), allowed="an integer from 1 to 3600")

    cdn = r.mapping(top.get("cdn"), "cdn", {"price_class", "default_root_object", "content_security_policy",
                                             *_REMOVED_CDN_KEYS})
    for key, why in _REMOVED_CDN_KEYS.items():
        if key in cdn:
            r.fail(f"cdn.{key}", why)
    price_values = [p.value for p in PriceClass]
    price = r.value(cdn, "cdn", "price_class", str, default="PriceClass_100",
                    check=lambda v: v in price_values, allowed="one of " + ", ".join(price_values))
    root_object = r.value(cdn, "cdn", "default_root_object", str, default="index.html",
                          check=lambda v: bool(re.match(r"^[A-Za-z0-9._-][A-Za-z0-9._/-]{0,254}\Z", v)),
                          allowed="an object key such as index.html")
    csp = r.value(cdn, "cdn", "content_security_policy", str,
                  default="default-src 'self'; img-src 'self' data:; object-src 'none'; "
                          "frame-ancestors 'none'; base-uri 'self'",
                  check=lambda v: bool(re.match(r"[\x20-\x7e]{1,1783}\Z", v)),
                  allowed="a Content-Security-Policy value of 1-1783 printable ASCII characters (a header value)")

    functions = r.mapping(top.get("edge_functions"), "edge_functions",
                          {"viewer_request", "viewer_response", "origin_response", "log_regions"})
    viewer = _function_settings(r, functions, "viewer_request", VIEWER_TRIGGER_MAX_MEMORY_MB,
                                VIEWER_TRIGGER_MAX_TIMEOUT_S, default_timeout=5)
    viewer_response = _function_settings(r, functions, "viewer_response", VIEWER_TRIGGER_MAX_MEMORY_MB,
                                         VIEWER_TRIGGER_MAX_TIMEOUT_S, default_timeout=5)
    origin = _function_settings(r, functions, "origin_response", ORIGIN_TRIGGER_MAX_MEMORY_MB,
                                ORIGIN_TRIGGER_MAX_TIMEOUT_S, default_timeout=10)
    log_regions = _edge_log_regions(r, functions, price if price in PRICE_CLASS_EDGE_REGIONS else None,
                                    (primary, *replicas))

    waf = r.mapping(top.get("waf"), "waf", {"rate_limit", "blocked_countries"})
    rate_limit = r.value(waf, "waf", "rate_limit", int, default=2000,
                         check=_in_range(RATE_LIMIT_MIN, RATE_LIMIT_MAX),
                         allowed=f"an integer from {RATE_LIMIT_MIN} to {RATE_LIMIT_MAX} "
                                 "(requests per IP per 5 minutes)")
    countries = r.string_list(waf, "waf", "blocked_countries", lambda v: bool(_COUNTRY_RE.match(v)),
                              "a two-letter upper-case ISO 3166 country code such as KP")

    retention = r.mapping(top.get("retention"), "retention",
                          {"access_logs_days", "waf_logs_days", "function_logs_days",
                           "noncurrent_versions_days"})
    retention_text = "one of " + ", ".join(str(d) for d in LOG_RETENTION_DAYS)
    access_days = r.value(retention, "retention", "access_logs_days", int, default=365,
                          check=_in_range(1, 3650), allowed="an integer from 1 to 3650")
    waf_days = r.value(retention, "retention", "waf_logs_days", int, default=365,
                       check=lambda v: v in LOG_RETENTION_DAYS, allowed=retention_text)
    fn_days = r.value(retention, "retention", "function_logs_days", int, default=365,
                      check=lambda v: v in LOG_RETENTION_DAYS, allowed=retention_text)
    noncurrent_days = r.value(retention, "retention", "noncurrent_versions_days", int, default=90,
                              check=_in_range(1, 3650), allowed="an integer from 1 to 3650")

    mon = r.mapping(top.get("monitoring"), "monitoring",
                    {"alarm_email", "error_rate_5xx_percent", "error_rate_4xx_percent",
                     "origin_latency_ms", "waf_blocked_requests_per_5min", "replication_latency_ms"})
    email = r.value(mon, "monitoring", "alarm_email", str, default=None,
                    check=lambda v: bool(_EMAIL_RE.match(v)), allowed="an e-mail address")
    rate_5xx = r.value(mon, "monitoring", "error_rate_5xx_percent", (int, float), default=1.0,
                       check=_in_range(0.01, 100), allowed="a percentage from 0.01 to 100")
    rate_4xx = r.value(mon, "monitoring", "error_rate_4xx_percent", (int, float), default=10.0,
                       check=_in_range(0.01, 100), allowed="a percentage from 0.01 to 100")
    latency = r.value(mon, "monitoring", "origin_latency_ms", int, default=3000,
                      check=_in_range(10, 60000), allowed="an integer from 10 to 60000")
    blocked = r.value(mon, "monitoring", "waf_blocked_requests_per_5min", int, default=1000,
                      check=_in_range(1, 10_000_000), allowed="an integer from 1 to 10000000")
    replication_ms = r.value(mon, "monitoring", "replication_latency_ms", int, default=60000,
                             check=_in_range(100, 3_600_000), allowed="an integer from 100 to 3600000")

    dep = r.mapping(top.get("deploy"), "deploy",
                    {"accounts", "failure_tolerance_count", "max_concurrent_count"})
    accounts, account_domains = _accounts(r, dep)
    if "accounts" not in dep:
        r.fail("deploy.accounts", "is required (the AWS account ids to deploy to)")
    elif not accounts and not any(p[0].startswith("deploy.accounts") for p in r.problems):
        r.fail("deploy.accounts", "must list at least one 12-digit account id")
    environment_domain = _domain(r, top.get("domain"), "domain")
    if environment_domain is not None:
        if len(accounts) > 1:
            # A hosted zone lives in one account, and CloudFront lets one distribution in all of AWS
            # hold an alias (CNAMEAlreadyExists): several accounts cannot share one domain.
            r.fail("domain", f"applies to a single account, but deploy.accounts lists {len(accounts)}: "
                   "give each account that serves a custom domain its own zone and aliases under "
                   "deploy.accounts[N].domain")
        elif account_domains:
            r.fail("domain", "is given twice: here and under deploy.accounts[0].domain; keep one")
        elif accounts:
            account_domains = [(accounts[0], environment_domain)]
    tolerance = r.value(dep, "deploy", "failure_tolerance_count", int, default=0,
                        check=_in_range(0, 100), allowed="an integer from 0 to 100")
    concurrent = r.value(dep, "deploy", "max_concurrent_count", int, default=1,
                         check=_in_range(1, 100), allowed="an integer from 1 to 100")
    if isinstance(tolerance, int) and isinstance(concurrent, int) and tolerance >= concurrent:
        # StackSets rejects operation preferences where the tolerance reaches the concurrency.
        r.fail("deploy.failure_tolerance_count",
               f"must be lower than deploy.max_concurrent_count ({concurrent})")

    tag_data = top.get("tags")
    tags_map = r.mapping(tag_data, "tags", set(tag_data) if isinstance(tag_data, dict) else set())
    tags = []
    for key, value in sorted(tags_map.items(), key=lambda kv: str(kv[0])):
        if (not isinstance(key, str) or not re.match(r"^[A-Za-z0-9 _.:/=+@-]{1,128}\Z", key)
                or key.startswith("aws:") or key in ("Project", "Environment", "ManagedBy")):
            r.fail(f"tags.{key if isinstance(key, str) else _shown(key)}", "must be a tag key of 1-128 letters, "
                   "digits, spaces or _.:/=+-@, "
                   "not starting with aws: and not Project, Environment or ManagedBy (always set)")
        elif not isinstance(value, str) or not re.match(r"[\w .:/=+@-]{0,256}\Z", value):
            r.fail(f"tags.{key}", "must be a string of at most 256 letters, digits, spaces or _.:/=+-@ (AWS tag values)")
        else:
            tags.append((key, value))

    if r.problems:
        raise ConfigError(source, r.problems)
    return EnvConfig(
        source=source, project=project, environment=environment, primary_region=primary,
        replica_regions=replicas, edge_config_cache_ttl_seconds=cache_ttl,
        price_class=PriceClass(price), default_root_object=root_object,
        content_security_policy=csp, viewer_request=viewer, origin_response=origin,
        viewer_response=viewer_response,
        waf_rate_limit=rate_limit, waf_blocked_countries=countries,
        waf_log_retention_days=waf_days, access_log_retention_days=access_days,
        noncurrent_version_retention_days=noncurrent_days, function_log_retention_days=fn_days,
        edge_log_regions=log_regions,
        alarm_email=email, error_rate_5xx_percent=float(rate_5xx),
        error_rate_4xx_percent=float(rate_4xx), origin_latency_ms=latency,
        waf_blocked_requests_per_5min=blocked, replication_latency_ms=replication_ms,
        account_domains=tuple(account_domains),
        deploy=DeployConfig(accounts=accounts, failure_tolerance_count=tolerance,
                            max_concurrent_count=concurrent),
        tags=tuple(tags),
    )


def _function_settings(r: _Reader, functions: dict, key: str, max_memory: int, max_timeout: int,
                       default_timeout: int) -> EdgeFunctionSettings:
    path = f"edge_functions.{key}"
    data = r.mapping(functions.get(key), path, {"memory_mb", "timeout_seconds"})
    memory = r.value(data, path, "memory_mb", int, default=128, check=_in_range(128, max_memory),
                     allowed=f"an integer from 128 to {max_memory} (Lambda@Edge limit)")
    timeout = r.value(data, path, "timeout_seconds", int, default=default_timeout,
                      check=_in_range(1, max_timeout),
                      allowed=f"an integer from 1 to {max_timeout} (Lambda@Edge limit)")
    return EdgeFunctionSettings(memory_mb=memory or 128, timeout_seconds=timeout or 1)


def _edge_log_regions(r: _Reader, functions: dict, price_class: str | None,
                      table_regions: tuple[str, ...]) -> tuple[str, ...]:
    """edge_functions.log_regions, or the REC regions the price class reaches; always us-east-1 and
    the REC regions that hold the table (they have an instance anyway, so only the logs key is added)."""
    if "log_regions" in functions and functions["log_regions"] is not None:
        chosen = r.string_list(functions, "edge_functions", "log_regions",
                               lambda v: v in REGIONAL_EDGE_CACHE_REGIONS,
                               "a regional-edge-cache region, one of " + ", ".join(REGIONAL_EDGE_CACHE_REGIONS))
    else:
        chosen = PRICE_CLASS_EDGE_REGIONS.get(price_class or "", REGIONAL_EDGE_CACHE_REGIONS)
    # The functions live in us-east-1 and log there when it serves a request.
    always = {EDGE_REGION, *table_regions}
    return tuple(region for region in REGIONAL_EDGE_CACHE_REGIONS if region in chosen or region in always)


def _accounts(r: _Reader, dep: dict) -> tuple[tuple[str, ...], list[tuple[str, DomainConfig]]]:
    """deploy.accounts: each item an account id, or {id, domain} for an account with its own domain."""
    items = dep.get("accounts")
    account_text = "a 12-digit AWS account id in quotes, such as '111111111111'"
    if items is None:
        return (), []
    if not isinstance(items, list):
        r.fail("deploy.accounts", f"must be a list of account ids or {{id, domain}} mappings, got "
               f"{_type_name(items)}")
        return (), []
    accounts: list[str] = []
    domains: list[tuple[str, DomainConfig]] = []
    for index, item in enumerate(items):
        where = f"deploy.accounts[{index}]"
        if isinstance(item, dict):
            entry = r.mapping(item, where, {"id", "domain"})
            account = r.value(entry, where, "id", str, check=lambda v: bool(_ACCOUNT_RE.match(v)),
                              allowed=account_text)
            domain = _domain(r, entry.get("domain"), f"{where}.domain")
            if account and domain is not None:
                domains.append((account, domain))
        elif isinstance(item, str) and _ACCOUNT_RE.match(item):
            account = item
        else:
            r.fail(where, f"must be {account_text}, or a mapping with id and domain; got {_shown(item)}")
            continue
        if account in accounts:
            r.fail(where, f"repeats account {account}")
        elif account:
            accounts.append(account)
    return tuple(accounts), domains


def _domain(r: _Reader, data: Any, path: str) -> DomainConfig | None:
    if data is None:
        return None
    d = r.mapping(data, path, {"zone_name", "hosted_zone_id", "aliases"})
    domain_text = "a lower-case DNS name such as example.com"
    zone_name = r.value(d, path, "zone_name", str, check=lambda v: bool(_DOMAIN_RE.match(v)),
                        allowed=domain_text)
    zone_id = r.value(d, path, "hosted_zone_id", str, default=None,
                      check=lambda v: bool(_ZONE_ID_RE.match(v)),
                      allowed="a Route53 hosted zone id such as Z0123456789ABCDEFGHIJ")
    aliases = r.string_list(d, path, "aliases", lambda v: bool(_DOMAIN_RE.match(v)), domain_text)
    if zone_name:
        for index, alias in enumerate(aliases):
            if alias != zone_name and not alias.endswith("." + zone_name):
                r.fail(f"{path}.aliases[{index}]", f"must be {zone_name} or a name under it, got {alias!r}")
    if zone_id and not aliases:
        r.fail(f"{path}.aliases", f"must list at least one name to serve when {path}.hosted_zone_id is set "
               "(the zone exists already: the aliases are what this stack adds to it)")
    if aliases and "hosted_zone_id" not in d:
        # ACM DNS validation only completes in a zone that is already delegated: a zone created
        # in the same rollout leaves the certificate pending until CloudFormation times out.
        r.fail(f"{path}.hosted_zone_id", "is required when aliases are set: the certificate "
               "needs an existing, delegated zone (create the zone first without aliases, delegate "
               "it, then add its id and the aliases)")
    if len(aliases) > MAX_CERTIFICATE_NAMES:
        # Every alias is a name on the distribution's one ACM certificate.
        r.fail(f"{path}.aliases", f"lists {len(aliases)} names; an ACM certificate holds at most "
               f"{MAX_CERTIFICATE_NAMES} by default (ACM quota 'Domain names per ACM certificate'), "
               "and CloudFront at most 100 aliases per distribution")
    return DomainConfig(zone_name=zone_name or "", hosted_zone_id=zone_id, aliases=aliases, where=path)


# Bounds on what a configuration file may make the loader build: both kinds of file are a few KB
# to a few hundred KB (an edge configuration is stored in one DynamoDB item of at most 400 KB).
MAX_YAML_BYTES = 5_000_000
MAX_YAML_VALUES = 1_000_000  # after aliases are expanded: `*a` counts every value under `&a` again
MAX_YAML_DEPTH = 50
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """yaml.safe_load, refusing duplicate keys, deep nesting, alias cycles and alias "bombs" (billion laughs)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nests more than {MAX_YAML_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Any:
        node = super().compose_document()
        _check_alias_expansion(node)
        return node

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as exc:  # an int over Python's digit limit, a date like 2024-13-45, ...
            raise yaml.constructor.ConstructorError(None, None, f"cannot be read: {exc}", node.start_mark) from exc

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            first_seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue  # `<<: *defaults`: keys written here may override merged ones
                key = self.construct_object(key_node, deep=True)
                try:
                    first = first_seen.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: the base constructor reports it
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"repeats the key {_shown(key)} of line {first.start_mark.line + 1} "
                        "(YAML would silently keep only the last value)", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _check_alias_expansion(root: Any) -> None:
    """Refuse alias cycles and documents whose aliases expand to more than MAX_YAML_VALUES values."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else (
            node.value if isinstance(node, yaml.SequenceNode) else [])
        if children_done:
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > MAX_YAML_VALUES:
                raise yaml.composer.ComposerError(
                    None, None, f"expands to more than {MAX_YAML_VALUES} values through aliases "
                    "(an anchor repeated inside anchors repeated ...)", node.start_mark)
            continue
        if id(node) in sizes:
            continue
        if id(node) in on_path:
            raise yaml.composer.ComposerError(None, None, "an alias refers to a collection that contains it",
                                              node.start_mark)
        on_path.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; an unreadable, oversized, malformed or ambiguous file is a ConfigError naming the file and line."""
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise ConfigError(path, [("(file)", f"is {path.stat().st_size} bytes; a configuration file may "
                                                f"have at most {MAX_YAML_BYTES}")])
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, [("(file)", f"cannot be read: {exc.strerror or exc}")]) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise ConfigError(path, [(f"line {line}", f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at column "
                                                  f"{column}): save the file as UTF-8")]) from None
    try:
        loader = _StrictLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(path, [(f"line {line}", f"is not valid YAML: {exc.reason} "
                                                  f"(character U+{exc.character:04X})")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = exc.problem or exc.context
        if exc.problem and exc.context:
            problem = f"{exc.problem} ({exc.context})"
        raise ConfigError(path, [(where, f"is not valid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, [("(file)", f"is not valid YAML: {exc}")]) from None


def load_config(path: Path | str) -> EnvConfig:
    """Read and validate one environment file; raise ConfigError naming the file and field."""
    path = Path(path)
    return parse_config(read_yaml(path), path, path.stem)


def environment_names(config_dir: Path = CONFIG_DIR) -> list[str]:
    """The environments defined in `config/`, sorted."""
    return sorted(p.stem for p in config_dir.glob("*.yaml") if p.is_file())


def load_environment(name: str, config_dir: Path = CONFIG_DIR) -> EnvConfig:
    """Load `config/<name>.yaml`; an unknown name is a ConfigError listing the known ones."""
    path = config_dir / f"{name}.yaml"
    if Path(name).name != name or name.startswith(".") or not path.is_file():
        known = ", ".join(environment_names(config_dir)) or "none"
        raise ConfigError(path, [("(file)", f"no such environment {name!r}; known: {known}")])
    return load_config(path)
