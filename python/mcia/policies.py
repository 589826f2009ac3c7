"""Baseline policies (SPEC section 7), implemented in Rust and deciding from the true state.

>>> import mcia
>>> venv = mcia.MciaVectorEnv(8)
>>> obs, info = venv.reset(seed=0)
>>> policy = mcia.policies.RustPolicy("optimizer", venv.config)
>>> obs, reward, *_ = venv.step(policy(venv))

Policies: ``random``, ``device_only`` (p = L, fixed version), ``edge_only`` (p = 0, fixed version, equal
shares), ``cloud_only`` (cloud tier only: p1 = p2 = 0, the raw input relayed to the cloud), ``neurosurgeon`` (most accurate version, latency-optimal cut, equal shares), ``greedy`` (each
device's best own utility with an equal share), ``static`` (one fixed (version, cut) per task type and device,
equal shares: the non-adaptive baseline) and ``optimizer`` (alternates each device's best (version, cut)
with KKT-optimal shares, keeping only improvements of the slot's summed utility; never worse than greedy on
a slot). With the cloud tier (``MCIA-Cloud-v0``), neurosurgeon, greedy, static and the optimizer choose the
second cut jointly with the first.

``static``'s table is searched once per scenario (:func:`static_search`, seconds) and cached on disk, keyed
by the scenario and the build of the package. ``greedy`` and ``optimizer`` take ``freeze=[...]`` to fix
decision dimensions (:data:`FREEZE_DIMENSIONS`), which is what :func:`mcia.ablate` measures.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from . import _core
from .config import ConfigLike, as_config

#: Names of the built-in policies (``cloud_only`` needs the cloud tier: see :func:`names_for`).
NAMES = tuple(_core.POLICY_NAMES)

#: Decision dimensions greedy and the optimizer can freeze (SPEC section 7's ablation).
FREEZE_DIMENSIONS = tuple(_core.FREEZE_DIMENSIONS)
#: The cloud tier's fifth decision dimension: the second cut frozen at L (nothing in the cloud).
CLOUD_DIMENSION = _core.CLOUD_DIMENSION


def names_for(config: ConfigLike = None) -> tuple:
    """The built-in policies that apply to a scenario: :data:`NAMES`, without ``cloud_only`` when the
    scenario has no cloud tier."""
    cloud = as_config(config)["cloud"]["enabled"]
    return tuple(n for n in NAMES if cloud or n != "cloud_only")


def freeze_dimensions_for(config: ConfigLike = None) -> tuple:
    """The decision dimensions of a scenario: :data:`FREEZE_DIMENSIONS`, plus ``cloud`` with the cloud tier."""
    return FREEZE_DIMENSIONS + ((CLOUD_DIMENSION,) if as_config(config)["cloud"]["enabled"] else ())

#: One-line descriptions, for tables and ``--help``.
DESCRIPTIONS = {
    "random": "uniform version, cut and weights",
    "device_only": "everything on the device (p = L), most accurate version",
    "edge_only": "raw input to the edge (p = 0), most accurate version, equal shares",
    "cloud_only": "raw input relayed to the cloud (p1 = p2 = 0), most accurate version, equal shares",
    "neurosurgeon": "most accurate version, latency-optimal cut, equal shares",
    "greedy": "each device's best own (version, cut) with an equal share",
    "static": "one fixed (version, cut) per task type and device, equal shares (non-adaptive)",
    "optimizer": "slot-wise optimum: alternating (version, cut) and KKT shares",
}

_MEMO: Dict[str, Dict[str, Any]] = {}


def cache_dir() -> str:
    """Where searched tables are cached: ``$MCIA_CACHE_DIR``, else ``$XDG_CACHE_HOME/mcia``, else
    ``~/.cache/mcia``."""
    if os.environ.get("MCIA_CACHE_DIR"):
        return os.environ["MCIA_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mcia")


def _build_id() -> str:
    """Package version plus a digest of the compiled core: a cache entry of another build is never used."""
    if "build" not in _MEMO:
        digest = hashlib.sha256()
        with open(_core.__file__, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        _MEMO["build"] = {"id": f"{_core.__version__}+{digest.hexdigest()[:16]}"}
    return _MEMO["build"]["id"]


def static_search(config: ConfigLike = None, *, cache: bool = True, refresh: bool = False, progress: bool = False) -> Dict[str, Any]:
    """The ``static`` baseline's table for a scenario, searched by coordinate ascent on the calibration
    episodes (SPEC section 7) and cached.

    Returns a dict: ``table`` (``accuracy_sensitive`` / ``latency_sensitive``: ``[version, cut]`` per
    device), ``start`` (the optimizer's most frequent choices the search started from), ``start_return``,
    ``calibration_return``, ``passes``, ``evaluations``, ``most_used_versions`` (``[AS, LS]``), ``episodes``
    and ``seed``.

    Args:
        config: the scenario.
        cache: read and write the on-disk cache (:func:`cache_dir`).
        refresh: search again even if a cached table exists.
        progress: say on stderr when a search runs (it takes seconds).
    """
    cfg = as_config(config)
    key = hashlib.sha256((_build_id() + "\n" + cfg.to_json()).encode()).hexdigest()[:24]
    if not refresh and key in _MEMO:
        return json.loads(json.dumps(_MEMO[key]))
    path = os.path.join(cache_dir(), f"static-{key}.json")
    if cache and not refresh:
        found = _read_cache(path, key)
        if found is not None:
            _MEMO[key] = found
            return json.loads(json.dumps(found))
    if progress:
        print(f"static: searching the table of this scenario (once; cached in {cache_dir()})", file=sys.stderr, flush=True)
    found = json.loads(_core.static_search(cfg.to_json()))
    _MEMO[key] = found
    if cache:
        _write_cache(path, {"build": _build_id(), "key": key, "search": found})
    return json.loads(json.dumps(found))


def _read_cache(path: str, key: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)
        if entry.get("build") == _build_id() and entry.get("key") == key:
            return entry["search"]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing, unreadable or corrupt: search again
    return None


def _write_cache(path: str, entry: Dict[str, Any]) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entry, f)
        os.replace(tmp, path)  # atomic: concurrent writers leave one whole file
    except OSError:
        pass  # a read-only cache only costs a search next time


def static_table_text(search: Dict[str, Any], config: ConfigLike = None) -> str:
    """The static table as a readable text table (one row per device)."""
    cfg = as_config(config)
    names = cfg["zoo"]["versions"]
    classes = cfg["devices"]["device_classes"]
    t = search["table"]
    second = t.get("cloud_partition")
    if second is None:
        lines = ["| device | class | AS version | AS cut | LS version | LS cut |", "|---|---|---|---|---|---|"]
    else:
        lines = ["| device | class | AS version | AS cuts (p1, p2) | LS version | LS cuts (p1, p2) |", "|---|---|---|---|---|---|"]
    for k, cls in enumerate(classes):
        (av, ap), (lv, lp) = t["accuracy_sensitive"][k], t["latency_sensitive"][k]
        if second is not None:
            ap, lp = f"{ap}, {max(ap, second['accuracy_sensitive'][k])}", f"{lp}, {max(lp, second['latency_sensitive'][k])}"
        lines.append(f"| {k} | {cls} | {names[av]} | {ap} | {names[lv]} | {lp} |")
    return "\n".join(lines)


class RustPolicy:
    """A built-in policy for a :class:`mcia.MciaVectorEnv` of a given scenario.

    Calling it with the vector env returns the batch's action as a dict of ``(B, N)`` arrays (reused
    between calls: copy them to keep them). The decision runs in Rust on the env's thread pool with the
    GIL released.

    Args:
        name: one of :data:`NAMES`.
        config: the scenario (must match the vector env's).
        version: the fixed version index of ``device_only`` / ``edge_only`` (default: the most accurate).
        seed: seed of ``random``.
        freeze: decision dimensions ``greedy`` / ``optimizer`` may not vary (:data:`FREEZE_DIMENSIONS`);
            a frozen version is the static table's most used one per task type.
        table: the table of ``static`` (default: :func:`static_search`).
    """

    needs_state = True

    def __init__(
        self,
        name: str,
        config: ConfigLike = None,
        version: Optional[int] = None,
        seed: int = 0,
        freeze: Sequence[str] = (),
        table: Optional[Dict[str, Any]] = None,
    ) -> None:
        if name not in NAMES:
            raise _core.PolicyError(f"unknown policy {name!r}; built-in policies: {list(NAMES)}")
        bad = [d for d in freeze if d not in FREEZE_DIMENSIONS]
        if bad:
            raise _core.PolicyError(f"policy {name}: unknown decision dimension(s) {bad} to freeze; choose from {list(FREEZE_DIMENSIONS)}")
        self.name = name if not freeze else f"{name}[{'+'.join(freeze)} frozen]"
        self.config = as_config(config)
        self.freeze = tuple(freeze)
        frozen_versions = None
        if name == "static" and table is None:
            table = static_search(self.config)["table"]
        if "version" in self.freeze:
            frozen_versions = list(static_search(self.config)["most_used_versions"])
        self.table = table
        self._core = _core.CorePolicy(
            name, self.config.to_json(), version, seed, list(self.freeze) or None, frozen_versions,
            json.dumps(table) if table is not None else None,
        )
        self._buffers: Dict[str, np.ndarray] = {}

    def __call__(self, venv) -> Dict[str, np.ndarray]:
        env = _vector_env_of(venv)
        core = env._core
        self._ensure_buffers(env.num_envs, env.num_devices)
        buf = self._buffers
        self._core.act_into(core, buf["version"], buf["partition"], buf["bandwidth"], buf["compute"], self._second_cut)
        return buf

    def shares(self, venv, action: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The optimizer's share step alone: the batch's action with the ``version`` and ``partition`` (and
        ``cloud_partition`` on MCIA-Cloud-v0) of ``action`` and, in place of its weights, the ``bandwidth``
        and ``compute`` weights the optimizer gives exactly those decisions in each environment's state.

        Only for ``RustPolicy("optimizer")``. Lets a policy that learns the discrete decisions leave the
        shares to the optimizer's solver. Returns the policy's reused buffers (copy them to keep them); a
        decision out of range raises :class:`mcia.ActionError` naming the environment and device.
        """
        env = _vector_env_of(venv)
        core, b, n = env._core, env.num_envs, env.num_devices
        self._ensure_buffers(b, n)
        buf = self._buffers
        if not isinstance(action, Mapping):
            raise _core.ActionError(f"policy {self.name}: the action must be a dict of (B, N) arrays, got {type(action).__name__}")
        keys = ("version", "partition") + (("cloud_partition",) if self.config["cloud"]["enabled"] else ())
        fields = {key: _indices(self.name, action, key, (b, n)) for key in keys}
        buf["version"][...] = fields["version"]
        buf["partition"][...] = fields["partition"]
        self._second_cut[...] = fields.get("cloud_partition", 0)
        self._core.act_into(core, buf["version"], buf["partition"], buf["bandwidth"], buf["compute"], self._second_cut, shares_only=True)
        return buf

    def _ensure_buffers(self, b: int, n: int) -> None:
        if not self._buffers or self._buffers["version"].shape != (b, n):
            self._buffers = {
                "version": np.zeros((b, n), np.int64),
                "partition": np.zeros((b, n), np.int64),
                "bandwidth": np.zeros((b, n), np.float64),
                "compute": np.zeros((b, n), np.float64),
            }
            self._second_cut = np.zeros((b, n), np.int64)
            if self.config["cloud"]["enabled"]:
                self._buffers["cloud_partition"] = self._second_cut

    def __repr__(self) -> str:
        return f"RustPolicy({self.name!r})"


def _indices(policy: str, action: Mapping[str, Any], key: str, shape: tuple) -> np.ndarray:
    """``action[key]`` as ``(B, N)`` whole numbers (integral floats accepted, as the env does), or an
    :class:`mcia.ActionError` naming the field."""
    if key not in action:
        raise _core.ActionError(f"policy {policy}: the action has no {key!r} to find the shares for")
    try:
        a = np.asarray(action[key])
    except (TypeError, ValueError) as e:  # ragged lists, objects numpy cannot make an array of
        raise _core.ActionError(f"policy {policy}: action field {key!r} is not a (B, N) array ({e})") from None
    if a.shape != shape:
        raise _core.ActionError(f"policy {policy}: action field {key!r} must be (B, N) = {shape}, got {a.shape}")
    if a.dtype.kind not in "iu":
        # Beyond 2**53 a float is not a whole number it can say exactly; in range it would be far out anyway.
        f = a.astype(np.float64) if a.dtype.kind == "f" else None
        if f is None or not np.all(np.isfinite(f) & (f == np.round(f)) & (np.abs(f) < 2.0**53)):
            raise _core.ActionError(f"policy {policy}: action field {key!r} must hold integer indices (integral, finite values), got dtype {a.dtype}")
    return a


def _vector_env_of(venv):
    """The :class:`mcia.MciaVectorEnv` itself, wrapped or not. Its sizes are plain attributes: reading them from
    the ``CoreVecEnv`` would borrow it, and while another thread steps it that borrow fails with a bare
    RuntimeError instead of the act's ConcurrentUseError."""
    return venv.unwrapped if hasattr(venv, "unwrapped") and not hasattr(venv, "_core") else venv


class per_env:  # noqa: N801 - used like a function: mcia.policies.per_env(fn)
    """Turns a policy of one observation into the batched policy :func:`mcia.evaluate` and
    :func:`mcia.compare` call.

    Callables given to them are **batched**: they get the observations of every environment at once,
    ``(B, obs_dim)``, and return a dict of ``(B, N)`` arrays (``version``, ``partition``, ``bandwidth``,
    ``compute``, and ``cloud_partition`` on MCIA-Cloud-v0). ``per_env(fn)`` adapts ``fn(obs) -> action``
    for one observation ``(obs_dim,)`` (a single env's action, each entry ``(N,)``) by calling it on every row
    and stacking the results.

    >>> space = gym.make("MCIA-v0").action_space
    >>> mcia.evaluate(mcia.policies.per_env(lambda obs: space.sample()), episodes=5)
    """

    def __init__(self, fn: Any, name: Optional[str] = None) -> None:
        if not callable(fn):
            raise TypeError(f"per_env needs a callable obs -> action, got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        if self.name == "<lambda>":
            self.name = "per_env"

    def __call__(self, obs: np.ndarray) -> Dict[str, np.ndarray]:
        obs = np.asarray(obs)
        if obs.ndim != 2:
            raise _core.ActionError(f"per_env policy {self.name}: expected a batch of observations (B, obs_dim), got shape {obs.shape}")
        actions = [self.fn(row) for row in obs]
        first = actions[0] if actions else {}
        if not isinstance(first, dict):
            raise _core.ActionError(f"per_env policy {self.name}: fn must return a dict action for one env, got {type(first).__name__}")
        try:
            return {k: np.stack([np.asarray(a[k]) for a in actions]) for k in first}
        except (KeyError, ValueError) as e:
            raise _core.ActionError(f"per_env policy {self.name}: the per-env actions do not stack ({e}); each must be a dict with the same keys and (N,) entries") from None

    def __repr__(self) -> str:
        return f"per_env({self.name})"


__all__ = ["CLOUD_DIMENSION", "per_env", "DESCRIPTIONS", "FREEZE_DIMENSIONS", "freeze_dimensions_for", "names_for", "NAMES", "RustPolicy", "cache_dir", "static_search", "static_table_text"]
