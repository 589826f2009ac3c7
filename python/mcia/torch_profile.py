"""Model families from PyTorch: per-unit FLOPs and output sizes measured on one forward pass.

:func:`profile_torch` turns any ``torch.nn.Module`` into a :class:`mcia.zoo.Version`: it cuts the model after
the given submodules (the *units*; by default the top-level children), runs one forward pass on a dummy input
of zeros under :class:`torch.utils.flop_counter.FlopCounterMode` with forward hooks on the units, and records
per unit the FLOPs that ran since the previous cut and the elements of the unit's output.

FLOPs follow the counting rules of SPEC section 2, the same rules the built-in ``mobilenet_v1`` family is
computed with (FLOPs = 2 x multiply-accumulates):

* convolution (any groups, stride, dilation; transposed too): ``2 * out_elems_per_channel * k * c_in/groups
  * c_out``, and matrix products (``nn.Linear``, ``matmul``, attention): ``2 * m * k * n``. These are
  FlopCounterMode's own formulas, which agree with the SPEC rules (bias terms are not counted);
* pooling (average or max, windowed or adaptive, and a global average written as ``x.mean(dims)``): 2 x
  the elements of its *input*, SPEC's ``avgpool MACs = h*w*c``. FlopCounterMode counts no pooling, so these
  formulas are added to it;
* nothing else: batch-norm, activations, bias, element-wise adds and products, reshapes count 0.

Work that runs between two cuts belongs to the later unit (it runs on the edge when the model is cut at the
earlier one); work after the last unit belongs to the last unit. torch is imported only when a function
here is called, so ``import mcia`` never imports it.

``mcia zoo build --family torchvision --out FILE`` builds :data:`TORCHVISION_VERSIONS`, a family of torchvision
ImageNet classifiers cut at the same seven points (:data:`TORCHVISION_UNITS`); no weights are downloaded.
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import os
import sys
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .zoo import Family, Unit, Version

__all__ = [
    "profile_torch",
    "family_from_torch",
    "torchvision_family",
    "build_family",
    "family_json",
    "FAMILY_BUILDERS",
    "TORCHVISION_UNITS",
    "TORCHVISION_VERSIONS",
    "add_zoo_parser",
    "main_zoo_build",
]

#: aten operators counted as pooling (2 x input elements). Composite operators that decompose into one of
#: these before reaching the dispatcher are listed too, so that no version of torch misses them.
_POOLING_OPS = (
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "adaptive_avg_pool3d", "_adaptive_avg_pool3d",
    "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices", "mkldnn_max_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    # adaptive_avg_pool2d(x, 1) reaches the dispatcher as a mean over the spatial dimensions.
    "mean",
)

UnitSpec = Union[str, Any]  # a submodule's qualified name or the module itself


def _import_torch():
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode  # noqa: F401  (2.1 or newer)
    except ImportError as e:
        raise ImportError("profiling PyTorch models needs torch>=2.1: pip install 'mcia-gym[zoo]'") from e
    return torch


def _pool_flops(x, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of one pooling operator: 2 x its input elements (SPEC section 2, avgpool rule). Recent torch
    passes the input's shape, older torch (before custom formulas were shape-wrapped) the tensor itself."""
    return 2 * math.prod(x.shape if hasattr(x, "shape") else x)


def _flop_counter(torch):
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    mapping = {getattr(aten, n): _pool_flops for n in _POOLING_OPS if hasattr(aten, n)}
    return FlopCounterMode(display=False, custom_mapping=mapping)


def _numel(out) -> int:
    """Elements of a module's output: every tensor in a (nested) tuple, list or dict; they are all uploaded."""
    if hasattr(out, "numel") and hasattr(out, "shape"):
        return int(out.numel())
    if isinstance(out, Mapping):
        return sum(_numel(v) for v in out.values())
    if isinstance(out, (tuple, list)):
        return sum(_numel(v) for v in out)
    return 0


def _check_shape(input_shape) -> Tuple[int, ...]:
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Iterable):
        raise TypeError(f"input_shape must be a sequence of positive ints (one sample, no batch dimension), got {input_shape!r}")
    shape = tuple(input_shape)
    if not shape or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and int(d) > 0 for d in shape):
        raise ValueError(f"input_shape must be a non-empty sequence of positive ints (one sample, no batch dimension), got {input_shape!r}")
    return tuple(int(d) for d in shape)


