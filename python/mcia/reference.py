"""Plain, batched NumPy reference implementation of MCIA-v0 and MCIA-Cloud-v0 (SPEC sections 2, 4, 5, 8
and 8.1).

This module is the slow, obviously-correct twin of the Rust core: it computes the MobileNet v1 profile
from the architecture, one environment step and the observation with nothing but NumPy array
arithmetic, written to be read against the SPEC line by line. It covers the cloud tier (section 8: the
second cut, the WAN chain, ``T_wan`` and ``T_cloud``) and trace-driven uplinks (section 8.1). It serves two
purposes:

* checking the Rust core (same state, action and random draws in, the same numbers out to ~1e-9 relative);
* being the speed baseline a researcher would write by hand in NumPy.

Everything is float64 until the observation, which is cast to float32 at the very end. Every step and
observation is vectorised over a batch axis ``B`` of environments and the device axis ``N``; there are no
Python loops over environments (only over the K traces of a trace file).

Layouts (``B`` environments, ``N`` devices, ``M`` deployed versions, ``L`` units per version):

State dict (batched)::

    "t"          [B]    int64    slot index
    "edge_load"  [B]    int64    index of the edge background load level
    "edge_backlog_s" [B] float64 seconds of edge work still queued, q_E
    "wan_load"   [B]    int64    index of the WAN background load level (cloud tier; 0 / absent otherwise)
    "task"       [B, N] int64    0 none, 1 accuracy-sensitive (AS), 2 latency-sensitive (LS)
    "load"       [B, N] int64    index of the device background load level
    "distance_m" [B, N] float64  device-edge distance, m
    "h_re"       [B, N] float64  real part of the fading coefficient h
    "h_im"       [B, N] float64  imaginary part of h
    "backlog_s"  [B, N] float64  seconds of local work still queued, q_n
    "trace"      [B, N] int64    index of the throughput trace the device replays (trace-driven uplinks)
    "trace_offset_s" [B, N] float64  where in its trace the device started, seconds (trace-driven uplinks)

Action dict::

    "version"    [B, N] int64    index into the deployed versions, 0..M-1
    "partition"  [B, N] int64    first cut p1, 0..L (units 1..p1 on the device)
    "bandwidth"  [B, N] float64  bandwidth share weight, >= 0
    "compute"    [B, N] float64  edge compute share weight, >= 0
    "cloud_partition" [B, N] int64  second cut p2, 0..L (cloud tier only; L = no cloud)

Noise dict (the exogenous random draws of one step, as the Rust core takes them)::

    "z_re", "z_im"                            [B, N]  standard normals (fading innovation)
    "u_move", "u_load", "u_arrive", "u_type"  [B, N]  uniforms in [0, 1)
    "u_edge_load"                             [B]     uniform in [0, 1)
    "u_wan_load"                              [B]     uniform in [0, 1) (cloud tier only)

Observation ``[B, 7N + 3]`` float32 (``[B, 7N + 4]`` with the cloud tier), device-major:
``obs[:, 7n + k]`` for k = task_as, task_ls, spectral_eff, compute, load, backlog, distance; then the edge
load level, min(q_E / slot_s, 10) / 10, the WAN load level (cloud tier only) and t / episode_slots.

Info dict of a step: ``[B, N]`` arrays task_type, channel_gain, device_flops, backlog_s (for every device);
version, partition, bandwidth_share, compute_share, t_wait, t_local, t_tx, t_edge, latency, accuracy,
utility, deadline_met, accuracy_met (NaN / -1 for devices without a task); and ``edge_flops``,
``edge_backlog_s`` ``[B]``. With the cloud tier also cloud_partition (p2'), t_wan, t_cloud ``[B, N]`` and
``wan_bps`` ``[B]``.
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np

__all__ = [
    "DEFAULT_CONFIG",
    "MOBILENET_WIDTHS",
    "MOBILENET_RESOLUTIONS",
    "MOBILENET_ACCURACY",
    "mobilenet_v1_family",
    "ReferenceModel",
    "Trace",
    "parse_traces",
    "read_trace_file",
    "state_from_snapshots",
    "noise_from_list",
]

# ---------------------------------------------------------------------------------------------------------
# SPEC section 2: the MobileNet v1 family
# ---------------------------------------------------------------------------------------------------------

#: Width multipliers of the built-in family (outer loop of the version list).
MOBILENET_WIDTHS = [1.0, 0.75, 0.5, 0.25]
#: Input resolutions of the built-in family (inner loop of the version list).
MOBILENET_RESOLUTIONS = [224, 192, 160, 128]
#: Top-1 ImageNet accuracy, rows = widths, columns = resolutions (TF-slim checkpoints of 2017-06-14).
MOBILENET_ACCURACY = [
    [0.707, 0.693, 0.672, 0.641],
    [0.684, 0.674, 0.652, 0.618],
    [0.640, 0.621, 0.599, 0.562],
    [0.506, 0.490, 0.460, 0.413],
]
#: (output channels, stride) of the 13 depthwise-separable blocks (Howard et al. 2017, Table 1).
MOBILENET_BLOCKS = [
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
]
#: Classes of the final fully connected layer.
IMAGENET_CLASSES = 1000


def _mobilenet_v1_version(width: float, res: int, accuracy: float) -> dict:
    """Profile of one MobileNet v1 version: 16 units (conv0, block1..block13, avgpool, fc)."""
    units = []
    # conv0: 3x3, stride 2, 3 -> int(32 * width) channels.
    hw = math.ceil(res / 2)
    c_in = int(32 * width)
    macs = hw * hw * 3 * 3 * 3 * c_in
    units.append({"name": "conv0", "flops": 2.0 * macs, "out_elems": float(hw * hw * c_in)})
    # 13 depthwise-separable blocks; the depthwise 3x3 carries the stride.
    for i, (c, stride) in enumerate(MOBILENET_BLOCKS):
        hw = math.ceil(hw / stride)
        c_out = int(c * width)
        depthwise = hw * hw * 9 * c_in
        pointwise = hw * hw * c_in * c_out
        units.append({"name": f"block{i + 1}", "flops": 2.0 * (depthwise + pointwise), "out_elems": float(hw * hw * c_out)})
        c_in = c_out
    # Global average pooling: one MAC per input element; output is one value per channel.
    units.append({"name": "avgpool", "flops": 2.0 * (hw * hw * c_in), "out_elems": float(c_in)})
    # Fully connected to the 1000 classes.
    units.append({"name": "fc", "flops": 2.0 * (c_in * IMAGENET_CLASSES), "out_elems": float(IMAGENET_CLASSES)})
    return {"name": f"{width}_{res}", "accuracy": accuracy, "input_bytes": float(res * res * 3), "units": units}


def mobilenet_v1_family() -> dict:
    """The built-in ``mobilenet_v1`` family computed from the architecture (SPEC section 2).

    Returns ``{"name": "mobilenet_v1", "versions": [16 version dicts]}``, widths
    ``[1.0, 0.75, 0.5, 0.25]`` in the outer loop and resolutions ``[224, 192, 160, 128]`` in the inner loop,
    named like ``"1.0_224"`` or ``"0.25_128"``. Each version dict holds ``accuracy``, ``input_bytes``
    (= res*res*3) and ``units``: 16 dicts ``{"name", "flops" (= 2 x MACs), "out_elems"}``.
    """
    versions = []
    for wi, width in enumerate(MOBILENET_WIDTHS):
        for ri, res in enumerate(MOBILENET_RESOLUTIONS):
            versions.append(_mobilenet_v1_version(width, res, MOBILENET_ACCURACY[wi][ri]))
    return {"name": "mobilenet_v1", "versions": versions}


# ---------------------------------------------------------------------------------------------------------
# SPEC section 3: the scenario
# ---------------------------------------------------------------------------------------------------------

_DEFAULT_TRANSITION = [[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]]

#: Largest weight a device can bid (larger weights count as this; SPEC: weights only matter as ratios).
MAX_WEIGHT = 1e12
#: Longest time any latency term or backlog reaches, seconds (longer times count as this).
MAX_TIME_S = 1e9

#: The default scenario, laid out like the Rust side's ``Config.to_json()``.
DEFAULT_CONFIG = {
    "time": {"slot_s": 0.5, "episode_slots": 100},
    "devices": {
        "device_classes": ["pi_zero_2w", "pi_zero_2w", "pi4", "pi4", "pi4", "pi4", "pi5", "pi5", "n100", "n100"],
        "class_gflops": {"n100": 62.851, "pi4": 11.889, "pi5": 35.169, "pi_zero_2w": 0.37},
        "device_efficiency": 0.5,
    },
    "edge": {"edge_gflops": 229.0, "edge_efficiency": 0.5},
    "radio": {
        "bandwidth_hz": 2e6,
        "tx_power_w": 0.1,
        "noise_dbm_per_hz": -174.0,
        "noise_figure_db": 5.0,
        "path_loss_at_1km_db": 128.1,
        "path_loss_slope_db": 37.6,
        "distance_min_m": 50.0,
        "distance_max_m": 400.0,
        "mobility_mps": 1.0,
        "fading_correlation": 0.9,
        "trace_file": None,
    },
    "load": {
        "device_levels": [0.0, 0.4, 0.7],
        "device_transition": _DEFAULT_TRANSITION,
        "edge_levels": [0.0, 0.4, 0.7],
        "edge_transition": _DEFAULT_TRANSITION,
    },
    "tasks": {
        "arrival_prob": 0.9,
        "as_ratio": 0.5,
        "accuracy_sensitive": {"weight": 0.8, "deadline_s": 0.3, "min_accuracy": 0.65},
        "latency_sensitive": {"weight": 0.3, "deadline_s": 0.15, "min_accuracy": 0.55},
    },
    "reward": {"acc_lo": 0.4, "acc_hi": 0.75, "latency_cap": 3.0, "deadline_penalty": 1.0, "accuracy_penalty": 1.0},
    "action": {"min_share_weight": 0.001},
    "zoo": {
        "family": "mobilenet_v1",
        "versions": ["1.0_224", "0.75_224", "0.5_224", "0.25_224"],
        "feature_bytes_per_element": 0.25,
    },
    # SPEC section 8: disabled for MCIA-v0, enabled for MCIA-Cloud-v0.
    "cloud": {
        "enabled": False,
        "cloud_gflops": 8100.0,
        "cloud_efficiency": 0.1,
        "backhaul_bps": 100e6,
        "wan_rtt_s": 0.04,
        "wan_levels": [0.0, 0.3, 0.6],
        "wan_transition": _DEFAULT_TRANSITION,
    },
}


def _deep_merge(base: dict, override: dict) -> dict:
    """``base`` with ``override`` merged in: nested dicts merge key by key, everything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _cumulative_rows(matrix) -> np.ndarray:
    """Cumulative sums along the rows of a transition matrix, ``[K, K]``, each row's last entry forced to 1."""
    cum = np.cumsum(np.asarray(matrix, dtype=np.float64), axis=1)
    cum[:, -1] = 1.0
    return cum


