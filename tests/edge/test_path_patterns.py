"""Cache-Control path patterns: the linear-time matcher agrees with re and fnmatch, refuses what it cannot bound."""

from __future__ import annotations

import fnmatch
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templates.edge_functions import edge_handler
from templates.edge_functions.edge_handler import PatternError, compile_path_pattern

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def search(pattern: str, path: str) -> bool:
    return compile_path_pattern("path_regex", pattern).search(path)


# --- the worst cases of a backtracking matcher are linear here ----------------------------------

# Each of these takes Python's re from seconds to hours on the path given (exponential or
# polynomial backtracking); here each is one table step per character. tests/bench_edge.py prints
# the times.
WORST_CASES = [
    (r"^/(a+)+$", "/" + "a" * 30 + "!", "/" + "a" * 30),
    (r"^/(a|a)+$", "/" + "a" * 30 + "!", "/aa"),
    (r"^/(a|aa)+$", "/" + "a" * 30 + "!", "/" + "a" * 31),
    (r"^/(a*)*$", "/" + "a" * 30 + "!", "/"),
    (r"^/([a-z]+)*\.html$", "/" + "a" * 30 + "!", "/" + "a" * 30 + ".html"),
    (r"a*a*a*a*a*b", "a" * 1025, "a" * 1024 + "b"),
    (r"(.*)*x\.js$", "/" + "a" * 1024, "/" + "a" * 1020 + "x.js"),
    (r"(\w+\d*)+$", "a1" * 512 + "!", "a1" * 512),
]


@pytest.mark.parametrize("pattern, hostile, matching", WORST_CASES)
def test_patterns_that_make_re_backtrack_are_answered_in_one_pass(pattern, hostile, matching):
    assert search(pattern, hostile) is False
    assert search(pattern, matching) is True


@pytest.mark.parametrize("pattern, hostile, matching", WORST_CASES)
def test_a_viewer_cannot_slow_the_origin_response_with_a_hostile_path(cf, use_config, pattern, hostile, matching):
    use_config({"cache_control": [{"path_regex": pattern, "value": "max-age=60"}]})
    response = edge_handler.origin_response(cf.response("origin-response", uri=hostile), None)
    assert "cache-control" not in response["headers"]
    response = edge_handler.origin_response(cf.response("origin-response", uri=matching), None)
    assert response["headers"]["cache-control"] == [{"key": "Cache-Control", "value": "max-age=60"}]


def test_paths_longer_than_any_s3_key_match_no_rule(cf, use_config):
    use_config({"cache_control": [{"path": "*", "value": "max-age=60"}]})
    longest = "/" + "k" * 1024  # S3 keys are at most 1,024 bytes
    ok = edge_handler.origin_response(cf.response("origin-response", uri=longest), None)
    assert ok["headers"]["cache-control"][0]["value"] == "max-age=60"
    too_long = edge_handler.origin_response(cf.response("origin-response", uri=longest + "k"), None)
    assert "cache-control" not in too_long["headers"]
    too_long = edge_handler.origin_response(cf.response("origin-response", uri="/" + "%C3%A9" * 513), None)
    assert "cache-control" not in too_long["headers"]  # 513 characters, 1,027 bytes


# --- what is refused, and why ----------------------------------------------------------------

REFUSED = [
    (r"(a)\1", "backreference"),
    (r"(?P<x>a)(?P=x)", "backreference"),
    (r"\.js(?=\?)", "lookaround"),
    (r"(?<!/)x", "lookaround"),
    (r"(?>a+)b", "atomic group"),
    (r"(a)?(?(1)b|c)", "conditional"),
    (r"(?i)\.html$", "inline flags"),
    (r"(?s:.)", "inline flags"),
    (r"\bmain\b", "word boundary"),
    (r"a++", "possessive"),
    (r"a{2}+", "possessive"),
    (r"\0", "escape \\0"),
    (r"\N{DIGIT ONE}", "escape \\N"),
    (r"x{101}", "more than 100 times"),
    (r"(a{100}){50}", "too large once its repeats are expanded"),
    (r"(a|b)*a(a|b){9}", "too complex"),
    ("(" * 21 + "a" + ")" * 21, "more than 20 deep"),
    ("a" * 513, "at most 512 characters"),
    (r"([", "not a valid regular expression"),
    (r"a**", "not a valid regular expression"),
    (r"x{3,2}", "not a valid regular expression"),
]


@pytest.mark.parametrize("pattern, message", REFUSED)
def test_patterns_outside_the_subset_are_refused_with_the_reason(pattern, message):
    with pytest.raises(PatternError, match=re.escape(message)):
        compile_path_pattern("path_regex", pattern)


def test_validation_names_the_rule_and_says_why():
    _, problems = edge_handler.validate_config({"cache_control": [
        {"path": "*.html", "value": "no-cache"}, {"path_regex": r"^/(a+)\1$", "value": "no-cache"}]})
    assert problems == [("cache_control[1].path_regex", "uses a backreference (\\1), which no linear-time matcher "
                         "can support: path patterns are matched in linear time (see docs/edge-config.md, "
                         "\"Path patterns\")")]


def test_the_states_of_all_rules_together_are_bounded():
    rule = {"path_regex": r"(a|b)*a(a|b){7}", "value": "no-cache"}  # 129 states each
    assert compile_path_pattern("path_regex", rule["path_regex"]).states == 129
    _, problems = edge_handler.validate_config({"cache_control": [rule] * 15})
    assert problems == []
    _, problems = edge_handler.validate_config({"cache_control": [rule] * 16})
    assert problems == [("cache_control", "the patterns together need 2064 matcher states, more than 2000: "
                         "simplify or merge rules")]


