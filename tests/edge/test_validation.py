"""The edge configuration schema: every rule kind's good and bad values, field paths in errors, normalization."""

from __future__ import annotations

import json

import pytest
import yaml

from edgeconfig.model import EDGE_CONFIG_DIR, EdgeConfig, load_edge_config
from templates.config import ConfigError
from templates.edge_functions import edge_handler

TWO_VARIANTS = [{"name": "a", "weight": 1}, {"name": "b", "weight": 1, "origin_prefix": "/_b"}]

BAD = [
    ({"redirects": [{"from": "/a", "to": "/b", "status": 303}]},
     "redirects[0].status", "must be one of 301, 302, 307, 308, got 303"),
    ({"redirects": [{"from": "/a", "to": "/b", "status": True}]}, "redirects[0].status", "got a boolean"),
    ({"redirects": [{"to": "/b"}]}, "redirects[0]", "exactly one of from"),
    ({"redirects": [{"from": "/a", "prefix": "/a", "to": "/b"}]}, "redirects[0]", "exactly one of from"),
    ({"redirects": [{"from": "a", "to": "/b"}]}, "redirects[0].from", "starting with a single /"),
    ({"redirects": [{"from": "//evil", "to": "/b"}]}, "redirects[0].from", "starting with a single /"),
    ({"redirects": [{"from": "/a?x=1", "to": "/b"}]}, "redirects[0].from", "without ? or #"),
    ({"redirects": [{"from": "/a%0A", "to": "/b"}]}, "redirects[0].from", "control characters"),
    ({"redirects": [{"from": "/a", "to": "javascript:alert(1)"}]}, "redirects[0].to", "http(s) URL"),
    ({"redirects": [{"from": "/a", "to": "//evil.example.com"}]}, "redirects[0].to", "starting with a single /"),
    ({"redirects": [{"from": "/a", "to": "/\\evil.example.com"}]}, "redirects[0].to", "/\\host name another site"),
    ({"redirects": [{"from": "/a", "to": "/%2F%2Fevil.example.com"}]}, "redirects[0].to", "starting with a single /"),
    ({"redirects": [{"from": "/a", "to": "/%5Cevil.example.com"}]}, "redirects[0].to", "starting with a single /"),
    ({"redirects": [{"from": "/a", "to": "\\\\evil.example.com"}]}, "redirects[0].to", "http(s) URL"),
    ({"redirects": [{"from": "/a", "to": "https:evil.example.com"}]}, "redirects[0].to", "http(s) URL with a host"),
    ({"redirects": [{"from": "/a", "to": "https://"}]}, "redirects[0].to", "http(s) URL with a host"),
    ({"redirects": [{"from": "/a", "to": "http://[::1"}]}, "redirects[0].to", "http(s) URL with a host"),
    ({"redirects": [{"from": "/a", "to": "https://example.com:99999/"}]}, "redirects[0].to", "http(s) URL"),
    ({"redirects": [{"from": "/a", "to": "java\tscript:alert(1)"}]}, "redirects[0].to", "control characters"),
    ({"redirects": [{"from": "/a", "to": "ht\ntps://evil.example.com"}]}, "redirects[0].to", "control characters"),
    ({"redirects": [{"from": "/a", "to": "/b c"}]}, "redirects[0].to", "without spaces"),
    ({"redirects": [{"from": "/a", "to": "/a"}]}, "redirects[0].to", "redirects to itself"),
    ({"redirects": [{"prefix": "/docs", "to": "/docs/v2"}]}, "redirects[0].to", "would loop"),
    ({"redirects": [{"prefix": "/docs", "to": "/new?x=1"}]}, "redirects[0].to", "query or fragment"),
    ({"redirects": [{"from": "/a", "to": "/b", "query": "merge"}]}, "redirects[0].query", "keep or drop"),
    ({"redirects": [{"from": "/a", "to": "/b", "keep_path": False}]}, "redirects[0].keep_path", "prefix rules"),
    ({"redirects": [{"from": "/a", "to": "/b"}, {"from": "/x", "to": "/y"}, {"from": "/a/", "to": "/c"},
                    {"from": "/a", "to": "/d"}]}, "redirects[3].from", "repeats redirects[0].from"),
    ({"redirects": [{"prefix": "/a/", "to": "/b"}, {"prefix": "/a", "to": "/c"}]},
     "redirects[1].prefix", "repeats redirects[0].prefix"),
    ({"redirects": [{"from": "/a", "to": "/b"}, {"from": "/b", "to": "/c"}]}, "redirects[0].to", "itself redirected by redirects[1]"),
    ({"redirects": [{"prefix": "/a", "to": "/b"}, {"prefix": "/b", "to": "/a"}]}, "redirects[0]",
     "makes a redirect loop with redirects[1]: /a -> /b -> /a"),
    ({"redirects": [{"prefix": "/a", "to": "/b"}, {"prefix": "/b", "to": "/a/"}]}, "redirects[0]",
     "makes a redirect loop with redirects[1]: /b -> /a/ -> /b"),
    ({"redirects": [{"prefix": "/docs", "to": "/help", "keep_path": False}, {"from": "/help", "to": "/docs/x"}]},
     "redirects[0]", "makes a redirect loop with redirects[1]: /help -> /docs/x -> /help"),
    ({"redirects": [{"from": "/x", "to": "/shop/a?ref=old"}, {"prefix": "/shop", "to": "/store"},
                    {"prefix": "/store", "to": "/x", "keep_path": False}]},
     "redirects[0]", "makes a redirect loop with redirects[1], redirects[2]: /x -> /shop/a -> /store/a -> /x"),
    ({"redirects": [{"prefix": "/a", "to": "/b/c"}, {"prefix": "/b", "to": "/a/x"}]}, "redirects[0]",
     "is part of a chain of more than 20 redirects with redirects[1]: /a -> /b/c -> /a/x/c -> /b/c/x/c -> …"),
    ({"redirects": [{"prefix": f"/v{i}", "to": f"/v{i + 1}"} for i in range(21)]}, "redirects[0]",
     "is part of a chain of more than 20 redirects with redirects[1], redirects[2], redirects[3], redirects[4], "
     "redirects[5], redirects[6] and 14 more: /v0 -> /v1 -> /v2 -> /v3 -> …"),
    ({"redirects": [{"from": "/a", "to": "/b", "code": 301}]}, "redirects[0].code", "unknown key"),
    ({"redirects": {"from": "/a"}}, "redirects", "must be a list"),
    ({"rewrites": {"directory_index": "a/index.html"}}, "rewrites.directory_index", "file name"),
    ({"rewrites": {"spa_fallback": "yes"}}, "rewrites.spa_fallback", "true or false"),
    ({"rewrites": {"spa_exclude_prefixes": ["api"]}}, "rewrites.spa_exclude_prefixes[0]", "single /"),
    ({"experiments": [{"name": "Bad Name", "prefix": "/", "variants": TWO_VARIANTS}]},
     "experiments[0].name", "lower-case"),
    ({"experiments": [{"name": "x", "prefix": "/", "variants": [{"name": "a", "weight": 1}]}]},
     "experiments[0].variants", "2 to 10 variants"),
    ({"experiments": [{"name": "x", "prefix": "/"}]}, "experiments[0].variants", "is required"),
    ({"experiments": [{"name": "x", "prefix": "/", "variants": [{"name": "a", "weight": 0},
                                                                 {"name": "b", "weight": 0, "origin_prefix": "/b"}]}]},
     "experiments[0].variants", "weight above 0"),
    ({"experiments": [{"name": "x", "prefix": "/", "variants": [{"name": "a", "weight": -1},
                                                                 {"name": "b", "weight": 1, "origin_prefix": "/b"}]}]},
     "experiments[0].variants[0].weight", "0 to 10000"),
    ({"experiments": [{"name": "x", "prefix": "/", "variants": [{"name": "a", "weight": 1},
                                                                 {"name": "b", "weight": 1}]}]},
     "experiments[0].variants[1].origin_prefix", "caches separately"),
    ({"experiments": [{"name": "x", "prefix": "/", "variants": [{"name": "a", "weight": 1},
                                                                 {"name": "a", "weight": 1, "origin_prefix": "/a"}]}]},
     "experiments[0].variants[1].name", "repeats variant name"),
    ({"experiments": [{"name": "x", "prefix": "/s", "variants": TWO_VARIANTS},
                      {"name": "x", "prefix": "/t", "variants": TWO_VARIANTS}]},
     "experiments[1].name", "repeats experiments[0].name"),
    ({"experiments": [{"name": "x", "prefix": "/s", "variants": TWO_VARIANTS},
                      {"name": "y", "prefix": "/s/", "variants": TWO_VARIANTS}]},
     "experiments[1].prefix", "one experiment per prefix"),
    ({"experiments": [{"name": "x", "prefix": "/", "variants": TWO_VARIANTS},
                      {"name": "y", "prefix": "/_b", "variants": [{"name": "a", "weight": 1},
                                                                  {"name": "b", "weight": 1, "origin_prefix": "/c"}]}]},
     "experiments", "both claim the path /_b"),
    ({"experiments": [{"name": "x", "prefix": "/", "variants": TWO_VARIANTS, "cookie_max_age_days": 401}]},
     "experiments[0].cookie_max_age_days", "1 to 400"),
    ({"experiments": [{"name": "x", "prefix": "/", "variants": TWO_VARIANTS, "viewer_id_cookie": "a b"}]},
     "experiments[0].viewer_id_cookie", "cookie name"),
    ({"maintenance": {"enabled": True, "allow_cidrs": ["10.0.0.0/33"]}}, "maintenance.allow_cidrs[0]", "CIDR"),
    ({"maintenance": {"enabled": True, "allow_cidrs": [42]}}, "maintenance.allow_cidrs[0]", "CIDR"),
    ({"maintenance": {"retry_after_seconds": 0}}, "maintenance.retry_after_seconds", "1 to 604800"),
    ({"maintenance": {"body_html": "x" * (32 * 1024 + 1)}}, "maintenance.body_html", "at most 32768 bytes"),
    ({"maintenance": {"enabled": "on"}}, "maintenance.enabled", "true or false"),
    ({"cache_control": [{"path": "*.js"}]}, "cache_control[0].value", "is required"),
    ({"cache_control": [{"path": "*.js", "value": "max-age=1\r\nX-Evil: 1"}]}, "cache_control[0].value",
     "printable ASCII"),
    ({"cache_control": [{"path_regex": "([", "value": "no-cache"}]}, "cache_control[0].path_regex",
     "not a valid regular expression"),
    ({"cache_control": [{"path": "*.js", "path_regex": "js$", "value": "no-cache"}]}, "cache_control[0]",
     "exactly one of path"),
    # A trailing newline passed regexes ending in $: each of these reaches a header or a path.
    ({"cache_control": [{"path": "*", "value": "max-age=60\n"}]}, "cache_control[0].value", "printable ASCII"),
    ({"experiments": [{"name": "x\n", "prefix": "/", "variants": TWO_VARIANTS}]}, "experiments[0].name", "lower-case"),
    ({"experiments": [{"name": "x", "prefix": "/", "variants": TWO_VARIANTS, "viewer_id_cookie": "sid\n"}]},
     "experiments[0].viewer_id_cookie", "cookie name"),
    ({"rewrites": {"directory_index": "index.html\n"}}, "rewrites.directory_index", "file name"),
    ({"headers": {}}, "headers", "unknown key"),
    (["redirects"], "(top level)", "must be a mapping"),
]


