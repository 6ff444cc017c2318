"""Fixtures of the rollout tests: no real AWS, one moto HTTP server, stubbed clients."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helpers next to this file (rollout_support, rollout_samples) import by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollout.rehearse import reset_moto  # noqa: E402
from rollout_support import StubbedClients  # noqa: E402


@pytest.fixture(autouse=True)
def _no_real_aws(no_real_aws: None) -> None:
    """Every test here runs without real credentials (tests/conftest.py; moto_endpoint comes from there too)."""


@pytest.fixture
def moto(moto_endpoint: str) -> str:
    """The moto server, emptied."""
    reset_moto(moto_endpoint)
    return moto_endpoint


@pytest.fixture
def stubbed() -> StubbedClients:
    return StubbedClients()
