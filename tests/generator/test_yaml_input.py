"""Hostile and broken YAML, for both kinds of configuration file: one message with file and line, never a traceback."""

from __future__ import annotations

import contextlib
import io
import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deploy
import generate
from edgeconfig.model import load_edge_config
from templates.config import MAX_YAML_VALUES, ConfigError, load_config

ENV_FILE = textwrap.dedent("""\
    project: shop
    primary_region: us-west-2
    deploy:
      accounts: ["123456789012"]
    """)
EDGE_FILE = textwrap.dedent("""\
    redirects:
      - {from: /a, to: /b}
    maintenance:
      enabled: false
    """)

# (kind, valid file, the loader)
KINDS = [("environment", ENV_FILE, load_config), ("edge", EDGE_FILE, load_edge_config)]


def billion_laughs(levels: int) -> str:
    """Each anchor a list of nine aliases of the previous one: 9**levels values once expanded."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\nredirects: *a{levels}\n"


HOSTILE = [
    # (name, file bytes built from the valid file, line named, words of the message)
    ("duplicate top-level key", lambda ok: b"x: 1\n" + ok + b"x: 2\n", "line 6", "repeats the key 'x' of line 1"),
    ("duplicate nested key", lambda ok: b"x:\n  a: 1\n  b: 2\n  a: 3\n" + ok, "line 4", "repeats the key 'a' of line 2"),
    ("duplicate key in a flow mapping", lambda ok: b"x: {a: 1, a: 1}\n" + ok, "line 1", "repeats the key 'a'"),
    ("billion laughs", lambda ok: billion_laughs(9).encode(), "line 7",  # a6: 9**7 values
     f"expands to more than {MAX_YAML_VALUES} values through aliases"),
    ("alias cycle", lambda ok: b"x: &loop [1, *loop]\n" + ok, "line 1", "an alias refers to a collection that contains it"),
    ("not UTF-8", lambda ok: ok + b"# caf\xe9\n", "line 5", "is not UTF-8 text (byte 0xe9 at column 6)"),
    ("UTF-16", lambda ok: ok.decode().encode("utf-16"), "line 1", "is not UTF-8 text"),
    ("control character", lambda ok: ok + b"# a\x1bb\n", "line 5", "special characters are not allowed (character U+001B)"),
    ("deep nesting", lambda ok: ok + b"x: " + b"[" * 5000 + b"]" * 5000 + b"\n", "line 5", "nests more than 50 levels deep"),
    ("integer too long", lambda ok: ok + b"x: " + b"9" * 5000 + b"\n", "line 5", "cannot be read: Exceeds the limit"),
    ("impossible date", lambda ok: ok + b"x: 2024-13-45\n", "line 5", "cannot be read: month must be in 1..12"),
    ("two documents", lambda ok: ok + b"---\nx: 1\n", "line 5", "expected a single document"),
    ("python tag", lambda ok: ok + b"x: !!python/object/apply:os.system [id]\n", "line 5", "could not determine a constructor"),
    ("unhashable key", lambda ok: ok + b"? [a, b]\n: 1\n", "line 5", "found unhashable key"),
]


@pytest.mark.parametrize("kind, valid, load", KINDS, ids=[k[0] for k in KINDS])
@pytest.mark.parametrize("name, build, line, words", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_yaml_is_one_message_with_file_and_line(tmp_path, kind, valid, load, name, build, line, words):
    path = tmp_path / "qa.yaml"
    path.write_bytes(build(valid.encode()))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    message = str(caught.value)
    assert message.startswith(f"{path}: {line}: "), message
    assert words in message and len(message) < 400, message


@pytest.mark.parametrize("kind, valid, load", KINDS, ids=[k[0] for k in KINDS])
def test_merge_keys_may_override_what_they_merge(tmp_path, kind, valid, load):
    path = tmp_path / "qa.yaml"
    path.write_text(valid + "x: &base {a: 1, b: 2}\ny: {<<: *base, a: 3}\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert {field for field, _ in caught.value.problems} == {"x", "y"}  # unknown keys, not duplicates


@pytest.mark.parametrize("kind, valid, load", KINDS, ids=[k[0] for k in KINDS])
def test_a_byte_order_mark_and_aliases_within_bounds_are_fine(tmp_path, kind, valid, load):
    path = tmp_path / "qa.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + valid.encode())
    load(path)


def test_a_value_in_a_message_is_shortened_never_expanded(tmp_path):
    path = tmp_path / "qa.yaml"
    path.write_text(billion_laughs(4).replace("redirects", "project") + "deploy: {accounts: ['123456789012']}\n"
                    + "waf: {rate_limit: '" + "9" * 500 + "'}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "project: must be 3-16 lowercase letters, digits and hyphens, starting with a letter, got a list" in message
    assert "waf.rate_limit: must be an integer from 10 to 2000000000 (requests per IP per 5 minutes), got a string " \
           "'99999" in message
    assert len(message) < 2000


def test_generate_exits_2_on_hostile_yaml(tmp_path, capsys):
    (tmp_path / "qa.yaml").write_bytes(ENV_FILE.encode() + b"project: other\n")
    assert generate.main(["--config-dir", str(tmp_path), "--no-lint", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path}/qa.yaml: line 5: is not valid YAML: repeats the key 'project' of line 1 " \
                  "(YAML would silently keep only the last value)\n"
    assert not (tmp_path / "out").exists()


def test_edge_config_validate_exits_2_on_hostile_yaml(tmp_path, capsys):
    path = tmp_path / "prod.yaml"
    path.write_text(billion_laughs(9))
    assert deploy.main(["edge-config", "validate", "--env", "prod", "--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: line 7: is not valid YAML: expands to more than") and "Traceback" not in err


# --- the environment file's own examples from the issue ------------------------------------------


@pytest.mark.parametrize("extra, field, words", [
    ("tags:\n  - {Key: team, Value: web}\n", "tags", "must be a mapping, got a list"),
    ("tags:\n  - team\n", "tags", "must be a mapping, got a list"),
    ("tags: {1: web}\n", "tags.1", "must be a tag key"),
    ("domain: {zone_name: example.com, hosted_zone_id: Z0123456789ABC}\n", "domain.aliases",
     "must list at least one name to serve when domain.hosted_zone_id is set"),
    ("domain: {zone_name: example.com, hosted_zone_id: Z0123456789ABC, aliases: []}\n", "domain.aliases",
     "must list at least one name"),
])
def test_environment_examples_of_the_issue_exit_2(tmp_path, capsys, extra, field, words):
    (tmp_path / "qa.yaml").write_text(ENV_FILE + extra)
    assert generate.main(["--config-dir", str(tmp_path), "--no-lint", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"qa.yaml: {field}: {words}" in err and "Traceback" not in err


def test_a_domain_with_zone_id_and_aliases_still_generates(tmp_path):
    (tmp_path / "qa.yaml").write_text(ENV_FILE + "domain: {zone_name: example.com, hosted_zone_id: Z0123456789ABC, "
                                      "aliases: [www.example.com]}\n")
    assert generate.main(["--config-dir", str(tmp_path), "--no-lint", "--output", str(tmp_path / "out")]) == 0
    assert (Path(tmp_path) / "out" / "qa" / "route53.json").is_file()


# --- property: any bytes, any YAML document, into both loaders and both CLIs ----------------------

FUZZ = settings(max_examples=100, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])

yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                         st.sampled_from(["us-west-2", "example.com", "Z0123456789ABC", "123456789012", "*a", "&a"]))
yaml_values = st.recursive(yaml_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)), max_leaves=12)
# Fragments that make YAML interesting: anchors, aliases, merges, tags, flow and block styles.
yaml_fragments = st.sampled_from([
    "a: &x [1, 2]\n", "b: *x\n", "c: {<<: *x}\n", "d: !!binary aGk=\n", "e: !!set {a, b}\n", "f: 2024-02-30\n",
    "g: ? [a]\n", "project: shop\n", "project: shop\n", "tags: [a]\n", "deploy: {accounts: ['123456789012']}\n",
    "redirects:\n  - {from: /a, to: /b}\n", "  - x\n", "- y\n", "---\n", "%YAML 1.1\n", "\t\n", "\"\\ud800\"\n",
    "h: 1e400\n", "i: 0x1F\n", "j: .nan\n", "k: &k [*k]\n", "domain: {zone_name: example.com, hosted_zone_id: Z1}\n",
])


def _load_both(data: bytes) -> None:
    """Each loader returns a configuration or raises one ConfigError; each CLI exits 0 or 2."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "qa.yaml"
        path.write_bytes(data)
        for load in (load_config, load_edge_config):
            try:
                load(path)
            except ConfigError as exc:
                assert exc.problems and len(str(exc)) < 5000


