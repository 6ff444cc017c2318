"""Benchmark of the edge handlers: warm viewer-request latency, Cache-Control pattern worst cases, DynamoDB reads per TTL window, inlined code size.

Run: python tests/bench_edge.py   (prints the figures; exit 1 if a target is missed)
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import re
import statistics
import sys
import time
import zipfile
from pathlib import Path

# A script under tests/ sees tests/ on sys.path, not the project root that holds the packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from templates.config import load_environment  # noqa: E402
from templates.edge_functions import bake_source  # noqa: E402
from templates.edge_functions import edge_handler  # noqa: E402

TARGET_MEDIAN_US = 50.0
TARGET_WORST_ORIGIN_RESPONSE_MS = 10.0  # "a few milliseconds", whatever the configuration and the path
VIEWER_TRIGGER_LIMIT = 1024 * 1024  # bytes, compressed package (Lambda@Edge quotas)
TABLE = "bench-edge-config"


def site_config(redirect_rules: int, experiments: int = 5) -> dict:
    """Half exact and half prefix redirects, `experiments` experiments, SPA fallback on."""
    half = redirect_rules // 2
    return {
        "redirects": (
            [{"from": f"/old/page-{i}.html", "to": f"/new/page-{i}/", "status": 301} for i in range(half)]
            + [{"prefix": f"/section-{i}/legacy", "to": f"https://archive-{i}.example.com", "status": 302}
               for i in range(redirect_rules - half)]
        ),
        "rewrites": {"spa_fallback": True, "spa_exclude_prefixes": ["/api", "/docs"]},
        "experiments": [
            {"name": f"exp-{i}", "prefix": f"/area-{i}",
             "variants": [{"name": "control", "weight": 70},
                          {"name": "b", "weight": 20, "origin_prefix": f"/_v/{i}/b"},
                          {"name": "c", "weight": 10, "origin_prefix": f"/_v/{i}/c"}]}
            for i in range(experiments)
        ],
    }


def request_mix(count: int, redirect_rules: int) -> list[dict]:
    """Viewer-request events: exact and prefix redirects, deep misses, SPA routes, experiments with and without cookies."""
    half = max(redirect_rules // 2, 1)
    shapes = [
        lambda n: (f"/old/page-{n % half}.html", "utm_source=news", None),
        lambda n: (f"/section-{n % half}/legacy/2019/07/post-{n}.html", "", None),
        lambda n: (f"/static/js/app.{n:08x}.js", "", None),
        lambda n: (f"/products/category-{n % 50}/item-{n}/reviews", "page=2", None),
        lambda n: (f"/area-{n % 5}/checkout/step-{n % 3}.html", "", None),
        lambda n: (f"/area-{n % 5}/index.html", "", f"theme=dark; edge-ab-exp-{n % 5}=b; session={n}"),
        lambda n: (f"/docs/guide/caf%C3%A9-{n}/", "", None),
        lambda n: ("/", "", "a=1; b=2; c=3"),
    ]
    events = []
    for n in range(count):
        uri, query, cookie = shapes[n % len(shapes)](n)
        event = copy.deepcopy(_EVENT)
        request = event["Records"][0]["cf"]["request"]
        request.update(uri=uri, querystring=query, clientIp=f"198.51.{n % 200}.{n % 250}" if n % 3 else "2001:db8::7")
        if cookie:
            request["headers"]["cookie"] = [{"key": "Cookie", "value": cookie}]
        events.append(event)
    return events


_EVENT = {"Records": [{"cf": {
    "config": {"distributionDomainName": "d111111abcdef8.cloudfront.net", "distributionId": "EDFDVBD6EXAMPLE",
               "eventType": "viewer-request", "requestId": "bench"},
    "request": {"clientIp": "", "headers": {
        "host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}],
        "user-agent": [{"key": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64)"}],
        "accept": [{"key": "accept", "value": "*/*"}]},
        "method": "GET", "querystring": "", "uri": "/"}}}]}


class StaticCache:
    """A warm cache: the compiled config is already in memory."""

    def __init__(self, config: edge_handler.CompiledConfig):
        self.config = config

    def get(self) -> edge_handler.CompiledConfig:
        return self.config


def compiled(doc: dict) -> edge_handler.CompiledConfig:
    normalized, problems = edge_handler.validate_config(doc)
    assert not problems, problems[:3]
    return edge_handler.compile_config(normalized, 1, edge_handler.content_hash(edge_handler.canonical_json(normalized)))


def time_requests(redirect_rules: int, count: int) -> list[float]:
    """Microseconds per warm viewer_request call, through the real entry point and its config cache."""
    clock = [0.0]
    cache = edge_handler.ConfigCache({"table_name": "", "table_regions": [], "cache_ttl_seconds": 60,
                                      "environment": "bench"}, clock=lambda: clock[0])
    cache.current = compiled(site_config(redirect_rules))
    edge_handler._cache = cache
    events = request_mix(count, redirect_rules)
    for event in events[:2000]:  # warm-up on copies, so the timed events are untouched
        edge_handler.viewer_request(copy.deepcopy(event), None)
    timings = []
    counter = time.perf_counter_ns
    handler = edge_handler.viewer_request
    for event in events:
        start = counter()
        handler(event, None)
        timings.append((counter() - start) / 1000)
    return timings


def count_reads(requests: int, spacing_s: float, ttl: int) -> tuple[int, int]:
    """(GetItem calls, TTL windows) over `requests` simulated requests `spacing_s` apart, against moto."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "config_id", "KeyType": "HASH"},
                       {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "config_id", "AttributeType": "S"},
                                  {"AttributeName": "version", "AttributeType": "N"}])
        normalized, _ = edge_handler.validate_config(site_config(200))
        content = edge_handler.canonical_json(normalized)
        client.put_item(TableName=TABLE, Item={
            "config_id": {"S": "bench"}, "version": {"N": "0"}, "config_version": {"N": "1"},
            "schema_version": {"N": "1"}, "content": {"S": content},
            "content_hash": {"S": edge_handler.content_hash(content)}})
        calls = [0]

        class Counting:
            def __init__(self, region: str):
                self.client = boto3.client("dynamodb", region_name=region)

            def get_item(self, **kwargs):
                calls[0] += 1
                return self.client.get_item(**kwargs)

        clock = [0.0]
        edge_handler._cache = edge_handler.ConfigCache(
            {"table_name": TABLE, "table_regions": ["us-west-2"], "cache_ttl_seconds": ttl, "environment": "bench"},
            clock=lambda: clock[0], client_factory=Counting, here="us-east-1")
        event = request_mix(1, 200)[0]
        with contextlib.redirect_stdout(io.StringIO()):  # the handler logs each load to stdout
            for _ in range(requests):
                edge_handler.viewer_request(copy.deepcopy(event), None)
                clock[0] += spacing_s
        assert edge_handler._cache.current is not None and edge_handler._cache.current.version == 1
    return calls[0], math.ceil(requests * spacing_s / ttl)


