"""Loading trained agents from checkpoint directories: :func:`load_agent`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Any, Dict, Iterator, Optional

import numpy as np

from ..config import Config

SB3_MODEL_FILE = "model.zip"
SB3_VECNORM_FILE = "vecnormalize.pkl"
RLLIB_CHECKPOINT_DIR = "rllib_checkpoint"


@contextlib.contextmanager
def quiet_ray(quiet: bool = True) -> Iterator[None]:
    """Raises the level of Ray's and RLlib's Python loggers to ERROR inside the block (when ``quiet``), and
    asks Ray's C++ core to log fatal errors only for instances started inside it (unless the user set
    ``RAY_BACKEND_LOG_LEVEL``). Ray prints notices about its API stack and its own deprecations that a user of
    the recipes cannot act on; errors still show."""
    if not quiet:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("ray", "ray.rllib", "ray.tune", "ray.train")]
    before = [lg.level for lg in loggers]
    backend_set = "RAY_BACKEND_LOG_LEVEL" in os.environ
    if not backend_set:
        os.environ["RAY_BACKEND_LOG_LEVEL"] = "fatal"
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before):
            lg.setLevel(level)
        if not backend_set:
            os.environ.pop("RAY_BACKEND_LOG_LEVEL", None)


def detect_algo(path: str) -> str:
    """The algorithm of a checkpoint directory, from the files it holds: ``"hppo"`` (``hppo.pt``),
    ``"sb3-ppo"`` (``model.zip``) or ``"rllib-ppo"`` (``rllib_checkpoint/``)."""
    from .hppo import AGENT_FILE, CHECKPOINT_FILE

    if not os.path.isdir(path):
        raise FileNotFoundError(f"agent checkpoint directory {path!r} does not exist")
    meta = os.path.join(path, AGENT_FILE)
    if os.path.exists(meta):
        with open(meta, encoding="utf-8") as f:
            algo = json.load(f).get("algo")
        if algo:
            return str(algo)
    if os.path.exists(os.path.join(path, CHECKPOINT_FILE)):
        return "hppo"
    if os.path.exists(os.path.join(path, SB3_MODEL_FILE)):
        return "sb3-ppo"
    if os.path.isdir(os.path.join(path, RLLIB_CHECKPOINT_DIR)):
        return "rllib-ppo"
    raise ValueError(
        f"{path!r} is not an agent checkpoint: expected hppo.pt (HybridPPO), model.zip (Stable-Baselines3) "
        f"or {RLLIB_CHECKPOINT_DIR}/ (RLlib)"
    )


def load_agent(path: str) -> Any:
    """Loads a checkpoint directory written by ``mcia train`` (or by :meth:`HybridPPO.save`, the
    Stable-Baselines3 recipe or the RLlib recipe). The result has ``act(obs, deterministic=True)`` taking
    a batch ``(B, 7N + 3)`` and returning the Dict action of ``(B, N)`` arrays, and a ``config``."""
    algo = detect_algo(path)
    if algo == "hppo":
        from .hppo import HybridPPO

        return HybridPPO.load(path)
    if algo == "sb3-ppo":
        return Sb3Agent(path)
    if algo == "rllib-ppo":
        return RllibAgent(path)
    raise ValueError(f"{path!r}: unknown agent algorithm {algo!r}")


def _config_of(path: str) -> Config:
    p = os.path.join(path, "config.json")
    return Config(p) if os.path.exists(p) else Config()


def _meta(path: str) -> Dict[str, Any]:
    p = os.path.join(path, "agent.json")
    if not os.path.exists(p):
        return {}
    with open(p, encoding="utf-8") as f:
        return json.load(f)


class Sb3Agent:
    """A Stable-Baselines3 model trained on :func:`mcia.sb3.make_sb3_env` (flat Box or MultiDiscrete
    actions), with its ``VecNormalize`` observation statistics when the directory has them."""

    def __init__(self, path: str) -> None:
        from ..wrappers import Dims

        meta = _meta(path)
        self.config = _config_of(path)
        self.action_kind = meta.get("action", "box")
        self.low = float(meta.get("low", -1.0))
        self.share_bins = int(meta.get("share_bins", 5))
        algo_cls = _sb3_class(meta.get("sb3_class", "PPO"))
        self.model = algo_cls.load(os.path.join(path, SB3_MODEL_FILE), device="cpu")
        self.obs_mean: Optional[np.ndarray] = None
        vn = os.path.join(path, SB3_VECNORM_FILE)
        if os.path.exists(vn):
            import pickle

            with open(vn, "rb") as f:
                norm = pickle.load(f)
            if getattr(norm, "norm_obs", False):
                self.obs_mean = np.asarray(norm.obs_rms.mean, np.float64)
                self.obs_var = np.asarray(norm.obs_rms.var, np.float64)
                self.clip_obs = float(norm.clip_obs)
                self.epsilon = float(norm.epsilon)
        from ..vector import MciaVectorEnv

        probe = MciaVectorEnv(1, self.config, num_threads=1, info=False)
        self.dims = Dims(probe.num_devices, probe.num_versions, probe.num_units).with_cloud(probe.cloud)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> Dict[str, np.ndarray]:
        from ..wrappers import box_to_dict, multidiscrete_to_dict

        x = np.asarray(obs, np.float32)
        if self.obs_mean is not None:
            x = np.clip((x - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon), -self.clip_obs, self.clip_obs).astype(np.float32)
        flat, _ = self.model.predict(x, deterministic=deterministic)
        if self.action_kind == "box":
            flat = np.clip(flat, self.low, 1.0)
            return box_to_dict(flat, self.dims, self.low, "Sb3Agent")
        return multidiscrete_to_dict(flat, self.dims, self.share_bins, "Sb3Agent")

    def __call__(self, obs: np.ndarray) -> Dict[str, np.ndarray]:
        return self.act(obs, deterministic=True)


def _sb3_class(name: str):
    import stable_baselines3 as sb3

    cls = getattr(sb3, name, None)
    if cls is None:
        raise ValueError(f"unknown Stable-Baselines3 algorithm {name!r}")
    return cls


class RllibAgent:
    """The RLModule of an RLlib PPO checkpoint written by ``examples/train_rllib.py`` (needs ``ray``);
    deterministic actions take the mode of each action component."""

    def __init__(self, path: str) -> None:
        import torch
        from ray.rllib.core.rl_module.rl_module import RLModule

        self.config = _config_of(path)
        meta = _meta(path)
        # RLlib reads checkpoints through pyarrow, which needs an absolute path (a URI).
        module_dir = os.path.join(os.path.abspath(path), RLLIB_CHECKPOINT_DIR, *meta.get("module_path", ["learner_group", "learner", "rl_module", "default_policy"]))
        with quiet_ray():  # RLlib's loader warns about its own deprecated constructor
            module: Any = RLModule.from_checkpoint(module_dir)
        module.eval()  # a TorchRLModule, i.e. a torch.nn.Module
        self.module = module
        self._torch = torch

    def act(self, obs: np.ndarray, deterministic: bool = True) -> Dict[str, np.ndarray]:
        from ray.rllib.core.columns import Columns

        torch = self._torch
        x = torch.as_tensor(np.asarray(obs, np.float32))
        with torch.no_grad():
            out = self.module.forward_inference({Columns.OBS: x})
            dist_cls = self.module.get_inference_action_dist_cls()
            dist = dist_cls.from_logits(out[Columns.ACTION_DIST_INPUTS])
            if deterministic:
                dist = dist.to_deterministic()
            a = dist.sample()
        return _dict_action(a)

    def __call__(self, obs: np.ndarray) -> Dict[str, np.ndarray]:
        return self.act(obs, deterministic=True)


def _dict_action(a: Any) -> Dict[str, np.ndarray]:
    out = {}
    for k in ("version", "partition"):
        out[k] = np.ascontiguousarray(np.asarray(a[k]), dtype=np.int64)
    for k in ("bandwidth", "compute"):
        # RLlib normalises Box actions: the module acts in [-1, 1], mapped onto the space's [0, 1]
        out[k] = np.ascontiguousarray(np.clip((np.asarray(a[k], np.float64) + 1.0) / 2.0, 0.0, 1.0))
    return out


__all__ = ["RllibAgent", "Sb3Agent", "detect_algo", "load_agent", "quiet_ray"]