@pytest.mark.parametrize("pattern, path, expected", [
    (r"[.-][0-9a-f]{8,}\.[A-Za-z0-9]+$", "/static/app.3f9a1c2b.js", True),
    (r"[.-][0-9a-f]{8,}\.[A-Za-z0-9]+$", "/static/app.3f9a1c2.js", False),
    (r"\.html$", "/index.html\n", True),  # Python's $ also matches before a final newline
    (r"\.html\Z", "/index.html\n", False),
    (r"^/a$\n", "/a\n", True),
    (r"\d", "/٣", False),  # \d, \w and \s are ASCII-only
    (r"\w+\.css", "/é.css", False),
    (r"[^a-z]", "/", True),
    (r"caf\u00e9", "/café", True),
    (r"[\x00-\x1f]", "/a\tb", True),
    (r"(?#a comment)^/x", "/x", True),
    (r"(?P<ext>js|css)$", "/a.css", True),
    (r"a{,}b", "b", True),
    (r"a{}", "/a{}", True),
    (r"a*?b", "/aab", True),
])
def test_supported_syntax(pattern, path, expected):
    assert search(pattern, path) is expected


# --- property: the same answers as re (ASCII classes) and fnmatch --------------------------------

ALPHABET = "ab/.-\né"
atoms = st.sampled_from(["a", "b", "/", r"\.", "-", ".", r"\d", r"\w", r"\s", r"\W", "[ab]", "[^a]", "[a-c/]",
                         "[.-]", r"[\n]", "é", r"\n", "^", "$", r"\A", r"\Z", "()"])


def _regex(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    quantifier = st.sampled_from(["*", "+", "?", "*?", "{2}", "{1,3}", "{0,2}", "{2,}", "{,2}"])
    return st.one_of(
        st.tuples(children, children).map("".join),
        st.tuples(children, children).map("|".join),
        children.map(lambda r: f"({r})"),
        children.map(lambda r: f"(?:{r})"),
        st.tuples(children.map(lambda r: f"(?:{r})"), quantifier).map("".join),
    )


regexes = st.recursive(atoms, _regex, max_leaves=8)
paths = st.text(alphabet=ALPHABET, max_size=12)


@FUZZ
@given(pattern=regexes, path_list=st.lists(paths, min_size=1, max_size=8))
def test_regex_answers_match_python_re(pattern, path_list):
    try:
        compiled = compile_path_pattern("path_regex", pattern)
    except PatternError as exc:
        assert "too complex" in str(exc) or "not a valid regular expression" in str(exc), exc
        return
    for path in path_list:
        assert compiled.search(path) == bool(re.search(pattern, path, re.ASCII)), (pattern, path)


globs = st.text(alphabet="ab*?[]!-/.", max_size=10)


@FUZZ
@given(glob=globs, path_list=st.lists(st.text(alphabet="ab*?[]!-/.\n", max_size=10), min_size=1, max_size=8))
def test_glob_answers_match_fnmatch(glob, path_list):
    compiled = compile_path_pattern("path", glob)
    for path in path_list:
        assert compiled.search(path) == fnmatch.fnmatchcase(path, glob), (glob, path)


@FUZZ
@given(pattern=st.text(max_size=40), path=st.text(max_size=20))
def test_any_text_compiles_or_is_refused_and_agrees_with_re(pattern, path):
    try:
        compiled = compile_path_pattern("path_regex", pattern)
    except PatternError:
        return
    assert compiled.search(path) == bool(re.search(pattern, path, re.ASCII))


def _every_ancestor(table: dict, path: str):
    """longest_prefix's answer by its definition: the path, then each /-separated ancestor, then "/"."""
    candidates = [path] + [path[:i] for i in range(len(path) - 1, 0, -1) if path[i] == "/"] + ["/"]
    return next((table[c] for c in candidates if c in table), None)


_SEGMENT = st.text(alphabet="ab/", min_size=0, max_size=4)


@FUZZ
@given(keys=st.lists(st.builds(lambda s: "/" + s, _SEGMENT), max_size=6),
       path=st.builds(lambda parts: "/" + "/".join(parts), st.lists(st.text(alphabet="ab", max_size=3), max_size=6)))
def test_longest_prefix_skips_only_ancestors_longer_than_every_key(keys, path):
    # The walk starts at the table's longest key; it must still find what a walk over every
    # ancestor finds, for keys of any depth (with empty segments and "/" among them).
    table = edge_handler.PrefixTable({key: key for key in keys})
    assert table.longest == max(map(len, keys), default=0)
    assert edge_handler.longest_prefix(table, path) == _every_ancestor(table, path)


_KEYS = st.lists(st.builds(lambda s: "/" + s, _SEGMENT), max_size=5)


@FUZZ
@given(redirects=_KEYS, spa_excludes=_KEYS, experiments=_KEYS,
       path=st.builds(lambda parts: "/" + "/".join(parts), st.lists(st.text(alphabet="ab", max_size=3), max_size=6)))
def test_the_route_table_answers_as_the_three_prefix_tables(redirects, spa_excludes, experiments, path):
    # A viewer request walks its path once, in the table that merges the three; each answer must be
    # the one the table it came from gives, for any overlap of keys.
    tables = [edge_handler.PrefixTable({key: f"{kind}:{key}" for key in keys})
              for kind, keys in (("redirect", redirects), ("spa", spa_excludes), ("experiment", experiments))]
    route = edge_handler.longest_prefix(edge_handler._compile_routes(*tables), path) or edge_handler._NO_ROUTE
    redirect, spa_excluded, experiment = (_every_ancestor(table, path) for table in tables)
    assert route == (redirect, spa_excluded is not None, experiment)