def _check_number(value, arg: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and lo <= float(value) <= hi):
        raise ValueError(f"{arg} must be a number in [{lo:g}, {hi:g}], got {value!r}")
    return float(value)


def _resolve_units(model, units) -> List[Tuple[str, Any, str]]:
    """(label, module, how the user named it) per explicitly given unit."""
    items: List[Tuple[Optional[str], Any]]
    if isinstance(units, Mapping):
        items = [(str(k), v) for k, v in units.items()]
    elif isinstance(units, (str, bytes)) or not isinstance(units, Iterable):
        raise TypeError(f"units must be a list of submodule names or modules (or a dict label -> name/module), got {type(units).__name__}")
    else:
        items = [(None, u) for u in units]
    if not items:
        raise ValueError("units must name at least one submodule")
    names_of: Dict[int, str] = {}
    for qual, mod in model.named_modules(remove_duplicate=False):
        names_of.setdefault(id(mod), qual)
    children = [n for n, _ in model.named_children()]
    out: List[Tuple[str, Any, str]] = []
    seen: Dict[int, int] = {}
    for i, (label, u) in enumerate(items):
        if isinstance(u, str):
            try:
                mod = model.get_submodule(u)
            except AttributeError:
                raise ValueError(f"units[{i}]: {u!r} is not a submodule of {type(model).__name__}; its top-level children are {children}") from None
            shown = u
        elif hasattr(u, "register_forward_hook") and hasattr(u, "named_modules"):
            if id(u) not in names_of:
                raise ValueError(f"units[{i}]: the {type(u).__name__} given is not a submodule of {type(model).__name__}")
            mod, shown = u, names_of[id(u)]
        else:
            raise TypeError(f"units[{i}] must be a submodule name (str) or a torch.nn.Module, got {type(u).__name__}")
        if id(mod) in seen:
            raise ValueError(f"units[{i}]: {shown!r} is the same module as units[{seen[id(mod)]}]; each cut point is listed once")
        seen[id(mod)] = i
        out.append((label if label is not None else (shown or type(model).__name__), mod, shown))
    return out


def _model_device_dtype(torch, model):
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device, torch.get_default_dtype()
    return torch.device("cpu"), torch.get_default_dtype()


def profile_torch(model, input_shape: Sequence[int], units: Optional[Union[Sequence[UnitSpec], Mapping[str, UnitSpec]]] = None, *,
                  accuracy: float, name: Optional[str] = None, feature_bytes_per_element: Optional[float] = None,
                  input_bytes: Optional[float] = None) -> Version:
    """Profiles a PyTorch model as one version of a family (per-unit FLOPs and output elements).

    Args:
        model: a ``torch.nn.Module``. It runs once, in eval mode (its train/eval flags are restored), without
            gradients, on zeros of shape ``(1, *input_shape)`` on the device and floating dtype of its
            parameters. A model built under ``torch.device("meta")`` is profiled without allocating memory.
        input_shape: one input sample without the batch dimension, e.g. ``(3, 224, 224)``.
        units: the cut points, in the order their forward passes finish: submodule names as in
            ``named_modules()`` (``"layer1"``, ``"features.3"``) or the modules themselves, or a dict
            ``{label: name or module}`` to name the units. Each must run exactly once. Default: the top-level
            children that run exactly once, in execution order (a model without children is one unit).
        accuracy: top-1 accuracy of this version in [0, 1] (measured elsewhere; nothing here invents one).
        name: version name (default: the model's class name).
        feature_bytes_per_element: bytes per element of this version's intermediate features (1.0 for an
            int8-quantised model); None leaves it to the scenario's ``zoo.feature_bytes_per_element``.
        input_bytes: bytes uploaded at cut 0; default ``prod(input_shape)`` (1 byte per element, uint8
            pixels, like the built-in profile's ``res*res*3``).

    Returns:
        A :class:`mcia.zoo.Version` whose units hold the FLOPs (SPEC section 2 rules, see the module
        docstring) and output elements per cut point.

    Raises:
        TypeError, ValueError: naming the argument at fault: a unit that is no submodule, is listed twice,
            does not run, runs more than once or is out of execution order, a bad shape or accuracy, or a
            model that fails on the dummy input.
    """
    torch = _import_torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    shape = _check_shape(input_shape)
    acc = _check_number(accuracy, "accuracy", 0.0, 1.0)
    fb = None if feature_bytes_per_element is None else _check_number(feature_bytes_per_element, "feature_bytes_per_element", 1e-6, 1e3)
    in_bytes = float(math.prod(shape)) if input_bytes is None else _check_number(input_bytes, "input_bytes", 0.0, 1e12)
    if name is None:
        name = type(model).__name__
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")

    measured = _measure(torch, model, shape, units)
    return Version(name, acc, in_bytes, [Unit(label, float(f), float(e)) for label, f, e, _ in measured], fb)


