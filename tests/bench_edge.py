"""Benchmark of the edge handlers: cold start, warm viewer-request latency, Cache-Control pattern worst cases,
DynamoDB reads per TTL window, package size.

Run: python tests/bench_edge.py [--python PATH] [--source]   (prints the figures; exit 1 if a target is missed)

The cold starts run each function as `deploy.py publish` packages it (rollout/edge_package.py): index.py
and its bytecode, compiled by the cold starts' interpreter. --python runs them with another interpreter,
such as the Lambda runtime's version (python3.13), which needs boto3 installed for the comparison.
--source also times them from source alone, as a package published without python3.13 runs (for information).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import io
import json
import math
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from pathlib import Path
from typing import Any

# A script under tests/ sees tests/ on sys.path, not the project root that holds the packages; the
# test endpoints (tests/edge/dynamodb_endpoints.py) import by name.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent / "edge"))

from dynamodb_endpoints import FakeDynamoDB, LocalPKI, make_pki  # noqa: E402

from edgeconfig.model import MAX_CONTENT_BYTES  # noqa: E402
from rollout.edge_package import build_package  # noqa: E402
from templates.config import load_environment  # noqa: E402
from templates.edge_functions import FUNCTIONS, bake_source  # noqa: E402
from templates.edge_functions import handler_source as edge_handler_source  # noqa: E402
from templates.edge_functions import edge_handler  # noqa: E402

TARGET_MEDIAN_US = 5.0
# The handler as it was when the cold-start issue was filed; its 3.4 µs warm-path figure is of this code.
# Timed in the same run as today's, taking turns with it, it shows whether the warm path got slower
# whatever the host's speed (the absolute figure moves with the host: this 2-CPU VM varies by 1.5x).
BASELINE_COMMIT = "6256308"
BASELINE_FIGURE_US = 3.4  # that code's median on the host where the issue was filed (this bench, same mix)
TARGET_WORST_ORIGIN_RESPONSE_MS = 10.0  # "a few milliseconds", whatever the configuration and the path
TARGET_COLD_RATIO = 0.15
COLD_RUNS = 9
LAMBDA_MB, ONE_VCPU_MB = 128, 1769  # Lambda CPU is proportional to memory: 1,769 MB is one vCPU
VIEWER_TRIGGER_LIMIT = 1024 * 1024  # bytes, compressed package (Lambda@Edge quotas)
TABLE = "bench-edge-config"
CONFIG_ID = "bench"
# Modules the functions must not load on any trigger's cold path.
HEAVY_MODULES = ("boto3", "botocore", "urllib3", "s3transfer", "http", "email", "dataclasses", "typing", "inspect",
                 "ssl", "socket")


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


def compiled(doc: dict, handler_module: Any = edge_handler) -> Any:
    normalized, problems = handler_module.validate_config(doc)
    assert not problems, problems[:3]
    return handler_module.compile_config(normalized, 1, handler_module.content_hash(
        handler_module.canonical_json(normalized)))


def time_requests(redirect_rules: int, count: int, handler_modules: tuple = (edge_handler,),
                  chunk: int = 400) -> list[list[float]]:
    """Microseconds per warm viewer_request call of each module, through its real entry point and config cache.

    With several modules, they take turns every `chunk` requests, each on its own copy of the same
    request mix, so a host that speeds up or slows down during the run does so for all of them.
    """
    events = []
    for module in handler_modules:
        cache = module.ConfigCache({"table_name": "", "table_regions": [], "cache_ttl_seconds": 60,
                                    "environment": "bench"}, clock=lambda: 0.0)
        cache.current = compiled(site_config(redirect_rules), module)
        module._cache = cache
        for event in request_mix(2000, redirect_rules):  # warm-up
            module.viewer_request(event, None)
        events.append(request_mix(count, redirect_rules))
    timings: list[list[float]] = [[] for _ in handler_modules]
    counter = time.perf_counter_ns
    for start in range(0, count, chunk):
        turn = (start // chunk) % len(handler_modules)  # who goes first rotates too
        for i in [*range(turn, len(handler_modules)), *range(turn)]:
            handler, times = handler_modules[i].viewer_request, timings[i]
            for event in events[i][start:start + chunk]:
                begin = counter()
                handler(event, None)
                times.append((counter() - begin) / 1000)
    return timings


def handler_at_baseline() -> Any:
    """edge_handler.py as it was at BASELINE_COMMIT, loaded as a module of its own; None without git history."""
    try:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{BASELINE_COMMIT}:templates/edge_functions/edge_handler.py"],
            capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("edge_handler_at_baseline")
    sys.modules[module.__name__] = module  # dataclasses looks its module up while making the classes
    exec(compile(source, f"{BASELINE_COMMIT}:edge_handler.py", "exec"), module.__dict__)
    return module


def current_item(redirect_rules: int, doc: dict | None = None) -> dict:
    """The current item (sort key 0) of the bench site's configuration (or `doc`), as `edge-config push` writes it."""
    normalized, problems = edge_handler.validate_config(site_config(redirect_rules) if doc is None else doc)
    assert not problems, problems[:3]
    content = edge_handler.canonical_json(normalized)
    return {"config_id": {"S": CONFIG_ID}, "version": {"N": "0"}, "config_version": {"N": "1"},
            "schema_version": {"N": "1"}, "content": {"S": content},
            "content_hash": {"S": edge_handler.content_hash(content)}}


