"""Learning agents for MCIA and the loader of their checkpoints.

- :class:`HybridPPO`: PPO with a per-device hybrid policy (joint categorical over (version, cut), Beta share
  weights), trained directly on the native vector env. ``mcia train --algo hppo``.
- :func:`load_agent`: any checkpoint directory written by ``mcia train`` (HybridPPO, Stable-Baselines3 PPO
  or RLlib PPO) as an object with ``act(obs, deterministic=True)`` mapping observations ``(B, 7N + 3)`` to
  the Dict action of ``(B, N)`` arrays; this is what ``mcia.evaluate(DIR)`` uses.
- :class:`SolverShares`: a loaded agent's (version, cut) with the optimizer's shares for them;
  ``mcia.evaluate("DIR+shares")``.
"""

from __future__ import annotations

from .hppo import HPPOParams, HybridPPO
from .loading import Sb3Agent, RllibAgent, detect_algo, load_agent
from .solver_shares import SolverShares

__all__ = ["HPPOParams", "HybridPPO", "RllibAgent", "Sb3Agent", "SolverShares", "detect_algo", "load_agent"]