def _leading_shape(out) -> Tuple[int, ...]:
    """Shape of a module's output (of its first tensor when it returns several)."""
    if hasattr(out, "shape"):
        return tuple(out.shape)
    items = out.values() if isinstance(out, Mapping) else out if isinstance(out, (tuple, list)) else ()
    for v in items:
        sh = _leading_shape(v)
        if sh:
            return sh
    return ()


def _measure(torch, model, shape: Tuple[int, ...], units) -> List[Tuple[str, int, int, Tuple[int, ...]]]:
    """One counted forward pass: (label, FLOPs, output elements, output shape) per cut point."""
    explicit = units is not None
    if explicit:
        candidates = _resolve_units(model, units)
    else:
        candidates = [(n, m, n) for n, m in model.named_children()] or [(type(model).__name__, model, "")]

    counter = _flop_counter(torch)
    fired: List[Tuple[int, int, int, Tuple[int, ...]]] = []  # (candidate, FLOPs counted so far, output elements, shape)

    def hook_for(i: int) -> Callable:
        def hook(_mod, _inp, out):
            fired.append((i, counter.get_total_flops(), _numel(out), _leading_shape(out)))
        return hook

    device, dtype = _model_device_dtype(torch, model)
    x = torch.zeros((1, *shape), device=device, dtype=dtype)
    handles = [m.register_forward_hook(hook_for(i)) for i, (_, m, _) in enumerate(candidates)]
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad(), counter:
            try:
                model(x)
            except Exception as e:
                raise ValueError(f"the model failed on a dummy input of shape {tuple(x.shape)} (input_shape={shape!r} plus a batch "
                                 f"dimension of 1, dtype {dtype}, device {device}): {type(e).__name__}: {e}") from e
        total = counter.get_total_flops()
    finally:
        for h in handles:
            h.remove()
        for m, training in modes:
            m.training = training

    runs: Dict[int, List[int]] = {}
    for k, (i, _, _, _) in enumerate(fired):
        runs.setdefault(i, []).append(k)
    if explicit:
        for i, (_, _, shown) in enumerate(candidates):
            n = len(runs.get(i, []))
            if n == 0:
                raise ValueError(f"units[{i}]: {shown!r} did not run in the forward pass, so it is no cut point")
            if n > 1:
                raise ValueError(f"units[{i}]: {shown!r} ran {n} times in one forward pass; a cut point must run exactly once "
                                 "(name the block that encloses its calls)")
        order = sorted(range(len(candidates)), key=lambda i: runs[i][0])
        if order != list(range(len(candidates))):
            finished = [candidates[i][2] for i in order]
            first_bad = next(k for k, i in enumerate(order) if i != k)
            raise ValueError(f"units are not in execution order: units[{order[first_bad]}] {candidates[order[first_bad]][2]!r} finishes "
                             f"before units[{first_bad}] {candidates[first_bad][2]!r}; the given units finish in the order {finished}")
        chosen = list(range(len(candidates)))
    else:
        # Children that never run (unused heads) or run several times (a shared activation) are no cut points.
        chosen = sorted((i for i, ks in runs.items() if len(ks) == 1), key=lambda i: runs[i][0])
        if not chosen:
            raise ValueError(f"no top-level child of {type(model).__name__} runs exactly once; pass units= explicitly")

    out = []
    before = 0
    for k, i in enumerate(chosen):
        _, so_far, elems, out_shape = fired[runs[i][0]]
        upto = total if k == len(chosen) - 1 else so_far
        out.append((candidates[i][0], upto - before, elems, out_shape))
        before = upto
    return out


