"""Type stubs of the Rust extension ``mcia._core`` (checked against the binary by ``mypy.stubtest``)."""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt
from typing import final

__all__ = ['MciaError', 'ConfigError', 'ActionError', 'ResetNeeded', 'SnapshotError', 'PolicyError', 'InternalError', 'ConcurrentUseError', 'OutOfMemoryError', 'CoreEnv', 'CoreVecEnv', 'CorePolicy', 'POLICY_NAMES', 'FREEZE_DIMENSIONS', 'normalize_config', 'load_config_file', 'config_to_toml', 'resolve_family', 'builtin_family', 'load_family_file', 'rollout_rate', 'static_search', 'preset_names', 'preset', 'INFO_F64_FIELDS', 'INFO_F64_SCALARS', 'INFO_I64_FIELDS', 'OBS_DEVICE_FIELDS', 'OBS_GLOBAL_FIELDS', 'OBS_GLOBAL_FIELDS_CLOUD', 'CLOUD_INFO_FIELDS', 'CLOUD_DIMENSION', 'OBS_DEVICE_HIGH', '__version__']

__version__: str
INFO_F64_FIELDS: List[str]
INFO_F64_SCALARS: List[str]
INFO_I64_FIELDS: List[str]
OBS_DEVICE_FIELDS: List[str]
OBS_GLOBAL_FIELDS: List[str]
OBS_GLOBAL_FIELDS_CLOUD: List[str]
CLOUD_INFO_FIELDS: List[str]
CLOUD_DIMENSION: str
OBS_DEVICE_HIGH: List[float]
POLICY_NAMES: List[str]
FREEZE_DIMENSIONS: List[str]

class MciaError(ValueError):
    """Base class of every error raised by mcia (a ValueError)."""

class ConfigError(MciaError):
    """An invalid scenario; the message names the field."""

class ActionError(MciaError):
    """An invalid action; the message names the environment and device."""

class ResetNeeded(MciaError):
    """step() called before reset() or after the episode ended."""

class SnapshotError(MciaError):
    """A state snapshot that does not fit the environment."""

class PolicyError(MciaError):
    """An invalid policy request: unknown name, option out of range, a table that does not fit."""

class InternalError(MciaError):
    """A bug in mcia (a Rust panic caught at the boundary); please report it with the message."""

class ConcurrentUseError(MciaError):
    """An environment used from two threads at once: each environment serves one call at a time."""

class OutOfMemoryError(MciaError, MemoryError):
    """Memory for an environment could not be allocated (an mcia.MciaError and a MemoryError)."""

def normalize_config(text: str, format: str = "json") -> str:
    """Parses `text` (JSON or TOML), fills in defaults, validates, and returns the full config as JSON."""

def load_config_file(path: str) -> str:
    """Loads a JSON or TOML config file (by extension) and returns the full config as JSON."""

def config_to_toml(config_json: str) -> str:
    """The full config (given as JSON) as TOML text."""

def resolve_family(config_json: str) -> str:
    """The family a config selects (inline profile, profile file or built-in), as JSON."""

def builtin_family(name: str) -> str:
    """A built-in family by name (e.g. ``"mobilenet_v1"``), as JSON."""

def load_family_file(path: str) -> str:
    """Validates a JSON profile file and returns the family as JSON."""

def static_search(config_json: str, episodes: int = 20, seed: int = 1000000, num_threads: int = 0) -> str:
    """Searches the ``static`` baseline's table (SPEC section 7); the search result as JSON."""

def preset_names() -> List[str]:
    """The names of the scenario presets, in listing order."""

def preset(name: str) -> Tuple[str, str, str]:
    """A preset as ``(description, TOML text, full config JSON)``."""

def rollout_rate(config_json: str, num_envs: int, steps: int, num_threads: int, repeats: int = 3, seed: int = 0) -> List[float]:
    """Rust-native env-steps per second of a fixed random policy, one value per timed repeat."""

