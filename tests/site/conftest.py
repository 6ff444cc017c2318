"""Fixtures of the site publisher tests: no real AWS (the moto server is tests/conftest.py's)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helpers next to this file (site_support) and the rollout tests' samples import by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollout"))


@pytest.fixture(autouse=True)
def _no_real_aws(no_real_aws: None) -> None:
    """Every test here runs without real credentials (tests/conftest.py; moto_endpoint comes from there too)."""
