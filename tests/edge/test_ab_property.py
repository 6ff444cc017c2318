"""Property tests: A/B assignment is deterministic per viewer id and splits traffic by the weights."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from templates.edge_functions import edge_handler

VIEWERS = 20_000

weights_strategy = st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=6).filter(
    lambda ws: sum(ws) > 0)


def experiment(name: str, weights: list[int], prefix: str = "/") -> edge_handler.Experiment:
    doc = {"experiments": [{"name": name, "prefix": prefix, "variants": [
        {"name": f"v{i}", "weight": w, "origin_prefix": f"/_v{i}" if i else ""} for i, w in enumerate(weights)]}]}
    normalized, problems = edge_handler.validate_config(doc)
    assert problems == []
    return edge_handler.compile_config(normalized).experiments[normalized["experiments"][0]["prefix"]]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(name=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True), weights=weights_strategy,
       viewer=st.text(max_size=200))
def test_assignment_is_deterministic_and_never_picks_a_zero_weight_variant(name, weights, viewer):
    first = edge_handler.assign_variant(experiment(name, weights), viewer)
    # A freshly compiled copy, and the same experiment under another prefix, agree.
    assert edge_handler.assign_variant(experiment(name, weights), viewer) == first
    assert edge_handler.assign_variant(experiment(name, weights, prefix="/other"), viewer).name == first.name
    assert first.weight > 0


@settings(max_examples=25, deadline=None, derandomize=True)
@given(name=st.from_regex(r"[a-z][a-z0-9-]{2,12}", fullmatch=True), weights=weights_strategy,
       salt=st.integers(min_value=0, max_value=10**6))
def test_split_matches_the_weights_within_statistical_tolerance(name, weights, salt):
    exp = experiment(name, weights)
    counts = {v.name: 0 for v in exp.variants}
    for i in range(VIEWERS):
        counts[edge_handler.assign_variant(exp, f"ip:198.51.{salt}.{i}|Mozilla/5.0").name] += 1
    total = sum(weights)
    for variant in exp.variants:
        p = variant.weight / total
        expected = VIEWERS * p
        # Binomial standard deviation; 5 sigma keeps false alarms below one in a million per check.
        tolerance = 5 * math.sqrt(VIEWERS * p * (1 - p)) + 1
        assert abs(counts[variant.name] - expected) <= tolerance, (weights, counts)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(viewer=st.text(min_size=1, max_size=50))
def test_experiments_assign_independently(viewer):
    # The experiment name salts the hash: one experiment's bucket says nothing about another's.
    a, b = experiment("alpha", [1, 1]), experiment("beta", [1, 1])
    same = sum(edge_handler.assign_variant(a, f"{viewer}-{i}").name == edge_handler.assign_variant(
        b, f"{viewer}-{i}").name for i in range(2000))
    assert abs(same - 1000) <= 5 * math.sqrt(2000 * 0.25)