@pytest.mark.parametrize("doc, path, message", BAD, ids=[f"{p}:{m[:30]}" for _, p, m in BAD])
def test_bad_configs_name_the_field_and_what_is_allowed(doc, path, message):
    _, problems = edge_handler.validate_config(doc)
    assert any(p == path and message in m for p, m in problems), problems


@pytest.mark.parametrize("redirects", [
    [{"prefix": "/a", "to": "/b"}, {"prefix": "/b/x", "to": "/a"}],  # /a/x -> /b/x -> /a -> /b: ends
    [{"prefix": "/old", "to": "/"}, {"prefix": "/new", "to": "/old"}],  # /new/x -> /old/x -> /x
    [{"prefix": "/a", "to": "/b"}, {"prefix": "/b", "to": "https://b.example/a"}],
    [{"prefix": f"/v{i}", "to": f"/v{i + 1}"} for i in range(20)],  # 20 hops: what browsers still follow
])
def test_chains_that_end_are_accepted(redirects):
    assert edge_handler.validate_config({"redirects": redirects})[1] == []


def test_a_loop_is_reported_once_on_its_first_rule():
    _, problems = edge_handler.validate_config({"redirects": [
        {"from": "/start", "to": "/a"}, {"prefix": "/a", "to": "/b"}, {"prefix": "/b", "to": "/a"}]})
    assert problems == [("redirects[1]", "makes a redirect loop with redirects[2]: /a -> /b -> /a "
                                         "(browsers give up with \"too many redirects\")")]


