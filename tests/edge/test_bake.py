"""bake_source and FUNCTIONS: each function's index.py holds its trigger's code and no other, is
self-contained, stable, keeps the source's line numbers, and works with its baked settings."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import tokenize
import types
import zlib

import pytest

from templates.edge_functions import FUNCTIONS, TRIGGERS, bake_source, edge_handler, handler_source

SETTINGS = {
    "table_name": "edgecdn-edge-config-prod",
    "table_regions": ["us-west-2", "eu-west-1"],
    "cache_ttl_seconds": 60,
    "environment": "prod",
}

# What no trigger may load on its way to the first response: boto3 and its stack cost ~300 ms of CPU,
# ~4 s at 128 MB; http.client pulls in the email package, dataclasses pulls in inspect; the ssl and
# socket wrappers of _ssl and _socket cost ~10 ms.
HEAVY_MODULES = {"boto3", "botocore", "urllib3", "s3transfer", "http", "email", "dataclasses", "inspect", "typing",
                 "ssl", "socket"}

# The configuration sections each trigger applies, so validates and compiles, at the edge.
TRIGGER_SECTIONS = {
    "viewer-request": {"redirects", "rewrites", "experiments", "maintenance"},
    "origin-response": {"experiments", "cache_control"},
    "viewer-response": {"experiments"},
}


def load_as_index(source: str) -> types.ModuleType:
    """Execute source the way Lambda runs a package's index.py: a top-level module named index."""
    module = types.ModuleType("index")
    sys.modules["index"] = module
    try:
        exec(compile(source, "index.py", "exec"), module.__dict__)
    finally:
        del sys.modules["index"]
    return module


_BAKED: dict[str, types.ModuleType] = {}


def baked(trigger: str) -> types.ModuleType:
    """The trigger's index.py, baked with SETTINGS, loaded as Lambda loads it (once per test session)."""
    if trigger not in _BAKED:
        _BAKED[trigger] = load_as_index(bake_source(SETTINGS, trigger))
    return _BAKED[trigger]


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_baked_line_holds_the_settings_with_sorted_keys(trigger):
    source = bake_source(SETTINGS, trigger)
    lines = [line for line in source.splitlines() if line.startswith("BAKED_SETTINGS = ")]
    assert lines == ["BAKED_SETTINGS = {'cache_ttl_seconds': 60, 'environment': 'prod', "
                     "'table_name': 'edgecdn-edge-config-prod', 'table_regions': ['us-west-2', 'eu-west-1']}"]
    assert baked(trigger).BAKED_SETTINGS == SETTINGS