@final
class CoreEnv:
    """One environment. ``mcia.MciaEnv`` wraps it."""

    def __new__(cls, config_json: str, seed: int, with_info: bool = True, copy: bool = True, label: str = "MciaEnv") -> "CoreEnv": ...
    @property
    def num_devices(self) -> int: ...
    @property
    def num_versions(self) -> int: ...
    @property
    def num_units(self) -> int: ...
    @property
    def obs_dim(self) -> int: ...
    @property
    def config_json(self) -> str: ...
    @property
    def t(self) -> int: ...
    @property
    def with_info(self) -> bool: ...
    def reset(self, seed: Optional[int] = None) -> Tuple[npt.NDArray[np.float32], Dict[str, Any]]:
        """Starts an episode (reseeding first when `seed` is given). Returns ``(obs, info)``."""
    def step(self, version: Any, partition: Any, bandwidth: Any, compute: Any, cloud_partition: Any = None) -> Tuple[npt.NDArray[np.float32], float, bool, bool, Dict[str, Any]]:
        """Steps one slot (fields of any integer / number dtype and layout): ``(obs, reward, terminated, truncated, info)``.
        ``cloud_partition`` is required with the cloud tier and refused without it."""
    def snapshot(self) -> str:
        """The full state (RNG included) as JSON."""
    def restore(self, snapshot_json: str) -> None:
        """Restores a state from snapshot JSON; on error nothing changes."""
    def peek_noise(self) -> str:
        """The random draws the next step will take, as JSON."""

@final
class CoreVecEnv:
    """Many environments stepped in parallel into numpy arrays handed out without copying. ``mcia.MciaVectorEnv`` wraps it."""

    def __new__(
        cls,
        config_json: str,
        num_envs: int,
        seed: int = 0,
        autoreset: str = "next_step",
        num_threads: int = 0,
        with_info: bool = True,
        copy: bool = True,
    ) -> "CoreVecEnv": ...
    @property
    def num_envs(self) -> int: ...
    @property
    def num_devices(self) -> int: ...
    @property
    def num_versions(self) -> int: ...
    @property
    def num_units(self) -> int: ...
    @property
    def obs_dim(self) -> int: ...
    @property
    def config_json(self) -> str: ...
    @property
    def num_threads(self) -> int: ...
    @num_threads.setter
    def num_threads(self, n: int) -> None: ...
    @property
    def with_info(self) -> bool: ...
    @with_info.setter
    def with_info(self, on: bool) -> None: ...
    def reset(self, seeds: Optional[npt.NDArray[np.uint64]] = None, mask: Optional[npt.NDArray[np.bool_]] = None) -> Tuple[npt.NDArray[np.float32], Dict[str, Any]]:
        """Resets every environment (or those where `mask` is true); returns ``(obs, info)``."""
    def step(self, version: Any, partition: Any, bandwidth: Any, compute: Any, cloud_partition: Any = None) -> Tuple[Any, ...]:
        """Steps every environment (``(B, N)`` fields of any integer / number dtype and layout): ``(obs, rewards,
        terminated, truncated, info)``, plus ``(final_obs, final_info)`` in SAME_STEP mode."""
    def last_outputs(self) -> Optional[Tuple[npt.NDArray[np.float32], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_], Dict[str, Any]]]:
        """The outputs of the last call, or None before any."""
    def statuses(self) -> List[int]:
        """Per environment: 0 never reset, 1 running, 2 ended."""
    def snapshot(self) -> str:
        """The full state of every environment as JSON."""
    def restore(self, snapshot_json: str) -> None:
        """Restores every environment from snapshot JSON."""
    def peek_noise(self, i: int) -> str:
        """The random draws env i's next step will take, as JSON."""

@final
class CorePolicy:
    """A built-in baseline policy deciding from the true state of a ``CoreVecEnv``."""

    def __new__(
        cls,
        name: str,
        config_json: str,
        version: Optional[int] = None,
        seed: int = 0,
        freeze: Optional[List[str]] = None,
        frozen_versions: Optional[Tuple[int, int]] = None,
        table_json: Optional[str] = None,
    ) -> "CorePolicy": ...
    @property
    def name(self) -> str: ...
    def act_into(
        self,
        venv: CoreVecEnv,
        version: npt.NDArray[np.int64],
        partition: npt.NDArray[np.int64],
        bandwidth: npt.NDArray[np.float64],
        compute: npt.NDArray[np.float64],
        cloud_partition: npt.NDArray[np.int64],
        shares_only: bool = False,
    ) -> None:
        """Writes the action for every environment of `venv` into the ``[B, N]`` arrays given (second cuts:
        L without the cloud tier). With ``shares_only`` (the optimizer only: ``PolicyError`` otherwise) it
        runs the optimizer's share step alone: reads the decisions in ``version``, ``partition`` (and
        ``cloud_partition`` with the cloud tier) and overwrites ``bandwidth`` and ``compute``;
        ``ActionError`` for a decision out of range (nothing is written)."""