@FUZZ
@given(data=st.binary(max_size=300))
def test_any_bytes_are_a_configuration_or_one_clear_error(data):
    _load_both(data)


@FUZZ
@given(document=yaml_values, fragments=st.lists(yaml_fragments, max_size=5))
def test_any_yaml_document_is_a_configuration_or_one_clear_error(document, fragments):
    _load_both(yaml.safe_dump(document).encode() + "".join(fragments).encode())
    _load_both("".join(fragments).encode() + yaml.safe_dump(document, default_flow_style=True).encode())


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy = yaml_scalars) -> st.SearchStrategy:
    """Valid values nine times in ten: enough files pass validation to reach the builders."""
    return st.integers(0, 9).flatmap(lambda n: invalid if n == 0 else valid)


env_documents = st.fixed_dictionaries({"project": st.just("shop"),
                                       "deploy": st.just({"accounts": ["123456789012", "210987654321"]})}, optional={
    "primary_region": mostly(st.sampled_from(["us-east-1", "eu-west-1", "us-west-2"])),
    "edge_config": st.fixed_dictionaries({}, optional={
        "replica_regions": mostly(st.lists(st.sampled_from(["ap-southeast-2", "eu-central-1"]), unique=True)),
        "cache_ttl_seconds": mostly(st.integers(1, 3600))}),
    "cdn": st.fixed_dictionaries({}, optional={"price_class": mostly(st.sampled_from(["PriceClass_All"])),
                                               "spa_fallback": mostly(st.booleans())}),
    "domain": st.fixed_dictionaries({"zone_name": mostly(st.sampled_from(["example.com"]))}, optional={
        "hosted_zone_id": mostly(st.sampled_from(["Z0123456789ABC"])),
        "aliases": mostly(st.lists(st.sampled_from(["example.com", "www.example.com"]), unique=True))}),
    "waf": st.fixed_dictionaries({}, optional={"rate_limit": mostly(st.integers(10, 10**6)),
                                               "blocked_countries": mostly(st.lists(st.sampled_from(["KP", "IR"]),
                                                                                    unique=True))}),
    "monitoring": st.fixed_dictionaries({}, optional={"alarm_email": mostly(st.just("ops@example.com"))}),
    "tags": mostly(st.dictionaries(st.sampled_from(["Team", "CostCenter"]), st.text("abc", max_size=5)), yaml_values),
})


@settings(FUZZ, max_examples=10)  # each valid file renders every template: about 0.15 s
@given(document=env_documents)
def test_an_environment_file_generates_or_exits_2(document):
    """What the loader accepts, the builders build: a valid file never ends in a traceback (exit 0 or 2)."""
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "qa.yaml").write_text(yaml.safe_dump(document))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            status = generate.main(["--config-dir", directory, "--no-lint", "--output", str(Path(directory) / "out")])
        assert status in (0, 2), err.getvalue()
        assert (status == 0) == (Path(directory) / "out" / "qa" / "root.json").is_file()


@settings(FUZZ, max_examples=40)
@given(document=yaml_values, fragments=st.lists(yaml_fragments, max_size=3))
def test_edge_config_validate_exits_0_or_2(document, fragments):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "prod.yaml"
        path.write_bytes("".join(fragments).encode() + yaml.safe_dump({"redirects": document}).encode())
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert deploy.main(["edge-config", "validate", "--env", "prod", "--file", str(path)]) in (0, 2)
