"""A policy's discrete decisions with the optimizer's shares: :class:`SolverShares`.

The wrapped policy (a trained agent, or a built-in one) picks each device's (version, cut); the optimizer's
share step (:meth:`mcia.policies.RustPolicy.shares`) then gives the bandwidth and edge-compute weights it
would give exactly those decisions in the environment's state, and the wrapped policy's own weights are
dropped. The shares are the part of a slot with a convex core, which the solver handles near exactly for a
slot at a time; the choice of (version, cut) is where looking beyond the slot pays (the queues).

``mcia.evaluate("runs/hppo+shares")`` (and ``compare``, ``sweep``, ``mcia agents``) evaluate a checkpoint
this way; ``"greedy+shares"`` and ``"optimizer+shares"`` do the same for a built-in policy.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from ..config import ConfigLike, as_config
from ..policies import RustPolicy


class SolverShares:
    """``policy``'s (version, cut) and the optimizer's shares for them, as a policy of the vector env's state.

    Args:
        policy: a trained agent (anything with ``act(obs, deterministic=True)`` returning the Dict action of
            ``(B, N)`` arrays, such as :func:`mcia.agents.load_agent`'s) or a policy of the env's state
            (``needs_state = True`` and called with the vector env: :class:`mcia.policies.RustPolicy`,
            :class:`mcia.queue_relief.QueueRelief`).
        config: the scenario it is evaluated on.
        name: the policy's name in tables (default: the wrapped policy's name and ``+shares``).
    """

    needs_state = True

    def __init__(self, policy: Any, config: ConfigLike = None, name: Optional[str] = None) -> None:
        if not (getattr(policy, "needs_state", False) and callable(policy)) and not callable(getattr(policy, "act", None)):
            raise TypeError(f"SolverShares needs a trained agent (with act(obs)) or a policy of the env's state, got {type(policy).__name__}")
        self.policy = policy
        self.name = name or f"{getattr(policy, 'name', type(policy).__name__)}+shares"
        self.solver = RustPolicy("optimizer", as_config(config))

    def act_with_state(self, venv, obs: np.ndarray) -> Dict[str, np.ndarray]:
        """The batch's action: the wrapped policy's decisions and the optimizer's weights for them in
        ``venv``'s current state (reused buffers: copy them to keep them)."""
        if getattr(self.policy, "needs_state", False):
            action = self.policy(venv)
        else:
            action = self.policy.act(obs, deterministic=True)
        return self.solver.shares(venv, action)

    def __repr__(self) -> str:
        return f"SolverShares({self.name!r})"