def _statements(tree: ast.Module) -> dict[int, tuple[str, list]]:
    """Each top-level statement by line: its code and the line of each of its nodes, without docstrings and
    function annotations (a docstring-only body read as `pass`)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass(lineno=body[0].lineno, col_offset=0)]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
            for arg in ast.walk(node.args):
                if isinstance(arg, ast.arg):
                    arg.annotation = None
    return {node.lineno: (ast.dump(node), [(type(n).__name__, getattr(n, "lineno", None)) for n in ast.walk(node)])
            for node in tree.body}


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_baked_source_is_the_handler_code_it_keeps_line_for_line_without_docstrings_comments_or_annotations(
        trigger):
    source = bake_source(SETTINGS, trigger)
    assert source == bake_source(dict(reversed(list(SETTINGS.items()))), trigger)  # byte-stable
    assert source.count("\n") <= handler_source().count("\n")
    # Its statements are statements of the handler source, unchanged, each node at its line in
    # edge_handler.py: a traceback's line numbers are that file's.
    kept = _statements(ast.parse(source))
    whole = _statements(ast.parse(handler_source()))
    marker = next(n for n, line in enumerate(handler_source().splitlines(), 1) if line.startswith("BAKED_SETTINGS = "))
    assert {n: code for n, code in kept.items() if n != marker}.items() <= whole.items()
    tree = ast.parse(source)
    assert not any(token.type == tokenize.COMMENT for token in tokenize.generate_tokens(io.StringIO(source).readline))
    assert ast.get_docstring(tree) is None
    assert not [node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                and ast.get_docstring(node)]
    assert not [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and (node.returns or any(
        arg.annotation for arg in ast.walk(node.args) if isinstance(arg, ast.arg)))]
    assert len(source) < 0.7 * len(handler_source())


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_baked_source_holds_its_triggers_entry_point_and_sections_only(trigger):
    index = baked(trigger)
    entry_points = {f.handler.removeprefix("index.") for f in FUNCTIONS}
    assert {name for name in entry_points if hasattr(index, name)} == {trigger.replace("-", "_")}
    assert set(index._SECTIONS) == TRIGGER_SECTIONS[trigger]
    assert index._OPERATOR_CHECKS == {}  # the redirect-chain analysis is the CLI's
    assert not hasattr(index, "canonical_json") and not hasattr(index, "_redirect_loops")
    # The CLI imports the whole module: every section, and the operator checks.
    assert set(edge_handler._SECTIONS) == set(edge_handler._TOP_KEYS) == set().union(*TRIGGER_SECTIONS.values())
    assert set(edge_handler._OPERATOR_CHECKS) == {"redirects"}


@pytest.mark.parametrize("source", [
    "x = 1\n",
    "BAKED_SETTINGS = {}\nBAKED_SETTINGS = {}\n",
    "def f():\n    BAKED_SETTINGS = {}\n",
])
def test_marker_must_appear_exactly_once_at_top_level(source):
    with pytest.raises(ValueError, match="exactly one line"):
        bake_source(SETTINGS, "viewer-request", source=source)


_ENTRY_POINTS = "BAKED_SETTINGS = {}\ndef viewer_request(e, c): return helper()\n"


@pytest.mark.parametrize("source, message", [
    # A helper that only another trigger's section defines: the baked function would fail at its first request.
    (_ENTRY_POINTS + "# @bake: origin-response\ndef helper(): return 1\n",
     "the viewer-request source uses helper, which its sections do not define"),
    ("# @bake: origin-response\n" + _ENTRY_POINTS + "# @bake: all\ndef helper(): return 1\n",
     "does not define its handler viewer_request"),
    (_ENTRY_POINTS + "# @bake: all, viewer-requests\ndef helper(): return 1\n", "must name all, none, or triggers"),
    (_ENTRY_POINTS + "# @bake:\ndef helper(): return 1\n", "must name all, none, or triggers"),
    (_ENTRY_POINTS + "x = [\n# @bake: none\n]\ndef helper(): return 1\n", "line 4: .* between top-level statements"),
])
def test_a_section_mistake_is_refused_when_baking(source, message):
    with pytest.raises(ValueError, match=message):
        bake_source(SETTINGS, "viewer-request", source=source)


def test_an_unknown_trigger_is_refused():
    with pytest.raises(ValueError, match="unknown trigger 'viewer_request'"):
        bake_source(SETTINGS, "viewer_request")


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
        bake_source(settings, "viewer-request")


def test_handler_imports_only_the_standard_library():
    tree = ast.parse(handler_source())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports break in a package of index.py alone"
            imported.add(node.module.split(".")[0])
    assert imported - sys.stdlib_module_names == set()


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_baked_source_is_far_under_the_viewer_trigger_limit(trigger):
    source = bake_source(SETTINGS, trigger).encode()
    assert len(zlib.compress(source, 9)) < 100 * 1024  # the limit is 1 MB compressed


def test_functions_point_at_entry_points_of_their_baked_sources():
    assert [f.event_type for f in FUNCTIONS] == ["viewer-request", "origin-response", "viewer-response"]
    assert len({f.key for f in FUNCTIONS}) == len(FUNCTIONS)
    for function in FUNCTIONS:
        assert function.handler.startswith("index.")
        assert callable(getattr(baked(function.event_type), function.handler.removeprefix("index.")))
        assert function.include_body is False  # no trigger reads or replaces the request body


SITE = {
    "redirects": [{"from": "/old", "to": "/new"}, {"prefix": "/blog", "to": "https://blog.example.com"}],
    "experiments": [{"name": "shop", "prefix": "/shop", "variants": [
        {"name": "a", "weight": 1}, {"name": "b", "weight": 1, "origin_prefix": "/_v/b"}]}],
    "cache_control": [{"path": "/shop/*", "value": "max-age=60"}],
}


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_each_baked_function_reads_its_baked_table_in_the_nearest_region(trigger, aws, cf, monkeypatch, moto_https,
                                                                         pki):
    # The baked code must work on its own: settings baked in, table read by its own client (moto server).
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    for region in SETTINGS["table_regions"]:
        doc = dict(SITE, redirects=[{"from": "/old", "to": f"/{region}"}])
        cf.create_table(SETTINGS["table_name"], region).put_item(
            TableName=SETTINGS["table_name"], Item=cf.current_item("prod", doc, 3))
    index = load_as_index(bake_source(SETTINGS, trigger))
    index.configure(index.BAKED_SETTINGS, client_factory=lambda region: index.DynamoDBClient(
        region, endpoint=moto_https.endpoint, tls_context=pki.client_context()))
    if trigger == "viewer-request":
        result = index.viewer_request(cf.viewer_request("/old"), None)
        assert result["status"] == "301"
        assert result["headers"]["location"][0]["value"] == "/eu-west-1"
        assert index.viewer_request(cf.viewer_request("/shop/x"), None)["uri"] in ("/shop/x", "/_v/b/shop/x")
    elif trigger == "origin-response":
        response = index.origin_response(cf.response("origin-response", uri="/shop/a.woff2"), None)
        assert response["headers"]["cache-control"][0]["value"] == "max-age=60"
        assert "cache-control" not in index.origin_response(cf.response("origin-response", uri="/a.html"), None)[
            "headers"]
        response = index.origin_response(cf.response("origin-response", uri="/_v/b/shop/a.woff2"), None)
        assert response["headers"]["cache-control"][0]["value"] == "max-age=60"  # the variant prefix left out
    else:
        response = index.viewer_response(cf.response("viewer-response", uri="/shop/x"), None)
        assert response["headers"]["set-cookie"][0]["value"].startswith("edge-ab-shop=")
    assert index.current_cache().current.version == 3


def _item(doc: dict, version: int) -> dict:
    content = json.dumps(doc)
    return {"schema_version": {"N": "1"}, "config_version": {"N": str(version)}, "content": {"S": content},
            "content_hash": {"S": edge_handler.content_hash(content)}}


@pytest.mark.parametrize("section, bad", [
    ("redirects", [{"from": "/a", "to": "//evil.example.com"}]),
    ("rewrites", {"directory_index": "../x"}),
    ("experiments", [{"name": "x", "prefix": "/x", "variants": [{"name": "a", "weight": 1}]}]),
    ("maintenance", {"enabled": "yes"}),
    ("cache_control", [{"path_regex": "(a)\\1", "value": "max-age=1"}]),
])
def test_a_function_refuses_an_item_whose_sections_it_applies_are_malformed_and_keeps_its_last_good_one(
        section, bad, capsys):
    for trigger in TRIGGERS:
        index = baked(trigger)
        clock, client = [0.0], ItemClient(_item(SITE, 1))
        cache = index.ConfigCache(SETTINGS, clock=lambda: clock[0], here="us-west-2",
                                  client_factory=lambda region: client)
        assert cache.get().version == 1
        client.item = _item(dict(SITE, **{section: bad}), 2)
        clock[0] += SETTINGS["cache_ttl_seconds"]
        applies = section in TRIGGER_SECTIONS[trigger]
        assert cache.get().version == (1 if applies else 2), trigger
        logged = capsys.readouterr().out
        assert ("edge_config_invalid" in logged) == applies, trigger


class ItemClient:
    """A DynamoDB client that answers every GetItem with one item."""

    def __init__(self, item: dict) -> None:
        self.item = item

    def get_item(self, table_name: str, key: dict) -> dict:
        return {"Item": self.item}


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
    (tmp_path / "index.py").write_text(bake_source(SETTINGS, function.event_type), encoding="utf-8")
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
    # Imported on first need only: no path with a %, nothing to quote, no allowed networks here; and the
    # endpoint's name goes to getaddrinfo as ASCII bytes, without the IDNA codec.
    assert {"urllib.parse", "ipaddress", "encodings.idna", "unicodedata"}.isdisjoint(run["modules"])
    if function.event_type == "viewer-request":
        assert run["result"]["headers"]["location"][0]["value"] == "/new"
