"""bake_source and FUNCTIONS: the inlined index.py is valid, self-contained, stable, and works with its baked settings."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import types
import zlib

import pytest

from templates.edge_functions import FUNCTIONS, bake_source, handler_source

SETTINGS = {
    "table_name": "edgecdn-edge-config-prod",
    "table_regions": ["us-west-2", "eu-west-1"],
    "cache_ttl_seconds": 60,
    "environment": "prod",
}

# What no trigger may load on its way to the first response: boto3 and its stack cost ~300 ms of CPU,
# ~4 s at 128 MB; http.client pulls in the email package, dataclasses pulls in inspect.
HEAVY_MODULES = {"boto3", "botocore", "urllib3", "s3transfer", "http", "email", "dataclasses", "inspect", "typing"}


def load_as_index(source: str) -> types.ModuleType:
    """Execute source the way Lambda does for Code.ZipFile: a top-level module named index."""
    module = types.ModuleType("index")
    sys.modules["index"] = module
    try:
        exec(compile(source, "index.py", "exec"), module.__dict__)
    finally:
        del sys.modules["index"]
    return module


def test_baked_line_holds_the_settings_with_sorted_keys():
    source = bake_source(SETTINGS)
    lines = [line for line in source.splitlines() if line.startswith("BAKED_SETTINGS = ")]
    assert lines == ["BAKED_SETTINGS = {'cache_ttl_seconds': 60, 'environment': 'prod', "
                     "'table_name': 'edgecdn-edge-config-prod', 'table_regions': ['us-west-2', 'eu-west-1']}"]
    assert load_as_index(source).BAKED_SETTINGS == SETTINGS


def test_baking_is_byte_stable_and_only_changes_the_marker_line():
    shuffled = dict(reversed(list(SETTINGS.items())))
    assert bake_source(SETTINGS) == bake_source(shuffled)
    original, baked = handler_source().splitlines(), bake_source(SETTINGS).splitlines()
    assert len(original) == len(baked)
    assert [i for i, (a, b) in enumerate(zip(original, baked)) if a != b] == [
        next(i for i, line in enumerate(original) if line.startswith("BAKED_SETTINGS = "))]


@pytest.mark.parametrize("source", [
    "x = 1\n",
    "BAKED_SETTINGS = {}\nBAKED_SETTINGS = {}\n",
    "def f():\n    BAKED_SETTINGS = {}\n",
])
def test_marker_must_appear_exactly_once_at_top_level(source):
    with pytest.raises(ValueError, match="exactly one line"):
        bake_source(SETTINGS, source=source)


@pytest.mark.parametrize("settings", [
    {k: v for k, v in SETTINGS.items() if k != "table_name"},
    dict(SETTINGS, extra=1),
    dict(SETTINGS, table_regions=[]),
    dict(SETTINGS, table_regions=["us-west-2", "us-west-2"]),
    dict(SETTINGS, cache_ttl_seconds=0),
    dict(SETTINGS, cache_ttl_seconds="60"),
    dict(SETTINGS, environment=""),
])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValueError):
        bake_source(settings)


def test_handler_imports_only_the_standard_library():
    tree = ast.parse(handler_source())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports break when inlined as index.py"
            imported.add(node.module.split(".")[0])
    assert imported - sys.stdlib_module_names == set()


def test_baked_source_is_far_under_the_viewer_trigger_limit():
    source = bake_source(SETTINGS).encode()
    assert len(zlib.compress(source, 9)) < 100 * 1024  # the limit is 1 MB compressed


def test_functions_point_at_entry_points_of_the_module():
    module = load_as_index(bake_source(SETTINGS))
    assert [f.event_type for f in FUNCTIONS] == ["viewer-request", "origin-response", "viewer-response"]
    assert len({f.key for f in FUNCTIONS}) == len(FUNCTIONS)
    for function in FUNCTIONS:
        assert function.handler.startswith("index.")
        assert callable(getattr(module, function.handler.removeprefix("index.")))
        assert function.include_body is False  # no trigger reads or replaces the request body


def test_baked_module_reads_its_baked_table_in_the_nearest_region(aws, cf, monkeypatch, moto_https, pki):
    # The inlined code must work on its own: settings baked in, table read by its own client (moto server).
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    for region in SETTINGS["table_regions"]:
        cf.create_table(SETTINGS["table_name"], region).put_item(
            TableName=SETTINGS["table_name"],
            Item=cf.current_item("prod", {"redirects": [{"from": "/old", "to": f"/{region}"}]}, 3))
    index = load_as_index(bake_source(SETTINGS))
    index.configure(index.BAKED_SETTINGS, client_factory=lambda region: index.DynamoDBClient(
        region, endpoint=moto_https.endpoint, tls_context=pki.client_context()))
    result = index.viewer_request(cf.viewer_request("/old"), None)
    assert result["status"] == "301"
    assert result["headers"]["location"][0]["value"] == "/eu-west-1"
    assert index.current_cache().current.version == 3
    response = index.origin_response(cf.response("origin-response", uri="/index.html"), None)
    assert response["headers"]["cache-control"][0]["value"] == "public, max-age=0, must-revalidate"


_FIRST_REQUEST = """
import json, sys
sys.path.insert(0, sys.argv[1])
import index
index.configure(index.BAKED_SETTINGS, client_factory=lambda region: index.DynamoDBClient(
    region, endpoint=sys.argv[2], tls_context=index.aws_tls_context(frozenset([sys.argv[3]]))))
result = getattr(index, sys.argv[4])(json.loads(sys.argv[5]))
print(json.dumps({"version": index.current_cache().current.version, "result": result, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.event_type)
def test_no_trigger_loads_a_heavy_module_on_its_cold_path(function, tmp_path, cf, pki, fake_dynamodb):
    # A fresh interpreter, as a new container: import index.py, handle one event, which reads the
    # configuration over HTTPS (the test CA is the root the function looks for in the system store).
    fake_dynamodb.put(SETTINGS["table_name"], cf.current_item("prod", {"redirects": [{"from": "/old", "to": "/new"}]}, 4))
    (tmp_path / "index.py").write_text(bake_source(SETTINGS), encoding="utf-8")
    bundle = tmp_path / "ca-bundle.pem"
    bundle.write_bytes(pki.ca_file.read_bytes())
    event = (cf.viewer_request("/old") if function.event_type == "viewer-request"
             else cf.response(function.event_type, uri="/old"))
    env = dict(os.environ, AWS_REGION="us-east-1", SSL_CERT_FILE=str(bundle), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", _FIRST_REQUEST, str(tmp_path), fake_dynamodb.endpoint, pki.ca_sha256,
                          function.handler.removeprefix("index."), json.dumps(event)],
                         env=env, capture_output=True, text=True, check=True)
    run = json.loads(out.stdout.splitlines()[-1])
    assert run["version"] == 4
    assert {m for m in run["modules"] if m.split(".")[0] in HEAVY_MODULES} == set()
    if function.event_type == "viewer-request":
        assert run["result"]["headers"]["location"][0]["value"] == "/new"
