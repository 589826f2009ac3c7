"""Scenario configuration: :class:`Config`, a validated view of every parameter of SPEC section 3.

A config is a nested dict with the groups ``time``, ``devices``, ``edge``, ``radio``, ``load``, ``tasks``,
``reward``, ``action`` and ``zoo``. Any subset may be given; missing fields take their defaults and unknown
keys are rejected. Validation happens in the Rust core, so Python, Rust and files agree on what is valid;
errors are :class:`mcia.ConfigError` naming the field, e.g. ``radio.bandwidth_hz must be in [1, 1e12] (Hz), got -1``.

>>> cfg = Config({"radio": {"bandwidth_hz": 5e6}})
>>> cfg["radio"]["bandwidth_hz"]
5000000.0
>>> cfg.replace({"tasks.as_ratio": 0.8})["tasks"]["as_ratio"]
0.8

Named presets ship with the package (:func:`scenarios` lists them): ``Config.preset("iot")``, or simply
``config="iot"`` wherever a config is accepted.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Dict, Iterator, Mapping, Union

from . import _core

ConfigLike = Union["Config", Mapping[str, Any], str, "os.PathLike[str]", None]


class Config(Mapping[str, Any]):
    """A complete, validated MCIA scenario.

    Args:
        source: ``None`` for the defaults; a (partial, nested) dict; a path to a ``.json`` or ``.toml`` file;
            the name of a preset (:func:`scenarios`); or another :class:`Config`. A name that is both a
            preset and an existing file is an error: say which you mean with :meth:`preset` or
            :meth:`from_file`.

    The config behaves as a read-only mapping of its groups (``cfg["radio"]["bandwidth_hz"]``). Use
    :meth:`replace` for a modified copy and :meth:`to_dict` for a plain, mutable dict.
    """

    __slots__ = ("_data", "_json")

    def __init__(self, source: ConfigLike = None) -> None:
        if isinstance(source, Config):
            text = source._json
        elif source is None:
            text = _core.normalize_config("{}")
        elif isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            is_preset = isinstance(source, str) and source in _core.preset_names()
            if is_preset and os.path.exists(path):
                raise _core.ConfigError(
                    f"config {path!r} is both a preset and a file here; for the preset use mcia.Config.preset({path!r}), "
                    "for a scenario file give it a .toml or .json extension and pass its path"
                )
            if is_preset:
                text = _core.preset(path)[2]
            elif os.path.exists(path):
                text = _core.load_config_file(path)
            elif os.path.splitext(path)[1] or os.sep in path:
                raise _core.ConfigError(f"config file {path!r} does not exist")
            else:
                raise _core.ConfigError(
                    f"unknown preset {path!r}; available presets: {list(_core.preset_names())} "
                    "(or give the path of a .json / .toml file)"
                )
        elif isinstance(source, Mapping):
            try:
                raw = json.dumps(_plain(source), allow_nan=True)
            except TypeError as e:
                raise _core.ConfigError(f"config: values must be numbers, strings, lists or dicts ({e})") from None
            text = _core.normalize_config(raw)
        else:
            raise TypeError(f"config must be None, a dict, a file path or mcia.Config, got {type(source).__name__}")
        self._json = text
        self._data = json.loads(text)

    @classmethod
    def default(cls) -> "Config":
        """The default scenario of SPEC section 3."""
        return cls()

    @classmethod
    def preset(cls, name: str) -> "Config":
        """The named preset scenario (:func:`scenarios` lists them with their descriptions)."""
        c = cls.__new__(cls)
        c._json = _core.preset(name)[2]
        c._data = json.loads(c._json)
        return c

    @classmethod
    def from_file(cls, path: "str | os.PathLike[str]") -> "Config":
        """Loads a ``.json`` or ``.toml`` file."""
        p = os.fspath(path)
        if not os.path.exists(p):
            raise _core.ConfigError(f"config file {p!r} does not exist")
        c = cls.__new__(cls)
        c._json = _core.load_config_file(p)
        c._data = json.loads(c._json)
        return c

    @classmethod
    def from_toml(cls, text: str) -> "Config":
        """Parses TOML text."""
        c = cls.__new__(cls)
        c._json = _core.normalize_config(text, "toml")
        c._data = json.loads(c._json)
        return c

    def self_contained(self) -> "Config":
        """The same scenario with a ``zoo.profile_file`` read into ``zoo.profile``: it no longer depends on the
        file (pickled environments embed this, so editing or deleting the file changes nothing)."""
        zoo = self._data["zoo"]
        if not zoo.get("profile_file") or zoo.get("profile") is not None:
            return self
        data = self.to_dict()
        data["zoo"]["profile"] = json.loads(_core.resolve_family(self._json))
        del data["zoo"]["profile_file"]
        return Config(data)

    def to_dict(self) -> dict:
        """A deep, mutable copy of every field."""
        return copy.deepcopy(self._data)

    def to_json(self) -> str:
        """The full config as JSON text (what the Rust core reads)."""
        return self._json

    def to_toml(self) -> str:
        """The full config as TOML text."""
        return _core.config_to_toml(self._json)

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Writes the config; ``.json`` or ``.toml`` by extension."""
        p = os.fspath(path)
        if p.lower().endswith(".json"):
            text = json.dumps(self._data, indent=2)
        elif p.lower().endswith(".toml"):
            text = self.to_toml()
        else:
            raise _core.ConfigError(f"config file {p!r} must end in .json or .toml")
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)

    def replace(self, overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> "Config":
        """A copy with some fields changed. Keys are dotted paths (``"radio.bandwidth_hz"``) or groups
        (``"radio": {...}``, merged into the group); keyword arguments name groups (``radio={...}``)."""
        data = self.to_dict()
        items = dict(overrides or {})
        items.update(kwargs)
        for key, value in items.items():
            parts = key.split(".")
            node = data
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise _core.ConfigError(f"{key}: {part!r} is not a config group")
                node = node[part]
            last = parts[-1]
            if isinstance(value, Mapping) and isinstance(node.get(last), dict) and last != "class_gflops":
                node[last] = _merge(node[last], value)
            else:
                node[last] = _plain(value)
        return Config(data)

    @property
    def num_devices(self) -> int:
        """Number of end devices N."""
        return len(self._data["devices"]["device_classes"])

    @property
    def num_versions(self) -> int:
        """Number of deployed model versions M."""
        return len(self._data["zoo"]["versions"])

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._data == other._data
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._json)

    def __repr__(self) -> str:
        d = self._data
        return (
            f"Config(devices={d['devices']['device_classes']}, versions={d['zoo']['versions']}, "
            f"bandwidth_hz={d['radio']['bandwidth_hz']:g}, edge_gflops={d['edge']['edge_gflops']:g}, "
            f"episode_slots={d['time']['episode_slots']})"
        )

    def __reduce__(self):
        return (Config, (self._data,))


def scenarios() -> Dict[str, str]:
    """The preset scenarios shipped with the package: ``{name: one-line description}``, in listing order.

    >>> sorted(scenarios())[:2]
    ['default', 'dense']
    """
    return {name: _core.preset(name)[0] for name in _core.preset_names()}


def preset_toml(name: str) -> str:
    """The TOML text of a preset (a starting point for your own scenario file)."""
    return _core.preset(name)[1]


def as_config(config: ConfigLike) -> Config:
    """Turns anything a user may pass as ``config=`` into a :class:`Config`."""
    return config if isinstance(config, Config) else Config(config)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict:
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict) and k != "class_gflops":
            out[k] = _merge(out[k], v)
        else:
            out[k] = _plain(v)
    return out


def _plain(value: Any) -> Any:
    """Converts numpy scalars / arrays and tuples into JSON-ready Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value