def test_empty_config_is_valid_and_gets_the_defaults():
    normalized, problems = edge_handler.validate_config(None)
    assert problems == []
    assert normalized == {
        "redirects": [],
        "rewrites": {"directory_index": "index.html", "spa_fallback": False, "spa_index": "/index.html",
                     "spa_exclude_prefixes": []},
        "experiments": [],
        "maintenance": {"enabled": False, "retry_after_seconds": 600, "allow_cidrs": [], "body_html": ""},
        "cache_control": [dict(r) for r in edge_handler.DEFAULT_CACHE_CONTROL],
    }


def test_normalization_decodes_paths_trims_prefixes_and_canonicalizes_networks():
    normalized, problems = edge_handler.validate_config({
        "redirects": [{"from": "/caf%C3%A9", "to": "/cafe"}, {"prefix": "/blog/", "to": "https://b.example"}],
        "maintenance": {"allow_cidrs": ["198.51.100.7/24", "2001:DB8::/32"]},
    })
    assert problems == []
    assert normalized["redirects"] == [
        {"from": "/café", "to": "/cafe", "status": 301, "query": "keep"},
        {"prefix": "/blog", "to": "https://b.example", "status": 301, "query": "keep", "keep_path": True}]
    assert normalized["maintenance"]["allow_cidrs"] == ["198.51.100.0/24", "2001:db8::/32"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_committed_environment_files_are_valid_and_normalization_is_stable(env):
    config = load_edge_config(EDGE_CONFIG_DIR / f"{env}.yaml")
    again, problems = edge_handler.validate_config(json.loads(config.content))
    assert problems == []
    assert edge_handler.canonical_json(again) == config.content


def test_file_errors_name_the_file_and_field_path(tmp_path):
    path = tmp_path / "prod.yaml"
    path.write_text(yaml.safe_dump({"redirects": [{"from": "/a", "to": "/b"}] * 3 + [
        {"from": "/c", "to": "/d", "status": 303}]}))
    with pytest.raises(ConfigError) as err:
        load_edge_config(path)
    assert f"{path}: redirects[3].status: must be one of 301, 302, 307, 308, got 303" in str(err.value)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "dev.yaml"
    path.write_text("redirects:\n  - from: /a\n   to: /b\n")
    with pytest.raises(ConfigError, match=r"dev.yaml: line \d+: is not valid YAML"):
        load_edge_config(path)


def test_content_over_the_item_size_budget_is_rejected():
    doc = {"redirects": [{"from": f"/page-{i:05d}-" + "x" * 60, "to": "/new"} for i in range(5000)]}
    with pytest.raises(ConfigError, match=r"\(whole file\): is \d+ bytes as stored JSON"):
        EdgeConfig.from_document(doc, "big.yaml")


@pytest.mark.parametrize("content", [
    "[" * 100_000,                               # JSON nested beyond the interpreter's stack
    '{"maintenance": {"body_html": "\\ud800"}}',  # a lone surrogate, which UTF-8 cannot carry
])
def test_an_item_the_edge_must_not_use_is_refused_as_invalid(content):
    item = {"schema_version": {"N": "1"}, "config_version": {"N": "2"}, "content": {"S": content},
            "content_hash": {"S": edge_handler.content_hash(content)}}
    with pytest.raises(edge_handler.InvalidItem):
        edge_handler.parse_item(item)


def test_redirect_chains_and_loops_are_refused_by_the_cli_and_left_alone_at_the_edge():
    # The function answers each request with one precomputed redirect, chain or not: a loop breaks the
    # site in the browser, not the function, and following every chain would cost its cold start.
    doc = {"redirects": [{"from": "/a", "to": "/b"}, {"prefix": "/b", "to": "/a"}, {"from": "/c", "to": "/a"}]}
    assert edge_handler.validate_config(doc)[1] == [
        ("redirects[2].to", "is itself redirected by redirects[0]: point straight at the final target"),
        ("redirects[0]", 'makes a redirect loop with redirects[1]: /a -> /b -> /a (browsers give up with '
                         '"too many redirects")')]
    content = json.dumps(doc)
    item = {"schema_version": {"N": "1"}, "config_version": {"N": "2"}, "content": {"S": content},
            "content_hash": {"S": edge_handler.content_hash(content)}}
    config = edge_handler.parse_item(item)
    assert config.exact_redirects["/a"].location == "/b"
    assert edge_handler.validate_config(doc, operator_checks=False)[1] == []


def test_an_item_whose_attributes_have_the_wrong_type_is_refused_as_invalid():
    base = {"schema_version": {"N": "1"}, "config_version": {"N": "2"}, "content": {"S": "{}"},
            "content_hash": {"S": edge_handler.content_hash("{}")}}
    with pytest.raises(edge_handler.InvalidItem, match="missing or malformed attribute 'S'"):
        edge_handler.parse_item({**base, "content_hash": {"N": "1"}})
    with pytest.raises(edge_handler.InvalidItem, match="must be strings"):
        edge_handler.parse_item({**base, "content": {"S": 5}})
