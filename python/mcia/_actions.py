"""Conversion of user actions into the contiguous arrays the Rust core reads, with clear errors."""

from __future__ import annotations

from typing import Any, Mapping, Tuple

import numpy as np

from . import _core

from .spaces import ACTION_KEYS, action_keys


def _index_array(name: str, value: Any, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == np.int64 and arr.flags.c_contiguous:
        return arr
    if arr.dtype.kind in "iu" or arr.dtype == np.bool_:
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise _core.ActionError(f"{where}: action field '{name}' holds an index beyond any range: {int(arr.max())}")
        return np.ascontiguousarray(arr, dtype=np.int64)
    if arr.dtype.kind == "f":
        wide = arr.astype(np.float64)
        if not np.all(np.isfinite(wide)) or np.any(wide != np.round(wide)) or np.any(np.abs(wide) >= 2.0**63):
            raise _core.ActionError(f"{where}: action field '{name}' must hold integer indices, got {arr!r}")
        return np.ascontiguousarray(wide, dtype=np.int64)
    raise _core.ActionError(f"{where}: action field '{name}' must hold integer indices, got dtype {arr.dtype}")


def _weight_array(name: str, value: Any, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == np.float64 and arr.flags.c_contiguous:
        return arr
    if arr.dtype.kind not in "fiub":
        raise _core.ActionError(f"{where}: action field '{name}' must hold numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def split_action(action: Any, where: str, cloud: bool = False) -> Tuple[np.ndarray, ...]:
    """``(version, partition, bandwidth, compute)`` from a Dict action, plus ``cloud_partition`` with the
    cloud tier; errors name ``where`` and the field."""
    keys = action_keys(cloud)
    if not isinstance(action, Mapping):
        raise _core.ActionError(
            f"{where}: action must be a dict with keys {list(keys)}, got {type(action).__name__} "
            "(use mcia.wrappers.BoxAction or MultiDiscreteAction for flat actions)"
        )
    missing = [k for k in keys if k not in action]
    if missing:
        hint = " (the cloud tier is enabled: the action needs the second cut)" if missing == ["cloud_partition"] else ""
        raise _core.ActionError(f"{where}: action is missing field(s) {missing}{hint}")
    extra = [k for k in action if k not in keys]
    if extra:
        hint = " (only MCIA-Cloud-v0, or cloud.enabled = true, takes a second cut)" if extra == ["cloud_partition"] else ""
        raise _core.ActionError(f"{where}: action has unknown field(s) {extra}; expected {list(keys)}{hint}")
    fields = (
        _index_array("version", action["version"], where),
        _index_array("partition", action["partition"], where),
        _weight_array("bandwidth", action["bandwidth"], where),
        _weight_array("compute", action["compute"], where),
    )
    return fields + ((_index_array("cloud_partition", action["cloud_partition"], where),) if cloud else ())


def action_fields(action: Any, where: str, cloud: bool = False) -> Tuple[Any, ...]:
    """The fields of a Dict action as given (the core converts dtypes and layouts itself); any other action
    is explained by :func:`split_action`."""
    if type(action) is dict and len(action) == (5 if cloud else 4):
        try:
            fields = (action["version"], action["partition"], action["bandwidth"], action["compute"])
            return fields + ((action["cloud_partition"],) if cloud else ())
        except KeyError:
            pass
    return split_action(action, where, cloud)


def coerce_field(value: Any, field: str, where: str, is_index: bool) -> np.ndarray:
    """A plain ndarray for an action field that is not one (a list, a masked array, another array type); the
    core calls this only for such values. Raises :class:`mcia.ActionError` naming the field."""
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.is_masked(value):
            raise _core.ActionError(f"{where}: action field '{field}' is a masked array with masked entries; fill them first")
        value = value.data
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise _core.ActionError(f"{where}: action field '{field}' cannot be read as an array ({e})") from None
    if arr.dtype == object:
        raise _core.ActionError(f"{where}: action field '{field}' must be a rectangular array of numbers, got {value!r}")
    return _index_array(field, arr, where) if is_index else _weight_array(field, arr, where)
