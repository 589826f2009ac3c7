"""Shared fixtures for the Python tests."""

import os

import numpy as np
import pytest
from hypothesis import settings

import mcia

# Fuzzing budgets (tests/test_fuzz.py): "ci" keeps the whole fuzz file near a minute on 2 cores; "long" is for
# local runs (`python -m pytest tests/test_fuzz.py --hypothesis-profile=long`).
settings.register_profile("ci", max_examples=800, deadline=None, derandomize=True)
settings.register_profile("long", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def _session_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mcia-cache")


@pytest.fixture(autouse=True)
def _isolated_static_cache(_session_cache_dir, monkeypatch):
    """Static-table searches (the ``static`` policy and anchor, the version ablation) cache their tables on
    disk: keep them in a per-session temporary directory instead of the user's ``~/.cache/mcia``. Subprocesses
    (notebook kernels, ``mcia`` CLI runs) inherit the variable."""
    monkeypatch.setenv("MCIA_CACHE_DIR", str(_session_cache_dir))


@pytest.fixture
def small_config():
    """A short-episode scenario so autoreset paths are reached quickly."""
    return mcia.Config({"time": {"episode_slots": 5}})


def random_actions(space, seed):
    """A reproducible sampler of actions from a (single or batched) Dict action space."""
    space.seed(seed)
    return space.sample
