"""Property-based fuzzing of the edge: any document into the validator, any event into each handler.

The validator answers every document with problems or a configuration that stores, hashes and
compiles; no handler raises, hangs or sends a viewer to another host from a relative rule.
"""

from __future__ import annotations

import contextlib
import copy
import json
import types
import urllib.parse
from datetime import timedelta
from urllib.parse import urlsplit

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from templates.edge_functions import TRIGGERS, bake_source, edge_handler

# Deterministic (the suite's convention) and sized to keep this file at a few seconds; the
# deadline fails an example that takes a handler unusually long.
FUZZ = settings(max_examples=100, derandomize=True, deadline=timedelta(milliseconds=500),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FUZZ_HANDLERS = settings(FUZZ, max_examples=60)

SITE = "site.example"

# --- documents --------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
)
json_values = st.recursive(json_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=12)

# Values that reach deep into the schema: hostile paths, targets, patterns and numbers.
hostile_segments = st.sampled_from([
    "old", "legacy", "shop", "x", "b", "", ".", "..", "a", "é", "%2F", "%2f", "%5C", "\\", "/", "//", "%2e%2e", "evil.example.com", "@evil.example.com",
    "%00", "\t", "%09", "\n", "%0A", ":", "?", "#", "%", "%ZZ", "%C3%A9", "%ED%A0%80", "\ud800", " ", "*", "[", "a" * 40,
])
paths = st.lists(hostile_segments, max_size=6).map(lambda parts: "/" + "/".join(parts))
targets = st.one_of(
    paths,
    st.sampled_from(["/", "/new", "/new/", "/x?y=1", "/help#faq", "https://blog.example.com",
                     "https://blog.example.com/base/", "http://[::1", "//evil.example.com", "/\\evil.example.com",
                     "javascript:alert(1)", "https:evil.example.com", "/%2F%2Fevil.example.com", "\\\\evil"]),
)
patterns = st.one_of(
    st.text(max_size=12),
    st.sampled_from([r"^/(a+)+$", r"a*a*a*a*a*b", r"(a|b)*a(a|b){9}", r"(a)\1", r"[.-][0-9a-f]{8,}\.[A-Za-z0-9]+$",
                     "*.html", "/fonts/*", "[!a]?", r"\.js$", "(?i)x", "x{1000}", "[", "\ud800"]),
)
numbers = st.one_of(st.integers(min_value=-2, max_value=700_000), st.sampled_from([True, 301.0, "301", None]))


