"""Shared fixtures for the Python tests."""

import numpy as np
import pytest

import mcia


@pytest.fixture
def small_config():
    """A short-episode scenario so autoreset paths are reached quickly."""
    return mcia.Config({"time": {"episode_slots": 5}})


def random_actions(space, seed):
    """A reproducible sampler of actions from a (single or batched) Dict action space."""
    space.seed(seed)
    return space.sample
