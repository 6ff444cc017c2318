"""Fixtures for the generator tests: the committed environments, built in memory once."""

from __future__ import annotations

import pytest

from templates.build import build_templates
from templates.config import environment_names, load_environment


@pytest.fixture(scope="session")
def envs():
    """Every committed environment, by name."""
    return {name: load_environment(name) for name in environment_names()}


@pytest.fixture(scope="session")
def built(envs):
    """Environment name -> component -> template dict."""
    return {name: build_templates(env) for name, env in envs.items()}