def rule_dicts(keys: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """Mappings with a random subset of the schema's keys (and sometimes an unknown one)."""
    return st.fixed_dictionaries({}, optional={**keys, "unknown": json_scalars})


schema_documents = st.fixed_dictionaries({}, optional={
    "redirects": st.lists(rule_dicts({
        "from": paths, "prefix": paths, "to": targets, "status": st.sampled_from([301, 302, 303, 307, 308, "301"]),
        "query": st.sampled_from(["keep", "drop", "merge"]), "keep_path": st.booleans()}), max_size=6),
    "rewrites": rule_dicts({"directory_index": st.sampled_from(["index.html", "", "a/b", "x" * 200]),
                            "spa_fallback": st.booleans(), "spa_index": paths,
                            "spa_exclude_prefixes": st.lists(paths, max_size=3)}),
    "experiments": st.lists(rule_dicts({
        "name": st.sampled_from(["a", "b", "Bad Name", "x" * 40]), "prefix": paths,
        "cookie_max_age_days": numbers, "viewer_id_cookie": st.sampled_from(["", "sid", "a b"]),
        "variants": st.lists(rule_dicts({"name": st.sampled_from(["c", "d", "e"]), "weight": numbers,
                                         "origin_prefix": st.one_of(st.just(""), paths)}), max_size=4)}), max_size=3),
    "maintenance": rule_dicts({"enabled": st.booleans(), "retry_after_seconds": numbers,
                               "allow_cidrs": st.lists(st.sampled_from(["10.0.0.0/8", "::1", "300.1.1.1", 7]),
                                                       max_size=3),
                               "body_html": st.text(max_size=20)}),
    "cache_control": st.lists(rule_dicts({"path": patterns, "path_regex": patterns,
                                          "value": st.sampled_from(["no-cache", "max-age=1\r\nX: y", "", "é"])}),
                              max_size=4),
})


def check_document(doc) -> None:
    """The validator's contract on any input: problems, or a configuration that stores, hashes and compiles."""
    normalized, problems = edge_handler.validate_config(doc)
    assert isinstance(problems, list)
    for field, message in problems:
        assert isinstance(field, str) and isinstance(message, str) and len(message) < 2000
    if problems:
        return
    content = edge_handler.canonical_json(normalized)
    edge_handler.content_hash(content)
    again, problems = edge_handler.validate_config(json.loads(content))
    assert problems == [] and edge_handler.canonical_json(again) == content  # stored form is stable
    edge_handler.compile_config(normalized, 1, edge_handler.content_hash(content))


@FUZZ
@given(doc=json_values)
def test_any_json_document_is_validated_without_an_exception(doc):
    check_document(doc)


@FUZZ
@given(doc=schema_documents)
def test_documents_shaped_like_the_schema_are_validated_without_an_exception(doc):
    check_document(doc)


@FUZZ_HANDLERS
@given(content=st.one_of(st.text(max_size=200), json_values.map(json.dumps), st.just("[" * 100_000)),
       schema=st.sampled_from(["1", "2", "x", None]), version=st.sampled_from(["1", "0", "-3", None]),
       hash_kind=st.sampled_from(["right", "wrong", "number"]))
def test_any_table_item_is_used_or_refused_as_invalid(content, schema, version, hash_kind):
    item = {"content": {"S": content}}
    if schema is not None:
        item["schema_version"] = {"N": schema}
    if version is not None:
        item["config_version"] = {"N": version}
    digest = edge_handler.content_hash(content) if hash_kind == "right" and content.isprintable() else "sha256:x"
    item["content_hash"] = {"N": "1"} if hash_kind == "number" else {"S": digest}
    try:
        compiled = edge_handler.parse_item(item)
    except edge_handler.InvalidItem:
        return
    assert isinstance(compiled, edge_handler.CompiledConfig) and compiled.version >= 1


# The functions import urllib.parse only for what needs it (edge_handler._urllib_parse): the same answers.
url_texts = st.text(alphabet="htps:/\\[]@.-_~?#&=+%aZ09é \t", max_size=30)


@settings(FUZZ, max_examples=400)
@given(text=st.one_of(url_texts, st.text(max_size=20)),
       safe=st.sampled_from([edge_handler._LOCATION_SAFE, edge_handler._PATH_SAFE, edge_handler._QUERY_SAFE, ""]))
def test_quote_and_unquote_answer_as_urllib_parse_does(text, safe):
    assert edge_handler.quote(text, safe) == urllib.parse.quote(text, safe=safe)
    assert edge_handler.unquote(text) == urllib.parse.unquote(text)


# unquote decodes an ASCII text itself: escapes of every byte, bad and cut escapes, bytes that are not
# UTF-8 or are split across escapes, and texts that are not ASCII (which it leaves to urllib.parse).
escaped_texts = st.lists(st.one_of(
    st.builds("%{:02X}".format, st.integers(0, 255)), st.builds("%{:02x}".format, st.integers(0, 255)),
    st.text(alphabet="%0123456789abcdefABCDEFgG/ +é\x7f", max_size=4)), max_size=12).map("".join)


@settings(FUZZ, max_examples=400)
@given(text=escaped_texts)
def test_unquote_decodes_escapes_as_urllib_parse_does(text):
    assert edge_handler.unquote(text) == urllib.parse.unquote(text)


@settings(FUZZ, max_examples=400)
@given(url=st.one_of(st.from_regex(edge_handler._PLAIN_URL_RE, fullmatch=True), url_texts,
                     st.builds("{}://{}{}".format, st.sampled_from(["http", "https", "HTTPS", "ftp"]),
                               st.text(alphabet="aZ09.-:@[]", max_size=12), url_texts)))
def test_a_plain_url_taken_without_urlsplit_is_one_urlsplit_accepts(url):
    if edge_handler._PLAIN_URL_RE.match(url):
        assert edge_handler._is_http_url(url)


# Each function's index.py validates only the sections its trigger applies, without the CLI's
# redirect-chain analysis (templates/edge_functions.bake_source).
_BAKE_SETTINGS = {"table_name": "t", "table_regions": ["us-west-2"], "cache_ttl_seconds": 60, "environment": "prod"}
BAKED = {}
for _trigger in TRIGGERS:
    BAKED[_trigger] = types.ModuleType("index")
    exec(compile(bake_source(_BAKE_SETTINGS, _trigger), "index.py", "exec"), BAKED[_trigger].__dict__)


@FUZZ_HANDLERS
@given(doc=schema_documents)
def test_each_function_uses_every_item_the_cli_accepts_and_refuses_others_without_an_exception(doc):
    content = json.dumps(doc)
    item = {"schema_version": {"N": "1"}, "config_version": {"N": "1"}, "content": {"S": content},
            "content_hash": {"S": edge_handler.content_hash(content)}}
    try:
        whole = edge_handler.parse_item(item)
    except edge_handler.InvalidItem:
        whole = None
    for trigger, index in BAKED.items():
        try:
            config = index.parse_item(item)
        except index.InvalidItem:
            assert whole is None, trigger  # refused only for a problem the whole module sees too
            continue
        if whole is not None:  # the sections it applies compile as the whole module compiles them
            assert repr(config.experiment_routes) == repr(whole.experiment_routes)
            if trigger == "viewer-request":
                assert repr((config.exact_redirects, config.prefix_redirects, config.maintenance,
                             config.directory_index, config.spa_index, config.spa_excludes)) == repr(
                    (whole.exact_redirects, whole.prefix_redirects, whole.maintenance, whole.directory_index,
                     whole.spa_index, whole.spa_excludes))
            if trigger == "origin-response":
                assert [(p.source, v) for p, v in config.cache_rules] == [(p.source, v) for p, v in whole.cache_rules]


# --- events into the handlers -----------------------------------------------------------------

# Valid configurations with the rules a viewer can probe: relative and absolute redirects, prefix
# rules that keep the path, experiments, maintenance, Cache-Control patterns.
prefix_rules = st.fixed_dictionaries({
    "prefix": st.sampled_from(["/old", "/legacy/", "/a/b", "/caf%C3%A9"]),
    "to": st.sampled_from(["/", "/new", "/new/", "https://blog.example.com", "https://blog.example.com/base/"]),
    "keep_path": st.booleans(), "query": st.sampled_from(["keep", "drop"])})
valid_configs = st.fixed_dictionaries({
    "redirects": st.lists(st.one_of(
        prefix_rules, prefix_rules,
        st.fixed_dictionaries({"from": st.sampled_from(["/x", "/y/", "/é", "/old/special"]),
                               "to": st.sampled_from(["/", "/z?a=1", "/help#faq", "https://jobs.example.com/",
                                                      "/caf%C3%A9"]),
                               "status": st.sampled_from([301, 302, 307, 308])})),
        min_size=1, max_size=4, unique_by=lambda rule: (rule.get("from") or rule["prefix"]).rstrip("/")),
    "rewrites": st.fixed_dictionaries({"spa_fallback": st.booleans(),
                                       "directory_index": st.sampled_from(["index.html", ""])}),
    "experiments": st.lists(st.fixed_dictionaries({
        "name": st.just("exp"), "prefix": st.sampled_from(["/shop", "/", "/a"]),
        "viewer_id_cookie": st.sampled_from(["", "sid"]),
        "variants": st.just([{"name": "c", "weight": 1}, {"name": "d", "weight": 1, "origin_prefix": "/_v/d"}])}),
        max_size=1),
    "maintenance": st.fixed_dictionaries({"enabled": st.booleans(),
                                          "allow_cidrs": st.just(["198.51.100.0/24", "2001:db8::/32"])}),
    "cache_control": st.lists(st.one_of(
        st.sampled_from(["*.html", "/fonts/*", "*", "[!a]*"]).map(lambda glob: {"path": glob, "value": "max-age=60"}),
        st.sampled_from([r"^/(a+)+$", r"a*a*a*a*a*b", r"[.-][0-9a-f]{8,}\.[A-Za-z0-9]+$", r"\.js$"]).map(
            lambda regex: {"path_regex": regex, "value": "max-age=60"})), max_size=3),
})


class StaticCache:
    """Stands in for the module's ConfigCache: the entry points see this configuration."""

    def __init__(self, config: edge_handler.CompiledConfig):
        self.config = config

    def get(self) -> edge_handler.CompiledConfig:
        return self.config


@contextlib.contextmanager
def serving(doc: dict):
    """The entry points serve `doc` (a valid configuration) for the duration of the block."""
    normalized, problems = edge_handler.validate_config(doc)
    assume(problems == [])
    config = edge_handler.compile_config(normalized, 1, "sha256:x")
    saved, edge_handler._cache = edge_handler._cache, StaticCache(config)
    try:
        yield config
    finally:
        edge_handler._cache = saved


# An attacker's dictionary: what browsers read as another host once joined after a target.
attacker_rests = st.sampled_from([
    "//evil.example.com", "///evil.example.com", "/%2F%2Fevil.example.com", "/%2f/evil.example.com",
    "/%5Cevil.example.com", "/\\evil.example.com", "/%2F%5Cevil.example.com", "/%5C%5Cevil.example.com",
    "/..//evil.example.com", "/%2e%2e/%2e%2e//evil.example.com", "/%09/evil.example.com", "/\t/evil.example.com",
    "/@evil.example.com", "/%0A%0D//evil.example.com", "/./%2F/evil.example.com",
])


def viewer_paths(doc: dict) -> st.SearchStrategy[str]:
    """Paths a viewer may send: under the configuration's own rules (where a hostile rest matters), or anything."""
    sources = [rule.get("from") or rule["prefix"] for rule in doc.get("redirects", [])]
    sources += [e["prefix"] for e in doc.get("experiments", [])] or ["/"]
    segments = st.lists(hostile_segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
    under_rules = st.tuples(st.sampled_from(sources), st.one_of(attacker_rests, attacker_rests, segments)).map(
        lambda parts: parts[0].rstrip("/") + parts[1])
    return st.one_of(under_rules, under_rules, under_rules, paths, st.text(max_size=40), backtracking_paths)


# What makes a backtracking matcher take seconds to hours on the patterns of `valid_configs`.
backtracking_paths = st.sampled_from(["/" + "a" * 30 + "!", "/" + "a" * 1000, "/" + "a" * 5000 + "!"])

header_values = st.one_of(st.text(max_size=40), st.sampled_from(["exp=d; sid=1", "edge-ab-exp=c", "edge-ab-exp=zz"]))
headers = st.one_of(
    st.dictionaries(st.sampled_from(["cookie", "user-agent", "host", "cache-control", "x"]),
                    st.lists(st.fixed_dictionaries({"key": st.text(max_size=10), "value": header_values}),
                             max_size=2), max_size=4),
    json_values,
)


@st.composite
def viewer_request_events(draw: st.DrawFn, doc: dict) -> dict:
    request = {"clientIp": draw(st.sampled_from(["203.0.113.9", "198.51.100.7", "2001:db8::1", "", "nope"])),
               "headers": draw(headers), "method": "GET",
               "querystring": draw(st.one_of(st.just(""), st.text(max_size=40))), "uri": draw(viewer_paths(doc))}
    for key in draw(st.lists(st.sampled_from(sorted(request)), max_size=2)):
        request[key] = draw(json_values)  # a field of the wrong shape, or missing
    return {"Records": [{"cf": {"config": {"eventType": "viewer-request"}, "request": request}}]}


@st.composite
def response_events(draw: st.DrawFn, doc: dict) -> dict:
    event = draw(viewer_request_events(doc))
    event["Records"][0]["cf"]["response"] = {
        "status": draw(st.sampled_from(["200", "200", "304", "404", "500", 200, "", None])),
        "headers": draw(st.one_of(st.just({}), headers))}
    return event


def browser_target_host(location: str) -> str:
    """The host a browser goes to from https://site.example/ (tab and newline dropped, \\ read as /)."""
    text = location.lstrip("".join(map(chr, range(0x21)))).replace("\t", "").replace("\n", "").replace("\r", "")
    text = text.replace("\\", "/")
    scheme, sep, rest = text.partition(":")
    if sep and scheme[:1].isalpha() and all(c.isascii() and (c.isalnum() or c in "+-.") for c in scheme):
        text = "//" + rest.lstrip("/")
    if text.startswith("//"):
        return text[2:].split("/")[0].split("?")[0].split("#")[0].rsplit("@", 1)[-1]
    return SITE


def assert_generated_response(response: dict) -> None:
    assert isinstance(response["status"], str) and len(response["status"]) == 3 and response["status"].isdigit()
    for name, entries in response["headers"].items():
        assert name == name.lower()
        for entry in entries:
            assert set(entry) == {"key", "value"} and entry["key"].lower() == name
            assert entry["value"].isascii() and entry["value"].isprintable()
    assert len(json.dumps(response).encode()) <= 40 * 1024


@FUZZ_HANDLERS
@given(doc=valid_configs, data=st.data())
def test_viewer_request_answers_any_event(doc, data):
    event = data.draw(st.one_of(*[viewer_request_events(doc)] * 4, json_values), label="event")
    original = copy.deepcopy(event)
    with serving(doc) as config:
        result = edge_handler.viewer_request(event, None)
    try:
        request = event["Records"][0]["cf"]["request"]
    except (KeyError, IndexError, TypeError):
        assert result is None  # no request to pass through: nothing CloudFront would send
        return
    if result is request:  # passed through, maybe to another origin path
        unchanged = original["Records"][0]["cf"]["request"]
        assert {k: v for k, v in result.items() if k != "uri"} == {k: v for k, v in unchanged.items() if k != "uri"}
        assert result["uri"] == unchanged["uri"] or (isinstance(result["uri"], str) and result["uri"].startswith("/"))
        return
    assert_generated_response(result)
    if result["status"] in ("301", "302", "307", "308"):
        location = result["headers"]["location"][0]["value"]
        allowed = {SITE} | {urlsplit(r.location).hostname
                            for r in (*config.exact_redirects.values(), *config.prefix_redirects.values())
                            if not r.on_site}
        assert browser_target_host(location) in allowed, location
    else:
        assert result["status"] == "503"


@FUZZ_HANDLERS
@given(doc=valid_configs, data=st.data())
def test_origin_and_viewer_response_answer_any_event(doc, data):
    event = data.draw(st.one_of(*[response_events(doc)] * 4, json_values), label="event")
    with serving(doc):
        results = [handler(copy.deepcopy(event), None)
                   for handler in (edge_handler.origin_response, edge_handler.viewer_response)]
    try:
        response = event["Records"][0]["cf"]["response"]
    except (KeyError, IndexError, TypeError):
        assert results == [None, None]  # no response to pass through: nothing CloudFront would send
        return
    for result in results:
        if not isinstance(result, dict) or result == response:
            assert result == response
            continue
        added = {name: entries for name, entries in result["headers"].items()
                 if response.get("headers", {}).get(name) != entries}
        assert set(added) <= {"cache-control", "set-cookie"}, added
        for name, entries in added.items():
            for entry in entries:
                assert set(entry) == {"key", "value"} and entry["value"].isascii() and entry["value"].isprintable()