def family_from_torch(name: str, versions: Iterable[Version]) -> Family:
    """A family from profiled versions (e.g. :func:`profile_torch` results), checked the way profile files are:
    at least one version, unique non-empty names, the same number of units in every version."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    vs = list(versions)
    if not vs:
        raise ValueError("versions must hold at least one version")
    out: Dict[str, Version] = {}
    for i, v in enumerate(vs):
        if not isinstance(v, Version):
            raise TypeError(f"versions[{i}] must be a mcia.zoo.Version, got {type(v).__name__}")
        if v.name in out:
            raise ValueError(f"versions[{i}]: duplicate version name {v.name!r}")
        if len(v.units) != len(vs[0].units):
            raise ValueError(f"versions[{i}] ({v.name!r}) has {len(v.units)} units but {vs[0].name!r} has {len(vs[0].units)}; "
                             "all versions of a family must have the same number of cut points")
        out[v.name] = v
    return Family(name, out)


def family_json(fam: Family) -> str:
    """The family as profile-file JSON text: pretty-printed, deterministic, one trailing newline."""
    return json.dumps(fam.to_dict(), indent=1) + "\n"


# --- the torchvision family ---------------------------------------------------------------------------------

#: Cut points of the ``torchvision`` family. ``strideS`` is the last trunk module whose output is at output
#: stride S (spatial size = resolution / S); then the global average pool and the classifier. Every
#: architecture in the family has a stem at stride 2 and four downsampling stages, so the seven cuts compare
#: like for like, much as MobileNet v1's blocks do across its versions.
TORCHVISION_UNITS = ("stride2", "stride4", "stride8", "stride16", "stride32", "pool", "classifier")

#: (version name, torchvision builder, torchvision weights enum member). The weights are named, not
#: ``DEFAULT``, so the family stays the same when torchvision changes a default; they provide the accuracy
#: (``meta["_metrics"]["ImageNet-1K"]["acc@1"]``) and the input resolution (``crop_size`` of their
#: transforms) and are never downloaded. ``quantized_*`` builders are the int8 models of
#: ``torchvision.models.quantization``; their float architecture is profiled and their features are 1 byte
#: per element.
TORCHVISION_VERSIONS: Tuple[Tuple[str, str, str], ...] = (
    ("resnet18", "resnet18", "ResNet18_Weights.IMAGENET1K_V1"),
    ("resnet18_int8", "quantized_resnet18", "ResNet18_QuantizedWeights.IMAGENET1K_FBGEMM_V1"),
    ("resnet34", "resnet34", "ResNet34_Weights.IMAGENET1K_V1"),
    ("resnet50", "resnet50", "ResNet50_Weights.IMAGENET1K_V2"),
    ("resnet50_int8", "quantized_resnet50", "ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V2"),
    ("resnet101", "resnet101", "ResNet101_Weights.IMAGENET1K_V2"),
    ("resnet152", "resnet152", "ResNet152_Weights.IMAGENET1K_V2"),
    ("resnext50_32x4d", "resnext50_32x4d", "ResNeXt50_32X4D_Weights.IMAGENET1K_V2"),
    ("resnext101_32x8d", "resnext101_32x8d", "ResNeXt101_32X8D_Weights.IMAGENET1K_V2"),
    ("resnext101_32x8d_int8", "quantized_resnext101_32x8d", "ResNeXt101_32X8D_QuantizedWeights.IMAGENET1K_FBGEMM_V2"),
    ("resnext101_64x4d", "resnext101_64x4d", "ResNeXt101_64X4D_Weights.IMAGENET1K_V1"),
    ("resnext101_64x4d_int8", "quantized_resnext101_64x4d", "ResNeXt101_64X4D_QuantizedWeights.IMAGENET1K_FBGEMM_V1"),
    ("wide_resnet50_2", "wide_resnet50_2", "Wide_ResNet50_2_Weights.IMAGENET1K_V2"),
    ("wide_resnet101_2", "wide_resnet101_2", "Wide_ResNet101_2_Weights.IMAGENET1K_V2"),
    ("mobilenet_v2", "mobilenet_v2", "MobileNet_V2_Weights.IMAGENET1K_V2"),
    ("mobilenet_v2_int8", "quantized_mobilenet_v2", "MobileNet_V2_QuantizedWeights.IMAGENET1K_QNNPACK_V1"),
    ("mobilenet_v3_large", "mobilenet_v3_large", "MobileNet_V3_Large_Weights.IMAGENET1K_V2"),
    ("mobilenet_v3_large_int8", "quantized_mobilenet_v3_large", "MobileNet_V3_Large_QuantizedWeights.IMAGENET1K_QNNPACK_V1"),
    ("mobilenet_v3_small", "mobilenet_v3_small", "MobileNet_V3_Small_Weights.IMAGENET1K_V1"),
    ("shufflenet_v2_x0_5", "shufflenet_v2_x0_5", "ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1"),
    ("shufflenet_v2_x0_5_int8", "quantized_shufflenet_v2_x0_5", "ShuffleNet_V2_X0_5_QuantizedWeights.IMAGENET1K_FBGEMM_V1"),
    ("shufflenet_v2_x1_0", "shufflenet_v2_x1_0", "ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1"),
    ("shufflenet_v2_x1_0_int8", "quantized_shufflenet_v2_x1_0", "ShuffleNet_V2_X1_0_QuantizedWeights.IMAGENET1K_FBGEMM_V1"),
    ("shufflenet_v2_x1_5", "shufflenet_v2_x1_5", "ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1"),
    ("shufflenet_v2_x1_5_int8", "quantized_shufflenet_v2_x1_5", "ShuffleNet_V2_X1_5_QuantizedWeights.IMAGENET1K_FBGEMM_V1"),
    ("shufflenet_v2_x2_0", "shufflenet_v2_x2_0", "ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1"),
    ("shufflenet_v2_x2_0_int8", "quantized_shufflenet_v2_x2_0", "ShuffleNet_V2_X2_0_QuantizedWeights.IMAGENET1K_FBGEMM_V1"),
)


def _import_torchvision():
    _import_torch()
    try:
        import torchvision.models
        import torchvision.models.quantization  # noqa: F401
    except ImportError as e:
        raise ImportError("building the torchvision family needs torchvision: pip install 'mcia-gym[zoo]'") from e
    return torchvision


def _weights(tv, spec: str):
    """A torchvision weights enum member from ``"Enum.MEMBER"`` (metadata only; nothing is downloaded)."""
    enum_name, member = spec.split(".")
    enum = getattr(tv.models, enum_name, None) or getattr(tv.models.quantization, enum_name)
    return enum[member]


def _cut_layout(torch, tv, model):
    """(module to profile, trunk module names in execution order, pool name, classifier name) of an architecture.

    MobileNetV2 and ShuffleNetV2 pool functionally inside ``forward``; they are profiled as the equivalent
    ``nn.Sequential`` of their own modules with an ``AdaptiveAvgPool2d(1)``, so the pool is a cut point."""
    nn, m = torch.nn, tv.models
    if isinstance(model, m.ResNet):
        return model, ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"], "avgpool", "fc"
    if isinstance(model, m.MobileNetV3):
        return model, [f"features.{i}" for i in range(len(model.features))], "avgpool", "classifier"
    if isinstance(model, m.MobileNetV2):
        seq = nn.Sequential(OrderedDict(features=model.features, pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(1), classifier=model.classifier))
        return seq, [f"features.{i}" for i in range(len(model.features))], "pool", "classifier"
    if isinstance(model, m.ShuffleNetV2):
        trunk = ["conv1", "maxpool", "stage2", "stage3", "stage4", "conv5"]
        seq = nn.Sequential(OrderedDict([(n, getattr(model, n)) for n in trunk] + [("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten(1)), ("fc", model.fc)]))
        return seq, trunk, "pool", "fc"
    raise ValueError(f"no cut-point layout for {type(model).__name__}")


def _profile_torchvision(torch, vname: str, model, trunk: List[str], pool: str, head: str, res: int, accuracy: float,
                         feature_bytes_per_element: Optional[float]) -> Version:
    """One version of the family. The model runs once with every trunk module as a unit; the units are then
    merged into :data:`TORCHVISION_UNITS`, cutting after the last trunk module at each output stride. Since
    work between two cuts belongs to the later one, this equals profiling with the seven cuts directly."""
    fine = _measure(torch, model, (3, res, res), trunk + [pool, head])
    strides: List[Union[int, str]] = [res // out_shape[-1] for _, _, _, out_shape in fine[:len(trunk)]]
    strides += ["pool", "classifier"]
    units: List[Unit] = []
    flops = 0
    for k, (_, f, elems, _) in enumerate(fine):
        flops += f
        if k + 1 == len(fine) or strides[k + 1] != strides[k]:
            label = f"stride{strides[k]}" if isinstance(strides[k], int) else str(strides[k])
            units.append(Unit(label, float(flops), float(elems)))
            flops = 0
    if tuple(u.name for u in units) != TORCHVISION_UNITS:
        raise ValueError(f"{vname}: its trunk reaches the output strides {[u.name for u in units]}, not {list(TORCHVISION_UNITS)}; "
                         "the family's cut points do not fit it")
    return Version(vname, accuracy, float(3 * res * res), units, feature_bytes_per_element)


def torchvision_family(progress: bool = False) -> Family:
    """The ``torchvision`` family: every entry of :data:`TORCHVISION_VERSIONS`, cut at :data:`TORCHVISION_UNITS`.

    Architectures are built with ``weights=None`` on the meta device (no weights, no memory, no download);
    accuracy and input resolution come from the bundled weights metadata; int8 versions have
    ``feature_bytes_per_element = 1.0``, float versions leave it to the scenario."""
    torch = _import_torch()
    tv = _import_torchvision()
    from tqdm.auto import tqdm

    versions = []
    for vname, builder, wspec in tqdm(TORCHVISION_VERSIONS, desc="profiling torchvision", unit="model", disable=not progress):
        w = _weights(tv, wspec)
        acc = w.meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
        res = getattr(w.transforms, "keywords", {}).get("crop_size")
        if acc is None or res is None:
            raise ValueError(f"{wspec} has no ImageNet-1K acc@1 or crop_size in its metadata; {vname!r} cannot be profiled")
        quantized = builder.startswith("quantized_")
        kwargs: Dict[str, Any] = {"weights": None, "quantize": False} if quantized else {"weights": None}
        with torch.device("meta"):
            model = tv.models.get_model_builder(builder)(**kwargs)
        net, trunk, pool, head = _cut_layout(torch, tv, model)
        versions.append(_profile_torchvision(torch, vname, net, trunk, pool, head, res, round(acc / 100, 6), 1.0 if quantized else None))
    return family_from_torch("torchvision", versions)


#: Families ``mcia zoo build --family NAME`` can build.
FAMILY_BUILDERS: Dict[str, Callable[..., Family]] = {"torchvision": torchvision_family}


def build_family(name: str, progress: bool = False) -> Family:
    """Builds one of :data:`FAMILY_BUILDERS` by name."""
    if name not in FAMILY_BUILDERS:
        raise ValueError(f"unknown family {name!r}; buildable families: {sorted(FAMILY_BUILDERS)}")
    return FAMILY_BUILDERS[name](progress=progress)


def main_zoo_build(args: argparse.Namespace) -> int:
    """``mcia zoo build --family NAME --out FILE``: profiles the family and writes its JSON profile file."""
    try:
        fam = build_family(args.family, progress=not args.quiet)
    except ImportError as e:
        print(f"mcia zoo build: error: {e}", file=sys.stderr)
        return 2
    if os.path.dirname(args.out):
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(family_json(fam))
    if not args.quiet:
        print(f"{'version':<26} {'top-1':>6} {'GFLOPs':>8} {'feature B/elem':>14}")
        for v in fam:
            fb = "scenario" if v.feature_bytes_per_element is None else f"{v.feature_bytes_per_element:g}"
            print(f"{v.name:<26} {v.accuracy:>6.3f} {v.total_flops / 1e9:>8.3f} {fb:>14}")
        print(f"\nwrote {args.out}: family {fam.name!r}, {len(fam)} versions, {len(next(iter(fam)).units)} units each "
              f"(use with zoo.profile_file = {args.out!r})")
    return 0


def add_zoo_parser(sub) -> None:
    """Adds ``mcia zoo build`` to the CLI's subcommands."""
    zp = sub.add_parser("zoo", help="model families: build a profile file from PyTorch architectures")
    zsub = zp.add_subparsers(dest="zoo_command", required=True)
    b = zsub.add_parser("build", help="profile a family of PyTorch models (no weights downloaded) into a JSON profile file")
    b.add_argument("--family", required=True, choices=sorted(FAMILY_BUILDERS), help="family to build")
    b.add_argument("--out", required=True, help="profile file to write (JSON)")
    b.add_argument("--quiet", action="store_true", help="no progress bar or table")
    b.set_defaults(func=main_zoo_build)