def count_reads(server: FakeDynamoDB, pki: LocalPKI, requests: int, spacing_s: float,
                ttl: int) -> tuple[int, int, int]:
    """(GetItem calls, TLS connections, TTL windows) over `requests` simulated requests `spacing_s` apart."""
    # The credentials Lambda gives a function; the stand-in checks the signature against the secret.
    os.environ.update(AWS_ACCESS_KEY_ID="AKIDBENCH", AWS_SECRET_ACCESS_KEY=server.secret_key,
                      AWS_SESSION_TOKEN="bench-session-token")
    clock = [0.0]
    edge_handler._cache = edge_handler.ConfigCache(
        {"table_name": TABLE, "table_regions": ["us-west-2"], "cache_ttl_seconds": ttl, "environment": CONFIG_ID},
        clock=lambda: clock[0], here="us-east-1",
        client_factory=lambda region: edge_handler.DynamoDBClient(region, endpoint=server.endpoint,
                                                                  tls_context=pki.client_context()))
    calls, connections = len(server.requests), server.connections
    event = request_mix(1, 200)[0]
    with contextlib.redirect_stdout(io.StringIO()):  # the handler logs each load to stdout
        for _ in range(requests):
            edge_handler.viewer_request(copy.deepcopy(event), None)
            clock[0] += spacing_s
    assert edge_handler._cache.current is not None and edge_handler._cache.current.version == 1
    return (len(server.requests) - calls, server.connections - connections,
            math.ceil(requests * spacing_s / ttl))


# One cold start: a fresh interpreter imports the baked index.py from a directory without bytecode
# (Lambda compiles inline code on every cold start: /var/task is read-only) and handles one event,
# which reads the configuration. Only the endpoint and the trusted root differ from a deployed
# function: the read goes to the local stand-in, whose test CA is the one root looked for in the store.
_COLD_START = """
import json, sys, time
sys.path.insert(0, {directory!r})
started = time.process_time()
import index
imported = time.process_time()
index.configure(index.BAKED_SETTINGS, client_factory=lambda region: index.DynamoDBClient(
    region, endpoint={endpoint!r}, tls_context=index.aws_tls_context(frozenset([{ca_sha256!r}]))))
result = index.{handler}(json.loads({event!r}))
finished = time.process_time()
cache = index.current_cache()
print(json.dumps({{"cpu_ms": (finished - started) * 1000, "import_ms": (imported - started) * 1000,
                  "version": cache.current.version if cache.current else None, "reads": cache.reads,
                  "modules": sorted(sys.modules)}}))
"""

_BOTO3_CLIENT = """
import json, time
started = time.process_time()
import boto3
boto3.client("dynamodb")
print(json.dumps({"cpu_ms": (time.process_time() - started) * 1000}))
"""


def trigger_event(event_type: str) -> dict:
    """A CloudFront event for `event_type` whose request hits the first redirect rule of site_config."""
    event = copy.deepcopy(_EVENT)
    cf = event["Records"][0]["cf"]
    cf["config"]["eventType"] = event_type
    cf["request"].update(uri="/old/page-0.html", clientIp="198.51.100.7")
    if event_type != "viewer-request":
        cf["response"] = {"status": "200", "statusDescription": "OK", "headers": {}}
    return event


