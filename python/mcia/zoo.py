"""The model zoo as the simulator sees it: versions, accuracy, per-unit FLOPs and output sizes.

>>> from mcia import zoo
>>> fam = zoo.family("mobilenet_v1")
>>> v = fam["1.0_224"]
>>> round(v.total_flops / 2 / 1e6)   # multiply-accumulates, millions
569
>>> len(v.units), v.input_bytes
(16, 150528.0)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

import numpy as np

from . import _core
from .config import Config, ConfigLike, as_config


@dataclass(frozen=True)
class Unit:
    """One unit a model can be cut after."""

    name: str
    flops: float  #: floating-point operations (2 x multiply-accumulates)
    out_elems: float  #: elements of the unit's output tensor


@dataclass(frozen=True)
class Version:
    """One compressed version of the model."""

    name: str
    accuracy: float  #: top-1 accuracy in [0, 1]
    input_bytes: float  #: bytes of the raw input (uploaded at cut 0)
    units: List[Unit] = field(repr=False)
    #: largest bytes per element of this version's features on the wire (e.g. 1.0 when int8-quantised):
    #: it sends ``min(zoo.feature_bytes_per_element, this)``; None means the scenario's value alone
    feature_bytes_per_element: Optional[float] = None

    @property
    def total_flops(self) -> float:
        """FLOPs of the whole model."""
        return float(sum(u.flops for u in self.units))

    @property
    def flops(self) -> np.ndarray:
        """Per-unit FLOPs, ``(L,)``."""
        return np.array([u.flops for u in self.units])

    @property
    def cumulative_flops(self) -> np.ndarray:
        """FLOPs of units 1..p for p = 0..L, ``(L + 1,)``: what the device computes at cut p."""
        return np.concatenate([[0.0], np.cumsum(self.flops)])

    def upload_bytes(self, feature_bytes_per_element: Optional[float] = None) -> np.ndarray:
        """Bytes sent at each cut p = 0..L, ``(L + 1,)``: the raw input at 0, the cut unit's output
        (``out_elems * b`` with ``b`` = ``feature_bytes_per_element``, default the default scenario's
        ``zoo.feature_bytes_per_element``, capped by the version's own element size if it has one) in
        between, nothing at L."""
        fb = Config()["zoo"]["feature_bytes_per_element"] if feature_bytes_per_element is None else float(feature_bytes_per_element)
        if self.feature_bytes_per_element is not None:
            fb = min(fb, float(self.feature_bytes_per_element))
        out = [self.input_bytes] + [u.out_elems * fb for u in self.units[:-1]] + [0.0]
        return np.array(out)


@dataclass(frozen=True)
class Family:
    """A model family: every version of one DNN."""

    name: str
    versions: Dict[str, Version]

    def __getitem__(self, name: str) -> Version:
        try:
            return self.versions[name]
        except KeyError:
            raise KeyError(f"family {self.name!r} has no version {name!r}; available: {list(self.versions)}") from None

    def __iter__(self) -> Iterator[Version]:
        return iter(self.versions.values())

    def __len__(self) -> int:
        return len(self.versions)

    def to_dict(self) -> dict:
        """The family in the profile-file layout (``name``, ``versions`` with ``units``)."""
        return {
            "name": self.name,
            "versions": [
                {"name": v.name, "accuracy": v.accuracy, "input_bytes": v.input_bytes,
                 **({} if v.feature_bytes_per_element is None else {"feature_bytes_per_element": v.feature_bytes_per_element}),
                 "units": [{"name": u.name, "flops": u.flops, "out_elems": u.out_elems} for u in v.units]}
                for v in self
            ],
        }

    def save(self, path: str) -> None:
        """Writes the family as a JSON profile file (loadable with ``zoo.profile_file``)."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)


def _from_json(text: str) -> Family:
    d = json.loads(text)
    versions = {
        v["name"]: Version(v["name"], v["accuracy"], v["input_bytes"], [Unit(u.get("name", ""), u["flops"], u["out_elems"]) for u in v["units"]],
                           v.get("feature_bytes_per_element"))
        for v in d["versions"]
    }
    return Family(d["name"], versions)


def family(name: str = "mobilenet_v1") -> Family:
    """A built-in family by name (``"mobilenet_v1"``: 16 width x resolution versions)."""
    return _from_json(_core.builtin_family(name))


def load_profile(path: str) -> Family:
    """Loads and validates a user's JSON profile file."""
    return _from_json(_core.load_family_file(path))


def scenario_family(config: ConfigLike = None) -> Family:
    """The family a scenario uses (inline profile, profile file or built-in family)."""
    return _from_json(_core.resolve_family(as_config(config).to_json()))


def deployed_versions(config: ConfigLike = None) -> List[Version]:
    """The versions a scenario deploys, in action order (``version`` index i is element i)."""
    cfg = as_config(config)
    fam = scenario_family(cfg)
    return [fam[name] for name in cfg["zoo"]["versions"]]


def table(config: Optional[ConfigLike] = None) -> str:
    """A readable table of the deployed versions: accuracy, GFLOPs, input size."""
    rows = [f"{'index':>5}  {'version':<10} {'top-1':>6} {'GFLOPs':>8} {'input KB':>9}"]
    for i, v in enumerate(deployed_versions(config)):
        rows.append(f"{i:>5}  {v.name:<10} {v.accuracy:>6.3f} {v.total_flops / 1e9:>8.3f} {v.input_bytes / 1e3:>9.1f}")
    return "\n".join(rows)


def __getattr__(name: str):
    # Lazy re-export: mcia.torch_profile imports torch only when called, and importing it here eagerly would
    # be circular; ``import mcia`` stays free of torch either way.
    if name in ("profile_torch", "family_from_torch"):
        from . import torch_profile

        return getattr(torch_profile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Unit", "Version", "Family", "family", "load_profile", "scenario_family", "deployed_versions", "table", "Config",
           "profile_torch", "family_from_torch"]
