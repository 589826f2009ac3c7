"""Shared fixtures for the Python tests."""

import numpy as np
import pytest

import mcia


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