def _markov_step(cum: np.ndarray, state: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Next level index of a Markov chain: the first ``j`` with ``u < cum[state, j]`` (any shape)."""
    rows = cum[state]                      # [..., K]
    below = u[..., None] < rows            # [..., K]
    first = np.argmax(below, axis=-1)
    # Cannot happen for u in [0, 1) since the last cumulative entry is 1; kept for u >= 1.
    return np.where(below.any(axis=-1), first, cum.shape[0] - 1).astype(np.int64)


def _draw_task(u_arrive: np.ndarray, u_type: np.ndarray, arrival_prob: float, as_ratio: float) -> np.ndarray:
    """Task code from two uniforms: none unless ``u_arrive < arrival_prob``; AS if ``u_type < as_ratio``, else LS."""
    kind = np.where(u_type < as_ratio, 1, 2)
    return np.where(u_arrive < arrival_prob, kind, 0).astype(np.int64)


def _log2_1p(x: np.ndarray) -> np.ndarray:
    """``log2(1 + x)``, accurate for small ``x``."""
    return np.log1p(x) / np.log(2.0)


def _uniform_level(u: np.ndarray, k: int) -> np.ndarray:
    """Initial level of a K-level chain drawn uniformly from ``u`` in [0, 1): ``min(floor(u K), K - 1)``."""
    return np.minimum((np.asarray(u, dtype=np.float64) * k).astype(np.int64), k - 1)


# ---------------------------------------------------------------------------------------------------------
# SPEC section 8.1: throughput traces
# ---------------------------------------------------------------------------------------------------------

#: Largest throughput a trace sample may give, bit/s (as the Rust core).
MAX_TRACE_BPS = 1e15


class Trace:
    """One throughput trace: sample-and-hold, repeating with period ``t_last - t_first + (t_last - t_prev)``.

    ``times`` are seconds relative to the first sample (so ``times[0] = 0``), strictly increasing; ``bps`` the
    throughput of each sample, bit/s. A one-sample trace is constant (its period is set to 1 s; the SPEC's
    formula needs two samples).
    """

    def __init__(self, trace_id: str, times, bps):
        self.id = trace_id
        self.times = np.asarray(times, dtype=np.float64)
        self.bps = np.asarray(bps, dtype=np.float64)
        k = len(self.times)
        self.period = 1.0 if k == 1 else float(self.times[-1] + (self.times[-1] - self.times[-2]))

    def at(self, tau: np.ndarray) -> np.ndarray:
        """Throughput ``tau`` seconds into the trace (any shape, ``tau >= 0``): the last sample at or before
        ``tau mod period``."""
        x = np.fmod(np.asarray(tau, dtype=np.float64), self.period)
        i = np.maximum(np.searchsorted(self.times, x, side="right") - 1, 0)
        return self.bps[i]


def parse_traces(text: str) -> list:
    """The traces of trace-file text, in order of first appearance (SPEC section 8.1).

    Rows are ``trace_id,time_s,throughput_bps``; fields are trimmed, lines starting with ``#`` and blank lines
    are skipped, and a first row whose time and throughput are not numbers is a header. Raises ``ValueError``
    naming the line for a wrong column count, a non-number, a non-finite time, a throughput outside
    ``[0, 1e15]`` or a time not after the trace's previous sample.
    """
    rows = {}          # trace id -> (absolute time of its first sample, relative times, throughputs)
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 3:
            raise ValueError(f"radio.trace_file: line {line_no}: expected 3 columns (trace_id,time_s,throughput_bps), got {len(fields)}")
        trace_id, t_text, r_text = fields
        try:
            t, r = float(t_text), float(r_text)
        except ValueError:
            if not rows and not _is_number(t_text) and not _is_number(r_text):
                continue   # the header row
            raise ValueError(f"radio.trace_file: line {line_no}: time_s and throughput_bps must be numbers, got {t_text!r}, {r_text!r}") from None
        if not math.isfinite(t):
            raise ValueError(f"radio.trace_file: line {line_no}: time_s must be finite, got {t}")
        if not (math.isfinite(r) and 0.0 <= r <= MAX_TRACE_BPS):
            raise ValueError(f"radio.trace_file: line {line_no}: throughput_bps must be finite and in [0, 1e15], got {r}")
        if trace_id not in rows:
            rows[trace_id] = (t, [0.0], [r])
            continue
        t0, times, bps = rows[trace_id]
        if t - t0 <= times[-1]:
            raise ValueError(f"radio.trace_file: line {line_no}: time_s {t} of trace {trace_id!r} must be after its previous sample")
        times.append(t - t0)
        bps.append(r)
    if not rows:
        raise ValueError("radio.trace_file: holds no samples (expected rows of trace_id,time_s,throughput_bps)")
    return [Trace(trace_id, times, bps) for trace_id, (_, times, bps) in rows.items()]


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_trace_file(path: str) -> list:
    """The traces of the trace file at ``path`` (see :func:`parse_traces`)."""
    with open(path, encoding="utf-8") as f:
        return parse_traces(f.read())


# ---------------------------------------------------------------------------------------------------------
# SPEC sections 4 and 5: the model
# ---------------------------------------------------------------------------------------------------------


class ReferenceModel:
    """Batched NumPy dynamics of MCIA-v0 and, with ``cloud.enabled``, MCIA-Cloud-v0, derived from one config.

    Attributes (all derived from the config when the model is built):

    * ``config``: the full config dict (defaults merged under what was given).
    * ``n``, ``m``, ``l``, ``obs_dim``: devices N, deployed versions M, units L, observation length 7N + 3
      (7N + 4 with the cloud tier).
    * ``cloud``: whether the cloud tier of SPEC section 8 is enabled.
    * ``version_names`` ``[M]``: the deployed versions, in action order.
    * ``accuracy`` ``[M]``: top-1 accuracy; ``accuracy_hat`` ``[M]``: ``clip((A - acc_lo)/(acc_hi - acc_lo), 0, 1)``.
    * ``cum_flops`` ``[M, L+1]``: ``cum_flops[v, p]`` = FLOPs of units 1..p of version v (0 at p = 0).
    * ``upload_bytes`` ``[M, L+1]``: bytes sent when cutting after unit p: input bytes at p = 0, the output
      of unit p times ``feature_bytes_per_element`` for 0 < p < L, and 0 at p = L.
    * ``device_peak_flops`` ``[N]``: ``class_gflops * 1e9 * device_efficiency``.
    * ``edge_peak_flops``: ``edge_gflops * 1e9 * edge_efficiency``.
    * ``device_levels`` ``[Kd]``, ``edge_levels`` ``[Ke]``: background load levels.
    * ``device_cum`` ``[Kd, Kd]``, ``edge_cum`` ``[Ke, Ke]``: cumulative transition rows (last entry 1).
    * ``n0``: noise spectral density, W/Hz, ``10**((noise_dbm_per_hz + noise_figure_db - 30) / 10)``.
    * ``pref_weight``, ``pref_deadline_s``, ``pref_min_accuracy`` ``[3]``: task preferences indexed by
      task code (index 0 is unused and holds the LS values).
    * ``cloud_flops``: ``F_C = cloud_gflops * 1e9 * cloud_efficiency`` (SPEC section 8).
    * ``wan_levels`` ``[Kw]``, ``wan_cum`` ``[Kw, Kw]``: the WAN load chain (SPEC section 8).
    * ``traces``: the list of :class:`Trace` of ``radio.trace_file`` (SPEC section 8.1), or ``None``.
    * ``obs_high`` ``[obs_dim]`` float32: the upper bounds of the observation (lower bounds are 0).
    """

    def __init__(self, config: dict | None = None):
        """Builds the model from a (possibly partial) nested config dict, merged over ``DEFAULT_CONFIG``.

        The model family is ``zoo.profile`` if given, else the JSON file ``zoo.profile_file``, else the
        built-in family named by ``zoo.family`` (only ``"mobilenet_v1"``).
        """
        cfg = _deep_merge(DEFAULT_CONFIG, config or {})
        self.config = cfg
        zoo = cfg["zoo"]

        family = self._resolve_family(zoo)
        by_name = {v["name"]: v for v in family["versions"]}
        versions = []
        for name in zoo["versions"]:
            if name not in by_name:
                raise ValueError(f"zoo.versions: unknown version {name!r}; the family has {sorted(by_name)}")
            versions.append(by_name[name])
        if not versions:
            raise ValueError("zoo.versions: must name at least one version")
        unit_counts = {len(v["units"]) for v in versions}
        if len(unit_counts) != 1:
            raise ValueError(f"zoo.versions: all versions must have the same number of units, got {sorted(unit_counts)}")

        self.version_names = list(zoo["versions"])
        self.n = len(cfg["devices"]["device_classes"])
        self.m = len(versions)
        self.l = unit_counts.pop()
        self.cloud = bool(cfg["cloud"]["enabled"])
        self.obs_dim = 7 * self.n + 3 + int(self.cloud)
        L = self.l

        # Model zoo: accuracy, cumulative FLOPs and upload bytes per cut point.
        rw = cfg["reward"]
        self.accuracy = np.array([v["accuracy"] for v in versions], dtype=np.float64)
        self.accuracy_hat = np.clip((self.accuracy - rw["acc_lo"]) / (rw["acc_hi"] - rw["acc_lo"]), 0.0, 1.0)
        fb = float(zoo["feature_bytes_per_element"])
        self.cum_flops = np.zeros((self.m, L + 1), dtype=np.float64)
        self.upload_bytes = np.zeros((self.m, L + 1), dtype=np.float64)
        for i, v in enumerate(versions):
            flops = np.array([u["flops"] for u in v["units"]], dtype=np.float64)
            out_elems = np.array([u["out_elems"] for u in v["units"]], dtype=np.float64)
            self.cum_flops[i, 1:] = np.cumsum(flops)
            self.upload_bytes[i, 0] = v["input_bytes"]
            own = v.get("feature_bytes_per_element")   # a quantised version's element size caps the scenario's
            fb_v = fb if own is None else min(fb, float(own))
            self.upload_bytes[i, 1:L] = out_elems[: L - 1] * fb_v  # output of unit p, p = 1..L-1
            self.upload_bytes[i, L] = 0.0                          # fully local: nothing is sent

        # Compute.
        dev = cfg["devices"]
        self.device_classes = list(dev["device_classes"])
        self.device_peak_flops = np.array(
            [dev["class_gflops"][c] * 1e9 * dev["device_efficiency"] for c in self.device_classes], dtype=np.float64
        )
        self.edge_peak_flops = float(cfg["edge"]["edge_gflops"] * 1e9 * cfg["edge"]["edge_efficiency"])

        # Load chains.
        ld = cfg["load"]
        self.device_levels = np.array(ld["device_levels"], dtype=np.float64)
        self.edge_levels = np.array(ld["edge_levels"], dtype=np.float64)
        self.device_cum = _cumulative_rows(ld["device_transition"])
        self.edge_cum = _cumulative_rows(ld["edge_transition"])

        # Radio.
        r = cfg["radio"]
        self.n0 = 10.0 ** ((r["noise_dbm_per_hz"] + r["noise_figure_db"] - 30.0) / 10.0)

        # Task preferences by task code (0 unused, 1 AS, 2 LS).
        t = cfg["tasks"]
        as_, ls = t["accuracy_sensitive"], t["latency_sensitive"]
        self.pref_weight = np.array([ls["weight"], as_["weight"], ls["weight"]], dtype=np.float64)
        self.pref_deadline_s = np.array([ls["deadline_s"], as_["deadline_s"], ls["deadline_s"]], dtype=np.float64)
        self.pref_min_accuracy = np.array([ls["min_accuracy"], as_["min_accuracy"], ls["min_accuracy"]], dtype=np.float64)

        # SPEC section 8: the elastic cloud and the WAN chain (kept even when disabled; unused then).
        c = cfg["cloud"]
        self.cloud_flops = float(c["cloud_gflops"] * 1e9 * c["cloud_efficiency"])
        self.wan_levels = np.array(c["wan_levels"], dtype=np.float64)
        self.wan_cum = _cumulative_rows(c["wan_transition"])

        # SPEC section 8.1: trace-driven uplinks.
        self.traces = None if r.get("trace_file") is None else read_trace_file(r["trace_file"])

        # Global entries: edge_load, edge_backlog, [wan_load,] time.
        self.obs_high = np.array([1, 1, 2, 2, 1, 1, 1] * self.n + [1, 1] + [1] * int(self.cloud) + [1], dtype=np.float32)

    @staticmethod
    def _resolve_family(zoo: dict) -> dict:
        """The family dict: ``zoo.profile``, else ``zoo.profile_file``, else the built-in ``zoo.family``."""
        if zoo.get("profile") is not None:
            return zoo["profile"]
        if zoo.get("profile_file") is not None:
            with open(zoo["profile_file"], encoding="utf-8") as f:
                return json.load(f)
        if zoo.get("family", "mobilenet_v1") == "mobilenet_v1":
            return mobilenet_v1_family()
        raise ValueError(f"zoo.family: unknown family {zoo['family']!r}; built-in families: ['mobilenet_v1']")

    # -- physics helpers, all elementwise over any batch shape ------------------------------------------

    def channel_gain(self, distance_m: np.ndarray, h_re: np.ndarray, h_im: np.ndarray) -> np.ndarray:
        """Channel power gain ``g = 10**(-PL(d)/10) * |h|^2`` with ``PL = PL_1km + slope * log10(d / 1000)``."""
        r = self.config["radio"]
        pl_db = r["path_loss_at_1km_db"] + r["path_loss_slope_db"] * np.log10(distance_m / 1000.0)
        return 10.0 ** (-pl_db / 10.0) * (h_re * h_re + h_im * h_im)

    def device_flops(self, load: np.ndarray) -> np.ndarray:
        """Effective device FLOP/s ``F_n = peak_n * (1 - device_levels[load])``; ``load`` is ``[B, N]``."""
        return self.device_peak_flops * (1.0 - self.device_levels[load])

    def edge_flops(self, edge_load: np.ndarray) -> np.ndarray:
        """Effective edge FLOP/s ``F_E = edge_peak * (1 - edge_levels[edge_load])``; ``edge_load`` is ``[B]``."""
        return self.edge_peak_flops * (1.0 - self.edge_levels[edge_load])

    def wan_bps(self, wan_load: np.ndarray) -> np.ndarray:
        """Available WAN capacity ``R_W = backhaul_bps * (1 - wan_levels[wan_load])`` (SPEC section 8); ``[B]``."""
        return self.config["cloud"]["backhaul_bps"] * (1.0 - self.wan_levels[wan_load])

    def trace_throughput(self, state: dict) -> np.ndarray:
        """Full-band uplink throughput of each device's trace in the state's slot (SPEC section 8.1), ``[B, N]``:
        ``trace_n(offset_n + t * slot_s)``."""
        slot_s = self.config["time"]["slot_s"]
        trace = np.asarray(state["trace"], dtype=np.int64)
        tau = np.asarray(state["trace_offset_s"], dtype=np.float64) + np.asarray(state["t"], dtype=np.float64)[:, None] * slot_s
        out = np.zeros_like(tau)
        for k, tr in enumerate(self.traces):   # a loop over the K traces, not over environments
            here = trace == k
            out[here] = tr.at(tau[here])
        return out

    # -- observation -------------------------------------------------------------------------------------

    def _spectral_eff(self, state: dict, gain: np.ndarray) -> np.ndarray:
        """Observation entry ``spectral_eff``: ``min(log2(1 + P g / (B N0)) / 20, 2)`` (SPEC section 5), or on a
        trace-driven uplink ``min(trace / B / 20, 2)`` (SPEC section 8.1)."""
        r = self.config["radio"]
        if self.traces is not None:
            return np.minimum(self.trace_throughput(state) / r["bandwidth_hz"] / 20.0, 2.0)
        snr_full_band = r["tx_power_w"] * gain / (r["bandwidth_hz"] * self.n0)
        return np.minimum(_log2_1p(snr_full_band) / 20.0, 2.0)

    def observe(self, state: dict) -> np.ndarray:
        """Observation of ``state`` (SPEC sections 5 and 8), ``[B, obs_dim]`` float32."""
        r = self.config["radio"]
        slot_s = self.config["time"]["slot_s"]
        task = np.asarray(state["task"])
        load = np.asarray(state["load"])
        distance = np.asarray(state["distance_m"], dtype=np.float64)
        backlog = np.asarray(state["backlog_s"], dtype=np.float64)
        b = task.shape[0]

        gain = self.channel_gain(distance, np.asarray(state["h_re"], dtype=np.float64), np.asarray(state["h_im"], dtype=np.float64))

        per_device = np.empty((b, self.n, 7), dtype=np.float64)
        per_device[:, :, 0] = task == 1
        per_device[:, :, 1] = task == 2
        per_device[:, :, 2] = self._spectral_eff(state, gain)
        per_device[:, :, 3] = np.minimum(np.log10(1.0 + self.device_flops(load) / 1e9) / 2.0, 2.0)
        per_device[:, :, 4] = self.device_levels[load]
        per_device[:, :, 5] = np.minimum(backlog / slot_s, 10.0) / 10.0
        per_device[:, :, 6] = distance / r["distance_max_m"]

        # Globals: edge_load, edge_backlog, wan_load (cloud tier only, SPEC section 8), time.
        globals_ = [
            self.edge_levels[np.asarray(state["edge_load"])],
            np.minimum(np.asarray(state["edge_backlog_s"], dtype=np.float64) / slot_s, 10.0) / 10.0,
        ]
        if self.cloud:
            globals_.append(self.wan_levels[np.asarray(state["wan_load"])])
        globals_.append(np.asarray(state["t"], dtype=np.float64) / self.config["time"]["episode_slots"])

        obs = np.empty((b, self.obs_dim), dtype=np.float64)
        obs[:, : 7 * self.n] = per_device.reshape(b, 7 * self.n)
        obs[:, 7 * self.n:] = np.stack(globals_, axis=1)
        return obs.astype(np.float32)

    # -- one step ----------------------------------------------------------------------------------------

    def _read_action(self, action: dict):
        """``(version, p1, p2', bandwidth, compute)`` of an action dict, checked.

        ``p2' = max(p1, cloud_partition)`` with the cloud tier (SPEC section 8) and ``L`` (no cloud) without it.
        Raises ``ValueError`` for out-of-range indices, negative / non-finite weights, a missing
        ``cloud_partition`` with the cloud tier or one given without it.
        """
        version = np.asarray(action["version"], dtype=np.int64)
        partition = np.asarray(action["partition"], dtype=np.int64)
        w_b = np.asarray(action["bandwidth"], dtype=np.float64)
        w_c = np.asarray(action["compute"], dtype=np.float64)
        if np.any((version < 0) | (version >= self.m)):
            raise ValueError(f"action 'version' must be in [0, {self.m - 1}]")
        if np.any((partition < 0) | (partition > self.l)):
            raise ValueError(f"action 'partition' must be in [0, {self.l}]")
        for name, w in (("bandwidth", w_b), ("compute", w_c)):
            if not np.all(np.isfinite(w) & (w >= 0.0)):
                raise ValueError(f"action {name!r} weights must be finite and >= 0")
        if not self.cloud:
            if "cloud_partition" in action:
                raise ValueError("action 'cloud_partition' needs the cloud tier (cloud.enabled, MCIA-Cloud-v0)")
            return version, partition, np.full_like(partition, self.l), w_b, w_c
        if "cloud_partition" not in action:
            raise ValueError("action 'cloud_partition' is required with the cloud tier (SPEC section 8)")
        p2 = np.asarray(action["cloud_partition"], dtype=np.int64)
        if np.any((p2 < 0) | (p2 > self.l)):
            raise ValueError(f"action 'cloud_partition' must be in [0, {self.l}]")
        return version, partition, np.maximum(partition, p2), w_b, w_c

    def _shares(self, weights: np.ndarray, members: np.ndarray) -> np.ndarray:
        """Shares of one resource among ``members`` (SPEC section 4): bids ``max(w, eps)`` (capped at
        ``MAX_WEIGHT``) divided by the members' sum of bids; 0 outside ``members``. ``[B, N]``."""
        eps = self.config["action"]["min_share_weight"]
        bid = np.where(members, np.clip(weights, eps, MAX_WEIGHT), 0.0)
        total = bid.sum(axis=1, keepdims=True)
        return np.where(members, bid / np.where(total > 0, total, 1.0), 0.0)

    def _uplink_rate(self, state: dict, b_share: np.ndarray, uploads: np.ndarray, gain: np.ndarray) -> np.ndarray:
        """Uplink rate ``R_n`` of the devices in S (0 elsewhere), bit/s, ``[B, N]``: the Shannon rate
        ``b B log2(1 + P g / (b B N0))`` (SPEC section 4) or, on a trace-driven uplink, ``b * trace_n(...)``
        (SPEC section 8.1)."""
        if self.traces is not None:
            return np.where(uploads, b_share * self.trace_throughput(state), 0.0)
        r = self.config["radio"]
        band = np.where(uploads, b_share, 1.0) * r["bandwidth_hz"]       # b_n * B (a dummy 1 * B outside S)
        return np.where(uploads, band * _log2_1p(r["tx_power_w"] * gain / (band * self.n0)), 0.0)

    def _cloud_terms(self, state: dict, version: np.ndarray, second: np.ndarray, in_sc: np.ndarray):
        """``(T_wan, T_cloud, R_W)`` of SPEC section 8: ``T_wan = 8 D_v(p2') / (R_W / |S_C|) + wan_rtt_s`` (an
        equal share of the WAN per task crossing it) and ``T_cloud = (cum_v(L) - cum_v(p2')) / F_C`` for n in
        S_C, 0 elsewhere; each capped at ``MAX_TIME_S``. Zeros (and ``R_W = 0``) without the cloud tier."""
        b = in_sc.shape[0]
        if not self.cloud:
            zeros = np.zeros(in_sc.shape)
            return zeros, zeros, np.zeros(b)
        c = self.config["cloud"]
        r_w = self.wan_bps(np.asarray(state["wan_load"], dtype=np.int64))     # [B]
        wan_users = np.maximum(in_sc.sum(axis=1), 1)                          # |S_C| (1 when empty: unused)
        wan_each = (r_w / wan_users)[:, None]                                 # R_W / |S_C|, bit/s per task
        wan_bytes = self.upload_bytes[version, second]                        # D_v(p2'); the image if p2' = 0
        cloud_work = self.cum_flops[version, self.l] - self.cum_flops[version, second]
        with np.errstate(divide="ignore", invalid="ignore"):
            send = np.where(wan_bytes > 0.0, 8.0 * wan_bytes / wan_each, 0.0)
            run = np.where(cloud_work > 0.0, cloud_work / self.cloud_flops, 0.0)
        t_wan = np.where(in_sc, np.minimum(send + c["wan_rtt_s"], MAX_TIME_S), 0.0)
        t_cloud = np.where(in_sc, np.minimum(run, MAX_TIME_S), 0.0)
        return t_wan, t_cloud, r_w

    def _utility(self, task: np.ndarray, version: np.ndarray, latency: np.ndarray) -> np.ndarray:
        """Utility ``u_n`` of SPEC section 4 with the task type's (w, tau, a_min), ``[B, N]``."""
        rw = self.config["reward"]
        w = self.pref_weight[task]
        tau = self.pref_deadline_s[task]
        a_min = self.pref_min_accuracy[task]
        return (
            w * self.accuracy_hat[version]
            - (1.0 - w) * np.minimum(latency / tau, rw["latency_cap"])
            - np.where(latency > tau, rw["deadline_penalty"], 0.0)
            - np.where(self.accuracy[version] < a_min, rw["accuracy_penalty"], 0.0)
        )

    def step(self, state: dict, action: dict, noise: dict):
        """One slot for a batch of environments (SPEC sections 4 and 8), with the given exogenous draws.

        ``state``: the state dict (``[B]`` / ``[B, N]``), not modified. ``action``: ``version``, ``partition``
        (and with the cloud tier ``cloud_partition``) ``[B, N]`` int64, ``bandwidth``, ``compute`` ``[B, N]``
        float64. ``noise``: the noise dict.

        Returns ``(next_state, reward [B] float64, info, obs [B, obs_dim] float32, truncated [B] bool)``.
        """
        cfg = self.config
        slot_s = cfg["time"]["slot_s"]
        L = self.l

        task = np.asarray(state["task"], dtype=np.int64)                  # [B, N]
        load = np.asarray(state["load"], dtype=np.int64)                  # [B, N]
        edge_load = np.asarray(state["edge_load"], dtype=np.int64)        # [B]
        distance = np.asarray(state["distance_m"], dtype=np.float64)      # [B, N]
        h_re = np.asarray(state["h_re"], dtype=np.float64)
        h_im = np.asarray(state["h_im"], dtype=np.float64)
        backlog = np.asarray(state["backlog_s"], dtype=np.float64)
        edge_backlog = np.asarray(state["edge_backlog_s"], dtype=np.float64)   # [B]
        version, p1, p2, w_b, w_c = self._read_action(action)            # p2 is the effective second cut p2'

        # State the step uses.
        f_dev = self.device_flops(load)                                   # [B, N]
        f_edge = self.edge_flops(edge_load)                               # [B]
        gain = self.channel_gain(distance, h_re, h_im)                    # [B, N]

        # The sets of SPEC section 8 (over devices with a task); without the cloud p2' = L, so S_E = S, S_C = {}.
        has_task = task != 0
        in_s = has_task & (p1 < L)          # S: uploads, shares the uplink
        in_se = has_task & (p1 < p2)        # S_E: the edge computes units p1+1..p2'
        in_sc = has_task & (p2 < L)         # S_C: crosses the WAN, the cloud computes units p2'+1..L

        # Shares: bandwidth over S, edge compute over S_E (SPEC sections 4 and 8).
        b_share = self._shares(w_b, in_s)
        c_share = self._shares(w_c, in_se)

        # Latency terms (SPEC section 4; T_edge over S_E as in section 8). Values outside a term's set are
        # masked; every time is capped at MAX_TIME_S (reached only in absurd scenarios, e.g. a rate of zero).
        local_flops = self.cum_flops[version, p1]                         # cum_v(p1)
        edge_work = self.cum_flops[version, p2] - local_flops             # W_n = cum_v(p2') - cum_v(p1)
        up_bytes = self.upload_bytes[version, p1]                         # D_v(p1)
        rate = self._uplink_rate(state, b_share, in_s, gain)
        edge_share_flops = np.where(in_se, c_share, 1.0) * f_edge[:, None]   # c_n F_E (a dummy F_E outside S_E)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_tx_upload = 8.0 * up_bytes / rate
        t_wait = backlog
        t_local = np.minimum(local_flops / f_dev, MAX_TIME_S)
        t_tx = np.where(in_s & (up_bytes > 0.0), np.minimum(t_tx_upload, MAX_TIME_S), 0.0)
        # The task first waits for the work the edge still holds (q_E), then runs on its share.
        t_edge_run = np.where(in_se & (edge_work > 0.0), edge_work / edge_share_flops, 0.0)
        t_edge = np.where(in_se, np.minimum(edge_backlog[:, None] + t_edge_run, MAX_TIME_S), 0.0)
        t_wan, t_cloud, r_w = self._cloud_terms(state, version, p2, in_sc)
        latency = t_wait + t_local + t_tx + t_edge + t_wan + t_cloud

        utility = self._utility(task, version, latency)
        tasks_seen = has_task.sum(axis=1)
        utility_sum = np.where(has_task, utility, 0.0).sum(axis=1)
        reward = np.where(tasks_seen > 0, utility_sum / np.maximum(tasks_seen, 1), 0.0)

        nan = np.nan
        tau = self.pref_deadline_s[task]
        acc = self.accuracy[version]
        info = {
            "task_type": task.copy(),
            "channel_gain": gain,
            "device_flops": f_dev,
            "backlog_s": backlog.copy(),
            "version": np.where(has_task, version, -1),
            "partition": np.where(has_task, p1, -1),
            "bandwidth_share": np.where(has_task, b_share, nan),
            "compute_share": np.where(has_task, c_share, nan),
            "t_wait": np.where(has_task, t_wait, nan),
            "t_local": np.where(has_task, t_local, nan),
            "t_tx": np.where(has_task, t_tx, nan),
            "t_edge": np.where(has_task, t_edge, nan),
            "latency": np.where(has_task, latency, nan),
            "accuracy": np.where(has_task, acc, nan),
            "utility": np.where(has_task, utility, nan),
            "deadline_met": np.where(has_task, (latency <= tau).astype(np.int64), -1),
            "accuracy_met": np.where(has_task, (acc >= self.pref_min_accuracy[task]).astype(np.int64), -1),
            "edge_flops": f_edge,
            "edge_backlog_s": edge_backlog.copy(),
        }
        if self.cloud:   # SPEC section 8: p2', the WAN and cloud terms, and R_W
            info["cloud_partition"] = np.where(has_task, p2, -1)
            info["t_wan"] = np.where(has_task, t_wan, nan)
            info["t_cloud"] = np.where(has_task, t_cloud, nan)
            info["wan_bps"] = r_w

        # Backlog: a device with a task is busy for its local compute and upload only.
        busy = np.where(has_task, t_local + t_tx, 0.0)
        next_backlog = np.minimum(np.maximum(backlog + busy - slot_s, 0.0), MAX_TIME_S)
        # The edge works at full speed (F_E of this slot) on what it held plus the work of S_E brought now.
        new_edge_work = np.where(in_se, edge_work, 0.0).sum(axis=1)
        next_edge_backlog = np.minimum(np.maximum(edge_backlog + new_edge_work / f_edge - slot_s, 0.0), MAX_TIME_S)

        next_state = self._transition(state, next_backlog, next_edge_backlog, noise)
        truncated = next_state["t"] >= cfg["time"]["episode_slots"]
        obs = self.observe(next_state)
        return next_state, reward, info, obs, truncated

    def _transition(self, state: dict, next_backlog: np.ndarray, next_edge_backlog: np.ndarray, noise: dict) -> dict:
        """The exogenous part of a step: fading, mobility, load chains (devices, edge, then WAN), new tasks,
        t += 1. Trace assignments carry over unchanged."""
        cfg = self.config
        r = cfg["radio"]
        t = cfg["tasks"]
        slot_s = cfg["time"]["slot_s"]

        # Gauss-Markov fading: h' = a h + sqrt(1 - a^2) e, e = (z_re + i z_im) / sqrt(2).
        a = r["fading_correlation"]
        s = math.sqrt(1.0 - a * a) * math.sqrt(0.5)
        h_re = a * np.asarray(state["h_re"], dtype=np.float64) + s * np.asarray(noise["z_re"], dtype=np.float64)
        h_im = a * np.asarray(state["h_im"], dtype=np.float64) + s * np.asarray(noise["z_im"], dtype=np.float64)

        # Random walk of the distance, reflected at the bounds, then clipped.
        lo, hi = r["distance_min_m"], r["distance_max_m"]
        d = np.asarray(state["distance_m"], dtype=np.float64) + (2.0 * np.asarray(noise["u_move"], dtype=np.float64) - 1.0) * r["mobility_mps"] * slot_s
        d = np.where(d < lo, 2.0 * lo - d, d)
        d = np.where(d > hi, 2.0 * hi - d, d)
        d = np.clip(d, lo, hi)

        load = _markov_step(self.device_cum, np.asarray(state["load"], dtype=np.int64), np.asarray(noise["u_load"], dtype=np.float64))
        edge_load = _markov_step(self.edge_cum, np.asarray(state["edge_load"], dtype=np.int64), np.asarray(noise["u_edge_load"], dtype=np.float64))
        task = _draw_task(np.asarray(noise["u_arrive"]), np.asarray(noise["u_type"]), t["arrival_prob"], t["as_ratio"])
        # SPEC section 8: the WAN chain steps after the edge chain (its draw is the step's last).
        wan_load = _state_or_zeros(state, "wan_load", edge_load.shape, np.int64)
        if self.cloud:
            wan_load = _markov_step(self.wan_cum, wan_load, np.asarray(noise["u_wan_load"], dtype=np.float64))

        return {
            "t": np.asarray(state["t"], dtype=np.int64) + 1,
            "edge_load": edge_load,
            "edge_backlog_s": next_edge_backlog,
            "wan_load": wan_load,
            "task": task,
            "load": load,
            "distance_m": d,
            "h_re": h_re,
            "h_im": h_im,
            "backlog_s": next_backlog,
            "trace": _state_or_zeros(state, "trace", task.shape, np.int64),
            "trace_offset_s": _state_or_zeros(state, "trace_offset_s", task.shape, np.float64),
        }

    # -- reset draws of the cloud tier and the traces (SPEC sections 8 and 8.1) ----------------------------

    @property
    def tier_reset_draws(self) -> int:
        """Uniforms per environment that reset draws after every MCIA-v0 draw: 1 for the WAN level (cloud
        tier), then ``u_trace, u_offset`` for each device in order (trace-driven uplinks)."""
        return int(self.cloud) + (2 * self.n if self.traces is not None else 0)

    def apply_tier_reset_draws(self, state: dict, u: np.ndarray) -> dict:
        """``state`` with the reset draws of SPEC sections 8 and 8.1 applied, from ``u`` ``[B, tier_reset_draws]``
        (uniforms in [0, 1), in the order the Rust core takes them).

        The WAN level is uniform, ``floor(u K_W)``; device n replays trace ``floor(u_trace K)`` of the K traces
        from offset ``u_offset * period`` (kept below the period, as in the Rust core, should the product round
        up to it).
        """
        u = np.asarray(u, dtype=np.float64)
        b = u.shape[0]
        out = dict(state)
        out["wan_load"] = _uniform_level(u[:, 0], len(self.wan_levels)) if self.cloud else np.zeros(b, dtype=np.int64)
        if self.traces is None:
            out["trace"] = np.zeros((b, self.n), dtype=np.int64)
            out["trace_offset_s"] = np.zeros((b, self.n), dtype=np.float64)
            return out
        first = int(self.cloud)
        u_trace, u_offset = u[:, first::2], u[:, first + 1::2]              # interleaved per device
        trace = _uniform_level(u_trace, len(self.traces))
        period = np.array([tr.period for tr in self.traces])[trace]
        out["trace"] = trace
        out["trace_offset_s"] = np.minimum(u_offset * period, period * (1.0 - np.finfo(np.float64).eps))
        return out

    # -- random draws (NumPy generator; for the speed baseline, not bit-compatible with the Rust RNG) -----

    def reset(self, rng: np.random.Generator, batch: int) -> dict:
        """Initial states of ``batch`` environments: distances ``U(dmin, dmax)``, ``h ~ CN(0, 1)``, uniform load
        and edge-load levels, slot-0 tasks, zero backlogs, ``t = 0``; then a uniform WAN level (cloud tier) and
        each device's trace and offset (trace-driven uplinks). Returns the state dict (``[B]`` / ``[B, N]``)."""
        r = self.config["radio"]
        t = self.config["tasks"]
        shape = (batch, self.n)
        lo, hi = r["distance_min_m"], r["distance_max_m"]
        state = {
            "t": np.zeros(batch, dtype=np.int64),
            "edge_load": rng.integers(0, len(self.edge_levels), size=batch, dtype=np.int64),
            "edge_backlog_s": np.zeros(batch, dtype=np.float64),
            "task": _draw_task(rng.random(shape), rng.random(shape), t["arrival_prob"], t["as_ratio"]),
            "load": rng.integers(0, len(self.device_levels), size=shape, dtype=np.int64),
            "distance_m": lo + rng.random(shape) * (hi - lo),
            "h_re": rng.standard_normal(shape) * math.sqrt(0.5),
            "h_im": rng.standard_normal(shape) * math.sqrt(0.5),
            "backlog_s": np.zeros(shape, dtype=np.float64),
        }
        return self.apply_tier_reset_draws(state, rng.random((batch, self.tier_reset_draws)))

    def sample_noise(self, rng: np.random.Generator, batch: int) -> dict:
        """The exogenous draws of one step for ``batch`` environments: the noise dict (``[B, N]``; ``u_edge_load``
        and, with the cloud tier, ``u_wan_load`` ``[B]``)."""
        shape = (batch, self.n)
        noise = {
            "z_re": rng.standard_normal(shape),
            "z_im": rng.standard_normal(shape),
            "u_move": rng.random(shape),
            "u_load": rng.random(shape),
            "u_arrive": rng.random(shape),
            "u_type": rng.random(shape),
            "u_edge_load": rng.random(batch),
        }
        if self.cloud:
            noise["u_wan_load"] = rng.random(batch)
        return noise


def _state_or_zeros(state: dict, key: str, shape: tuple, dtype) -> np.ndarray:
    """``state[key]`` as ``dtype``, or zeros of ``shape`` when the state has no such entry (a state written
    before the cloud tier and the traces: WAN level 0, trace 0 at offset 0)."""
    if key in state:
        return np.asarray(state[key], dtype=dtype)
    return np.zeros(shape, dtype=dtype)


# ---------------------------------------------------------------------------------------------------------
# Converters from the Rust side's snapshot and noise dicts
# ---------------------------------------------------------------------------------------------------------

_DEVICE_INT_FIELDS = ("task", "load")
_DEVICE_FLOAT_FIELDS = ("distance_m", "h_re", "h_im", "backlog_s")
_NOISE_FIELDS = ("z_re", "z_im", "u_move", "u_load", "u_arrive", "u_type")


def state_from_snapshots(snapshots: list) -> dict:
    """Batched state dict from ``B`` Rust snapshots.

    Each snapshot is ``{"t": int, "edge_load": int, "edge_backlog_s": float, "wan_load": int, "devices":
    [{"task", "load", "distance_m", "h_re", "h_im", "backlog_s", "trace", "trace_offset_s"}, ...N], "status":
    str, "rng": ...}``; ``status`` and ``rng`` are ignored, and a missing ``wan_load``, ``trace`` or
    ``trace_offset_s`` counts as 0 (as in the Rust core). Returns the state dict with ``[B]`` / ``[B, N]`` arrays.
    """
    state = {
        "t": np.array([s["t"] for s in snapshots], dtype=np.int64),
        "edge_load": np.array([s["edge_load"] for s in snapshots], dtype=np.int64),
        "edge_backlog_s": np.array([s["edge_backlog_s"] for s in snapshots], dtype=np.float64),
        "wan_load": np.array([s.get("wan_load", 0) for s in snapshots], dtype=np.int64),
    }
    for key in _DEVICE_INT_FIELDS:
        state[key] = np.array([[d[key] for d in s["devices"]] for s in snapshots], dtype=np.int64)
    for key in _DEVICE_FLOAT_FIELDS:
        state[key] = np.array([[d[key] for d in s["devices"]] for s in snapshots], dtype=np.float64)
    state["trace"] = np.array([[d.get("trace", 0) for d in s["devices"]] for s in snapshots], dtype=np.int64)
    state["trace_offset_s"] = np.array([[d.get("trace_offset_s", 0.0) for d in s["devices"]] for s in snapshots], dtype=np.float64)
    return state


def noise_from_list(noises: list) -> dict:
    """Batched noise dict from ``B`` Rust step-noise dicts.

    Each is ``{"devices": [{"z_re", "z_im", "u_move", "u_load", "u_arrive", "u_type"}, ...N],
    "u_edge_load": float}`` plus ``"u_wan_load": float`` with the cloud tier. Returns the noise dict with
    ``[B, N]`` arrays, ``u_edge_load`` ``[B]`` and, when every dict has one, ``u_wan_load`` ``[B]``.
    """
    noise = {key: np.array([[d[key] for d in z["devices"]] for z in noises], dtype=np.float64) for key in _NOISE_FIELDS}
    noise["u_edge_load"] = np.array([z["u_edge_load"] for z in noises], dtype=np.float64)
    if noises and all("u_wan_load" in z for z in noises):
        noise["u_wan_load"] = np.array([z["u_wan_load"] for z in noises], dtype=np.float64)
    return noise