def run_python(python: str, program: str, env: dict) -> dict:
    """The JSON that `program` prints, run by a fresh interpreter."""
    out = subprocess.run([python, "-c", program], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{out.stderr}")
    return json.loads(out.stdout.splitlines()[-1])


def function_directories(work: Path, bytecode_python: str | None = None) -> dict[str, Path]:
    """A directory per trigger holding what Lambda extracts from that function's package into /var/task: the
    package publish builds (index.py baked with the bench table's settings, and with `bytecode_python` its
    bytecode as that interpreter compiles it, checked against the source by hash)."""
    settings = {"table_name": TABLE, "table_regions": ["us-west-2"], "cache_ttl_seconds": 60, "environment": CONFIG_ID}
    directories = {}
    for spec in FUNCTIONS:
        directory = work / spec.key
        shutil.rmtree(directory, ignore_errors=True)
        package = build_package(bake_source(settings, spec.event_type), bytecode_python)
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            archive.extractall(directory)
        directories[spec.event_type] = directory
    return directories


def cold_start_environment(pki: LocalPKI, work: Path) -> dict:
    """The environment of a cold-start process: Lambda's variables, and the system's CA bundle with the test CA
    added, so finding the trusted root scans as many as on Lambda."""
    bundle = work / "ca-bundle.pem"
    bundle.write_bytes(Path(ssl.get_default_verify_paths().cafile).read_bytes() + b"\n" + pki.ca_file.read_bytes())
    return {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "SSL_CERT_FILE": str(bundle),
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "AKIDBENCH",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "bench-session-token",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def cold_starts(python: str, server: FakeDynamoDB, pki: LocalPKI, work: Path,
                bytecode: bool = True) -> tuple[dict[str, list[dict]], list[float], dict]:
    """(runs per trigger, boto3 CPU ms per run, environment) for COLD_RUNS interleaved rounds of the functions
    as published with bytecode, or without (`bytecode` False: each cold start compiles index.py)."""
    directories = function_directories(work, python if bytecode else None)
    env = cold_start_environment(pki, work)
    runs: dict[str, list[dict]] = {spec.handler: [] for spec in FUNCTIONS}
    boto3_ms = []
    for _ in range(COLD_RUNS):
        boto3_ms.append(run_python(python, _BOTO3_CLIENT, env)["cpu_ms"])
        for spec in FUNCTIONS:
            program = _COLD_START.format(directory=str(directories[spec.event_type]), endpoint=server.endpoint,
                                         ca_sha256=pki.ca_sha256, handler=spec.handler.partition(".")[2],
                                         event=json.dumps(trigger_event(spec.event_type)))
            run = run_python(python, program, env)
            assert run["version"] == 1 and run["reads"] == 1, f"{spec.event_type}: the configuration was not read"
            runs[spec.handler].append(run)
    return runs, boto3_ms, env


# The same cold start taken apart: the standard-library imports index.py makes, getting its code as import
# does (reading the checked bytecode, or compiling the source), running its body, then the first request's
# steps one by one (CPU ms each).
_COLD_START_PARTS = """
import importlib.machinery, json, sys, time, types
parts, clock = {{}}, time.process_time
mark = clock()
def lap(name):
    global mark
    now = clock()
    parts[name] = (now - mark) * 1000
    mark = now
for name in {modules!r}:
    __import__(name)
lap("standard-library imports")
code = importlib.machinery.SourceFileLoader("index", {path!r}).get_code("index")
lap("index.py's code: its bytecode (or compiling it)")
index = types.ModuleType("index")
sys.modules["index"] = index
exec(code, index.__dict__)
lap("running the module body")
context = index.aws_tls_context(frozenset([{ca_sha256!r}]))
lap("TLS context (trusted roots from the store)")
client = index.DynamoDBClient("us-west-2", endpoint={endpoint!r}, tls_context=context)
client._connect()
lap("TCP connect and TLS handshake")
item = client.get_item({table!r}, {{"config_id": {{"S": {config_id!r}}}, "version": {{"N": "0"}}}})["Item"]
lap("GetItem: sign, send, read the response")
config = index.parse_item(item)
lap("validating and compiling the configuration")
cf = json.loads({event!r})["Records"][0]["cf"]
{handling}
lap("handling the request")
print(json.dumps(parts))
"""

# What each trigger's handler does with the loaded configuration.
_HANDLING = {
    "viewer-request": 'index.route_viewer_request(config, cf["request"])',
    "origin-response": 'index.cache_control_for(config, cf["request"], cf["response"])',
    "viewer-response": 'index.experiment_cookie(config, cf["request"])',
}


def cold_start_parts(python: str, server: FakeDynamoDB, pki: LocalPKI, work: Path, env: dict,
                     trigger: str = "viewer-request", runs: int = COLD_RUNS) -> dict[str, float]:
    """Median CPU ms of each step of the `trigger` function's cold start, over `runs` fresh processes."""
    index = work / trigger.replace("-", "_") / "index.py"
    tree = ast.parse(index.read_text(encoding="utf-8"))
    modules = sorted({alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
                     | {node.module for node in tree.body if isinstance(node, ast.ImportFrom)} - {"__future__"})
    program = _COLD_START_PARTS.format(path=str(index), ca_sha256=pki.ca_sha256, modules=modules,
                                       endpoint=server.endpoint, table=TABLE, config_id=CONFIG_ID,
                                       event=json.dumps(trigger_event(trigger)), handling=_HANDLING[trigger])
    results = [run_python(python, program, env) for _ in range(runs)]
    return {name: statistics.median(result[name] for result in results) for name in results[0]}


def import_profile(python: str, work: Path, env: dict, top: int = 12) -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, module) of `python -X importtime -c "import index"` for the viewer-request
    function, largest cumulative first."""
    out = subprocess.run([python, "-X", "importtime", "-c", "import index"], cwd=work / "viewer_request", env=env,
                         capture_output=True, text=True, check=True)
    rows = []
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, cumulative, name = line.removeprefix("import time:").split("|")
            rows.append((int(own), int(cumulative), name.rstrip()))
    return sorted(rows, key=lambda row: -row[1])[:top]


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


def package_sizes(python: str) -> dict[str, tuple[int, int, int]]:
    """Per trigger: (bytes of its baked index.py, bytes without its empty lines, bytes of its package with
    bytecode compiled by `python`) for the prod environment."""
    env = load_environment("prod")
    settings = {"table_name": env.edge_config_table_name, "table_regions": list(env.table_regions),
                "cache_ttl_seconds": env.edge_config_cache_ttl_seconds, "environment": env.environment}
    sizes = {}
    for spec in FUNCTIONS:
        source = bake_source(settings, spec.event_type)
        code = "".join(line for line in source.splitlines(keepends=True) if line.strip())
        sizes[spec.event_type] = (len(source.encode()), len(code.encode()), len(build_package(source, python)))
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the cold starts (default: this one); it needs boto3 for the comparison")
    parser.add_argument("--source", action="store_true",
                        help="also time the cold starts from source alone (a package published without python3.13)")
    args = parser.parse_args()
    python = args.python
    ok = True
    print(f"edge handler benchmark (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = make_pki(work)
        server = FakeDynamoDB(pki.server_files, secret_key="testing")
        server.put(TABLE, current_item(200))
        try:
            ok &= report_cold_start(python, server, pki, work)
            if args.source:
                report_source_cold_start(python, server, pki, work)
            report_large_configurations(python, server, pki, work)
            ok &= report_warm_path()
            ok &= pattern_figures()
            ok &= report_reads(server, pki)
        finally:
            server.close()

    print("packages, each function's index.py (prod settings baked in; empty lines keep the line numbers of\n"
          f"edge_handler.py, {len(edge_handler_source().encode()):,} bytes) and its bytecode, zipped:")
    for trigger, (source_bytes, code_bytes, zip_bytes) in package_sizes(python).items():
        ok &= zip_bytes < VIEWER_TRIGGER_LIMIT // 10
        print(f"  {trigger:16} {source_bytes:7,} bytes ({code_bytes:,} without empty lines), package {zip_bytes:,} "
              f"bytes = {100 * zip_bytes / VIEWER_TRIGGER_LIMIT:.1f}% of the 1 MB viewer-trigger limit")
    return 0 if ok else 1


def _verdict(met: bool) -> str:
    return "[ok]" if met else "[MISSED]"


def report_cold_start(python: str, server: FakeDynamoDB, pki: LocalPKI, work: Path) -> bool:
    """Print the cold-start figures; True if every target is met."""
    version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                             text=True, check=True).stdout.strip()
    runs, boto3_ms, env = cold_starts(python, server, pki, work)
    boto3_median = statistics.median(boto3_ms)
    print(f"cold start (Python {version}): a fresh process imports index.py from the function's package as\n"
          f"published (its bytecode beside it, compiled by this interpreter and checked against the source), and\n"
          f"handles one event, which reads the configuration (200 redirect rules, 5 experiments) over HTTPS.\n"
          f"CPU time, median of {COLD_RUNS} runs; at {LAMBDA_MB} MB a viewer waits about CPU x "
          f"{ONE_VCPU_MB}/{LAMBDA_MB}:")
    ok, worst = True, 0.0
    for spec in FUNCTIONS:
        cpu = statistics.median(run["cpu_ms"] for run in runs[spec.handler])
        imported = statistics.median(run["import_ms"] for run in runs[spec.handler])
        heavy = sorted({m for run in runs[spec.handler] for m in run["modules"] if m.split(".")[0] in HEAVY_MODULES})
        ok &= not heavy
        worst = max(worst, cpu)
        print(f"  {spec.event_type:16} {cpu:5.1f} ms (import {imported:4.1f} ms)  ~{_at_128_mb(cpu)} at {LAMBDA_MB} MB"
              f"   heavy modules loaded: {', '.join(heavy) or 'none'}")
    print(f"  boto3 client     {boto3_median:5.1f} ms                 ~{_at_128_mb(boto3_median)} at {LAMBDA_MB} MB"
          f"   (import boto3; boto3.client(\"dynamodb\"))")
    ratio = worst / boto3_median
    ok &= ratio <= TARGET_COLD_RATIO
    print(f"  slowest trigger / boto3 client = {ratio:.3f}   target: <= {TARGET_COLD_RATIO}  "
          f"{_verdict(ratio <= TARGET_COLD_RATIO)}")
    print("  where the CPU goes (taken apart, median ms):   " + "".join(f"{spec.event_type:>17}" for spec in FUNCTIONS))
    parts = {spec.event_type: cold_start_parts(python, server, pki, work, env, spec.event_type) for spec in FUNCTIONS}
    for name in parts["viewer-request"]:
        print(f"    {name:44}" + "".join(f"{parts[spec.event_type][name]:17.1f}" for spec in FUNCTIONS))
    print("\nimport of index.py, python -X importtime (µs, largest cumulative first):")
    for own, cumulative, name in import_profile(python, work, env):
        print(f"  {cumulative:7,} {own:7,}  {name}")
    print()
    return ok


def report_source_cold_start(python: str, server: FakeDynamoDB, pki: LocalPKI, work: Path) -> None:
    """Print the cold starts again from source alone: a package published where no interpreter of the runtime
    was found (deploy.py says so) runs this way. For information."""
    runs, boto3_ms, _ = cold_starts(python, server, pki, work, bytecode=False)
    boto3_median = statistics.median(boto3_ms)
    print("the same cold start from a package without bytecode (published without python3.13): each cold start\n"
          "compiles index.py. For information; the target applies to the packages as published with bytecode.")
    for spec in FUNCTIONS:
        cpu = statistics.median(run["cpu_ms"] for run in runs[spec.handler])
        print(f"  {spec.event_type:16} {cpu:5.1f} ms  ~{_at_128_mb(cpu)} at {LAMBDA_MB} MB   "
              f"/ boto3 client ({boto3_median:.1f} ms) = {cpu / boto3_median:.3f}")
    function_directories(work, python)  # back to the packages as published
    print()


def short_rules_config(rules: int) -> dict:
    """`rules` exact redirects with the shortest paths: the most rules an item of MAX_CONTENT_BYTES holds."""
    return {"redirects": [{"from": f"/{i}", "to": f"/n{i}"} for i in range(rules)]}


def stored_bytes(doc: dict) -> int:
    return len(edge_handler.canonical_json(edge_handler.validate_config(doc, operator_checks=False)[0]).encode())


def report_large_configurations(python: str, server: FakeDynamoDB, pki: LocalPKI, work: Path) -> None:
    """Print viewer-request cold starts with the largest configurations, and what validation costs at the edge."""
    low, high = 1, 10_000  # the most short rules whose stored content fits an item
    while low < high:
        middle = (low + high + 1) // 2
        fits = stored_bytes(short_rules_config(middle)) <= MAX_CONTENT_BYTES
        low, high = (middle, high) if fits else (low, middle - 1)
    configs = [(f"{low:,} short exact redirects, the most that fit the {MAX_CONTENT_BYTES:,}-byte item limit",
                short_rules_config(low)),
               ("10,000 redirects (the rule limit), 5 experiments: over the item limit, stored here all the same",
                site_config(10_000))]
    function_directories(work, python)
    env = cold_start_environment(pki, work)
    print("large configurations: a viewer-request cold start (median of 5 runs), and the part that validates and\n"
          "compiles the configuration (the edge checks its own sections, without the CLI's redirect-chain analysis):")
    try:
        for label, doc in configs:
            server.put(TABLE, current_item(0, doc))
            parts = cold_start_parts(python, server, pki, work, env, runs=5)
            total = sum(parts.values())
            validating = parts["validating and compiling the configuration"]
            normalized = edge_handler.validate_config(doc, operator_checks=False)[0]
            chains = median_us(lambda: edge_handler._check_redirect_chains(list(enumerate(normalized["redirects"])),
                                                                          edge_handler._Problems({})), 3) / 1000
            print(f"  {label}: {stored_bytes(doc):,} bytes stored\n"
                  f"    {total:6.1f} ms in all (~{_at_128_mb(total)} at {LAMBDA_MB} MB), of which validating and "
                  f"compiling {validating:.1f} ms (~{_at_128_mb(validating)});\n"
                  f"    the CLI's redirect-chain and loop analysis, not run at the edge: {chains:.1f} ms more "
                  "(warm process)")
    finally:
        server.put(TABLE, current_item(200))
    print()


def _at_128_mb(cpu_ms: float) -> str:
    return f"{cpu_ms * ONE_VCPU_MB / LAMBDA_MB / 1000:.2f} s"


def report_warm_path() -> bool:
    """Print the warm-path figures; True if every target is met."""
    baseline = handler_at_baseline()
    modules = (edge_handler,) if baseline is None else (edge_handler, baseline)
    timings = time_requests(200, 50_000, modules)
    median = statistics.median(timings[0])
    p99 = statistics.quantiles(timings[0], n=100)[98]
    print("warm viewer-request, 200 redirect rules (100 exact, 100 prefix), 5 experiments, 50,000 requests:")
    if baseline is None:
        ok = median <= TARGET_MEDIAN_US
        print(f"  median {median:.1f} µs   p99 {p99:.1f} µs   target: median <= {TARGET_MEDIAN_US:.0f} µs  "
              f"{_verdict(ok)}")
        print(f"  (the code at {BASELINE_COMMIT}, before the cold-start work, is not in this checkout's history:\n"
              "  the figure above is this host's, not comparable with the issue's)\n")
    else:
        # The target is the issue's: no slower than its code, which measured 3.4 µs there, and at most 5 µs
        # there. Both are judged in this run, against that code taking turns with today's on this host.
        before = statistics.median(timings[1])
        scaled = median * BASELINE_FIGURE_US / before
        ok = median <= before and scaled <= TARGET_MEDIAN_US
        print(f"  median {median:.1f} µs   p99 {p99:.1f} µs on this host "
              f"({'within' if median <= TARGET_MEDIAN_US else 'over'} {TARGET_MEDIAN_US:.0f} µs here)")
        print(f"  the handler at {BASELINE_COMMIT} (before the cold-start work), taking turns with today's every 400\n"
              f"  requests: median {before:.1f} µs here, {BASELINE_FIGURE_US} µs where the issue was filed; "
              f"today's takes {median / before:.2f}x its time\n"
              f"  today's on the issue's host, scaled by that ratio: {scaled:.1f} µs   "
              f"target: no slower than before and <= {TARGET_MEDIAN_US:.0f} µs  {_verdict(ok)}\n")

    print("lookup cost against the number of redirect rules (median µs, same request mix):")
    medians = {}
    for rules in (20, 200, 2_000, 10_000):
        medians[rules] = statistics.median(time_requests(rules, 20_000)[0])
        print(f"  {rules:>6} rules: {medians[rules]:6.1f} µs")
    growth = medians[10_000] / medians[20]
    print(f"  500x the rules costs {growth:.2f}x the time: exact rules are one dict lookup, prefix rules one\n"
          "  dict lookup per path segment, so the cost follows the path depth, not the rule count\n")
    return ok and growth < 2.0


def report_reads(server: FakeDynamoDB, pki: LocalPKI) -> bool:
    """Print the DynamoDB reads per TTL window; True if at most one per window, over one connection."""
    requests, spacing, ttl = 100_000, 0.01, 60
    reads, connections, windows = count_reads(server, pki, requests, spacing, ttl)
    ok = reads <= windows and connections == 1
    print(f"DynamoDB reads over {requests:,} simulated requests, {spacing * 1000:.0f} ms apart "
          f"({requests * spacing:.0f} s), TTL {ttl} s:")
    print(f"  {reads} GetItem calls for {windows} TTL windows, over {connections} TLS connection(s)  "
          f"target: at most one per window, one connection  {_verdict(ok)}\n")
    return ok


if __name__ == "__main__":
    sys.exit(main())