# Patterns that make a backtracking matcher (Python's re) take from seconds to hours, with the path
# that does it (the same ones as tests/edge/test_path_patterns.py).
WORST_PATTERNS = [
    (r"^/(a+)+$", "/" + "a" * 30 + "!", "/ + 30 a + !"),
    (r"^/(a|aa)+$", "/" + "a" * 30 + "!", "/ + 30 a + !"),
    (r"a*a*a*a*a*b", "a" * 1025, "1,025 a"),
    (r"(.*)*x\.js$", "/" + "a" * 1024, "/ + 1,024 a"),
    (r"(\w+\d*)+$", "a1" * 512 + "!", "512 a1 + !"),
]


def median_us(action, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        action()
        timings.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(timings)


def origin_response_us(doc: dict, uri: str, repeat: int) -> float:
    """Median µs of the origin-response entry point on an uncached 200 response for `uri`."""
    edge_handler._cache = StaticCache(compiled(doc))
    event = copy.deepcopy(_ORIGIN_EVENT)
    event["Records"][0]["cf"]["request"]["uri"] = uri
    events = [copy.deepcopy(event) for _ in range(repeat)]
    return median_us(lambda: edge_handler.origin_response(events.pop(), None), repeat)


_ORIGIN_EVENT = {"Records": [{"cf": {
    "config": {"distributionDomainName": "d111111abcdef8.cloudfront.net", "distributionId": "EDFDVBD6EXAMPLE",
               "eventType": "origin-response", "requestId": "bench"},
    "request": {"clientIp": "203.0.113.178", "headers": {}, "method": "GET", "querystring": "", "uri": "/"},
    "response": {"status": "200", "statusDescription": "OK", "headers": {
        "content-type": [{"key": "Content-Type", "value": "application/javascript"}]}}}}]}


def pattern_figures() -> bool:
    """Print the Cache-Control matcher's worst cases; True if the worst configuration stays under target."""
    print("Cache-Control patterns (origin-response), one table step per character, no backtracking:")
    for pattern, path, label in WORST_PATTERNS:
        matcher = edge_handler.compile_path_pattern("path_regex", pattern)
        print(f"  {pattern:<16} on {label:<14} {median_us(lambda: matcher.search(path), 200):8.1f} µs")
    backtracking = median_us(lambda: re.search(r"^/(a+)+$", "/" + "a" * 18 + "!"), 3) / 1000
    print(f"  (Python's re: ^/(a+)+$ on / + 18 a + ! takes {backtracking:.0f} ms, doubling with each further a)")
    typical = origin_response_us({}, "/static/js/app.3f9a1c2b.js", 2000)
    print(f"  default rules, /static/js/app.3f9a1c2b.js, through origin_response: {typical:.1f} µs")
    worst_doc = {"cache_control": [{"path_regex": f"[.-][0-9a-f]{{8,}}\\.x{i}$", "value": "max-age=60"}
                                   for i in range(100)]}
    worst = origin_response_us(worst_doc, "/" + "a" * 1024, 50) / 1000
    ok = worst <= TARGET_WORST_ORIGIN_RESPONSE_MS
    print(f"  worst configuration: 100 rules that each read the whole path, a 1,025-byte path (the longest\n"
          f"  that can be a 2xx from S3) that none matches: {worst:.2f} ms   "
          f"target: <= {TARGET_WORST_ORIGIN_RESPONSE_MS:.0f} ms  [{'ok' if ok else 'MISSED'}]\n")
    return ok


def package_sizes() -> tuple[int, int]:
    """(bytes of the baked index.py, bytes of the zip Lambda builds from it) for the prod environment."""
    env = load_environment("prod")
    source = bake_source({"table_name": env.edge_config_table_name, "table_regions": list(env.table_regions),
                          "cache_ttl_seconds": env.edge_config_cache_ttl_seconds, "environment": env.environment})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", source)
    return len(source.encode()), len(buffer.getvalue())


def main() -> int:
    ok = True
    print(f"edge handler benchmark (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")

    timings = time_requests(200, 50_000)
    median = statistics.median(timings)
    p99 = statistics.quantiles(timings, n=100)[98]
    ok &= median <= TARGET_MEDIAN_US
    print("warm viewer-request, 200 redirect rules (100 exact, 100 prefix), 5 experiments, 50,000 requests:")
    print(f"  median {median:.1f} µs   p99 {p99:.1f} µs   target: median <= {TARGET_MEDIAN_US:.0f} µs  "
          f"[{'ok' if median <= TARGET_MEDIAN_US else 'MISSED'}]\n")

    print("lookup cost against the number of redirect rules (median µs, same request mix):")
    medians = {}
    for rules in (20, 200, 2_000, 10_000):
        medians[rules] = statistics.median(time_requests(rules, 20_000))
        print(f"  {rules:>6} rules: {medians[rules]:6.1f} µs")
    growth = medians[10_000] / medians[20]
    print(f"  500x the rules costs {growth:.2f}x the time: exact rules are one dict lookup, prefix rules one\n"
          "  dict lookup per path segment, so the cost follows the path depth, not the rule count\n")
    ok &= growth < 2.0

    ok &= pattern_figures()

    requests, spacing, ttl = 100_000, 0.01, 60
    reads, windows = count_reads(requests, spacing, ttl)
    ok &= reads <= windows
    print(f"DynamoDB reads over {requests:,} simulated requests, {spacing * 1000:.0f} ms apart "
          f"({requests * spacing:.0f} s), TTL {ttl} s:")
    print(f"  {reads} GetItem calls for {windows} TTL windows  target: at most one per window  "
          f"[{'ok' if reads <= windows else 'MISSED'}]\n")

    source_bytes, zip_bytes = package_sizes()
    ok &= zip_bytes < VIEWER_TRIGGER_LIMIT // 10
    print("inlined code (prod settings baked in):")
    print(f"  index.py {source_bytes:,} bytes, zipped {zip_bytes:,} bytes = "
          f"{100 * zip_bytes / VIEWER_TRIGGER_LIMIT:.1f}% of the 1 MB viewer-trigger limit")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
