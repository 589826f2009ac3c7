"""mcia.zoo.profile_torch and the torchvision family: profiles measured on PyTorch models agree with the SPEC
section 2 counting rules (the built-in mobilenet_v1 family is reproduced exactly from a torch MobileNet v1),
errors name the argument at fault, and the shipped torchvision family is what `mcia zoo build` produces."""

import json
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import mcia
from mcia import _core, zoo

torch = pytest.importorskip("torch")
nn = torch.nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "src", "families", "torchvision.json")

# Howard et al. 2017, Table 1: output channels and stride of the 13 depthwise-separable blocks.
MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


class MobileNetV1(nn.Module):
    """MobileNet v1 with a width multiplier: conv0, block1..13, avgpool, fc as top-level children (the 16 units
    of the built-in profile). Biases, batch-norm and ReLUs are there on purpose: the counting rules ignore them."""

    def __init__(self, width: float = 1.0, classes: int = 1000):
        super().__init__()

        def ch(c: int) -> int:
            return int(c * width)

        def conv_bn(c_in: int, c_out: int, k: int, stride: int, groups: int = 1) -> list:
            return [nn.Conv2d(c_in, c_out, k, stride, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.conv0 = nn.Sequential(*conv_bn(3, ch(32), 3, 2))
        c_in = ch(32)
        for i, (c, s) in enumerate(MOBILENET_BLOCKS, 1):
            # 3x3 depthwise (stride s) then 1x1 pointwise; padding 1 gives SPEC's ceil(in / s) "same" size.
            setattr(self, f"block{i}", nn.Sequential(*conv_bn(c_in, c_in, 3, s, groups=c_in), *conv_bn(c_in, ch(c), 1, 1)))
            c_in = ch(c)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, classes)

    def forward(self, x):
        for name, child in self.named_children():
            x = child(torch.flatten(x, 1)) if name == "fc" else child(x)
        return x


def _width_res(name: str):
    w, r = name.split("_")
    return float(w), int(r)


def _same(got: zoo.Version, want: zoo.Version) -> None:
    assert got.name == want.name
    assert got.accuracy == want.accuracy
    assert got.input_bytes == want.input_bytes
    assert got.feature_bytes_per_element == want.feature_bytes_per_element
    assert len(got.units) == len(want.units) == 16
    assert [u.name for u in got.units] == [u.name for u in want.units]
    assert [u.flops for u in got.units] == [u.flops for u in want.units]
    assert [u.out_elems for u in got.units] == [u.out_elems for u in want.units]


@pytest.mark.parametrize("name", list(zoo.family("mobilenet_v1").versions))
def test_reproduces_builtin_mobilenet_v1(name):
    want = zoo.family("mobilenet_v1")[name]
    width, res = _width_res(name)
    with torch.device("meta"):  # shapes only: no memory, no arithmetic
        model = MobileNetV1(width)
    _same(zoo.profile_torch(model, (3, res, res), accuracy=want.accuracy, name=name), want)


@pytest.mark.parametrize("name", ["1.0_224", "0.25_128"])
def test_reproduces_builtin_on_cpu_with_explicit_units(name):
    """A real forward pass (CPU, random weights) counts the same; units named, as modules, or labelled."""
    want = zoo.family("mobilenet_v1")[name]
    width, res = _width_res(name)
    torch.manual_seed(0)
    model = MobileNetV1(width).train()
    names = [n for n, _ in model.named_children()]
    by_name = zoo.profile_torch(model, (3, res, res), names, accuracy=want.accuracy, name=name)
    _same(by_name, want)
    assert model.training and all(m.training for m in model.modules())  # modes restored
    by_module = zoo.profile_torch(model, [3, res, res], [getattr(model, n) for n in names], accuracy=want.accuracy, name=name)
    _same(by_module, want)
    labelled = zoo.profile_torch(model, (3, res, res), {f"u{i}": n for i, n in enumerate(names)}, accuracy=want.accuracy, name=name)
    assert [u.name for u in labelled.units] == [f"u{i}" for i in range(16)]
    assert [u.flops for u in labelled.units] == [u.flops for u in want.units]


def test_coarser_cuts_sum_the_work_between_them():
    want = zoo.family("mobilenet_v1")["0.5_160"]
    with torch.device("meta"):
        model = MobileNetV1(0.5)
    v = zoo.profile_torch(model, (3, 160, 160), ["block5", "block13", "fc"], accuracy=0.599, input_bytes=1234,
                          feature_bytes_per_element=1.0, name="coarse")
    f = want.flops
    assert [u.flops for u in v.units] == [f[:6].sum(), f[6:14].sum(), f[14:].sum()]
    assert [u.out_elems for u in v.units] == [want.units[5].out_elems, want.units[13].out_elems, 1000.0]
    assert (v.input_bytes, v.feature_bytes_per_element) == (1234.0, 1.0)
    # A scenario of 4 bytes per element is capped at the version's own 1 byte.
    assert v.upload_bytes(4.0).tolist() == [1234.0, want.units[5].out_elems, want.units[13].out_elems, 0.0]
    assert v.upload_bytes(0.25).tolist() == [1234.0, want.units[5].out_elems / 4, want.units[13].out_elems / 4, 0.0]


def test_functional_work_between_and_after_units():
    """Work outside the units belongs to the next unit (it runs after the previous cut); trailing work to the last."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            x = torch.nn.functional.max_pool2d(self.conv(x), 2)  # 8x8x8 -> 8x4x4
            x = self.fc(x.mean((2, 3)))
            return x @ torch.ones(4, 5)  # after the last unit

    v = zoo.profile_torch(Net(), (3, 8, 8), accuracy=0.5)
    assert v.name == "Net" and [u.name for u in v.units] == ["conv", "fc"]
    assert v.units[0].flops == 2 * 8 * 8 * 27 * 8
    assert v.units[1].flops == 2 * 512 + 2 * 128 + 2 * 8 * 4 + 2 * 4 * 5  # max pool, mean, fc, matmul
    assert [u.out_elems for u in v.units] == [512.0, 4.0]
    assert v.input_bytes == 3 * 8 * 8


def test_counting_rules_against_hand_counts():
    """Grouped and strided convolutions, windowed pooling (2 x input elements), no bias/BN/activation terms."""
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2, bias=True),  # 5x5 -> 3x3
        nn.BatchNorm2d(8), nn.Hardswish(),
        nn.AvgPool2d(3, stride=1, padding=1),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        nn.Linear(8, 3),
    )
    v = zoo.profile_torch(model, (4, 5, 5), accuracy=0.1)
    assert [u.flops for u in v.units] == [2 * 3 * 3 * 9 * 2 * 8, 0, 0, 2 * 72, 2 * 72, 0, 2 * 8 * 3]
    assert [u.out_elems for u in v.units] == [72, 72, 72, 72, 8, 8, 3]


def test_default_units_skip_shared_and_unused_children():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.act = nn.ReLU()  # shared: runs twice, so it is no cut point
            self.b = nn.Linear(4, 2)
            self.aux = nn.Linear(4, 9)  # never runs

        def forward(self, x):
            return self.b(self.act(self.a(self.act(x))))

    v = zoo.profile_torch(Net(), (4,), accuracy=0.3)
    assert [u.name for u in v.units] == ["a", "b"]
    assert [u.flops for u in v.units] == [32.0, 16.0]
    with pytest.raises(ValueError, match=r"units\[1\]: 'act' ran 2 times"):
        zoo.profile_torch(Net(), (4,), ["a", "act", "b"], accuracy=0.3)
    with pytest.raises(ValueError, match=r"units\[1\]: 'aux' did not run"):
        zoo.profile_torch(Net(), (4,), ["a", "aux"], accuracy=0.3)
    leaf = zoo.profile_torch(nn.Linear(3, 2), (3,), accuracy=0.3)
    assert [(u.name, u.flops, u.out_elems) for u in leaf.units] == [("Linear", 12.0, 2.0)]


def test_errors_name_the_argument():
    with torch.device("meta"):
        model = MobileNetV1(0.25)
    shape = (3, 128, 128)
    with pytest.raises(ValueError, match=r"units\[1\]: 'blok3' is not a submodule of MobileNetV1; its top-level children are \['conv0'"):
        zoo.profile_torch(model, shape, ["conv0", "blok3"], accuracy=0.4)
    with pytest.raises(ValueError, match=r"not in execution order: units\[1\] 'block1' finishes before units\[0\] 'block2'"):
        zoo.profile_torch(model, shape, ["block2", "block1"], accuracy=0.4)
    with pytest.raises(ValueError, match=r"units\[1\]: 'conv0' is the same module as units\[0\]"):
        zoo.profile_torch(model, shape, ["conv0", model.conv0], accuracy=0.4)
    with pytest.raises(ValueError, match=r"units\[0\]: the Linear given is not a submodule"):
        zoo.profile_torch(model, shape, [nn.Linear(2, 2)], accuracy=0.4)
    with pytest.raises(TypeError, match=r"units\[0\] must be a submodule name"):
        zoo.profile_torch(model, shape, [3], accuracy=0.4)
    with pytest.raises(TypeError, match="units must be a list"):
        zoo.profile_torch(model, shape, "conv0", accuracy=0.4)
    with pytest.raises(ValueError, match="units must name at least one"):
        zoo.profile_torch(model, shape, [], accuracy=0.4)
    with pytest.raises(ValueError, match=r"failed on a dummy input of shape \(1, 1, 128, 128\)"):
        zoo.profile_torch(model, (1, 128, 128), accuracy=0.4)
    with pytest.raises(ValueError, match="input_shape must be a non-empty sequence of positive ints"):
        zoo.profile_torch(model, (3, 0, 128), accuracy=0.4)
    with pytest.raises(TypeError, match="input_shape must be a sequence"):
        zoo.profile_torch(model, 128, accuracy=0.4)
    with pytest.raises(ValueError, match=r"accuracy must be a number in \[0, 1\], got 70.7"):
        zoo.profile_torch(model, shape, accuracy=70.7)
    with pytest.raises(ValueError, match="feature_bytes_per_element must be"):
        zoo.profile_torch(model, shape, accuracy=0.4, feature_bytes_per_element=0)
    with pytest.raises(ValueError, match="input_bytes must be"):
        zoo.profile_torch(model, shape, accuracy=0.4, input_bytes=-1)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        zoo.profile_torch(lambda x: x, shape, accuracy=0.4)
    with pytest.raises(TypeError):
        zoo.profile_torch(model, shape)  # accuracy is required: nothing here invents one


def test_family_from_torch_checks_the_profile_rules(tmp_path):
    with torch.device("meta"):
        a = zoo.profile_torch(MobileNetV1(0.5), (3, 128, 128), accuracy=0.562, name="0.5_128")
        b = zoo.profile_torch(MobileNetV1(0.25), (3, 128, 128), accuracy=0.413, name="0.25_128", feature_bytes_per_element=1.0)
        short = zoo.profile_torch(MobileNetV1(0.25), (3, 128, 128), ["block13", "fc"], accuracy=0.413, name="short")
    fam = zoo.family_from_torch("mine", [a, b])
    assert list(fam.versions) == ["0.5_128", "0.25_128"]
    with pytest.raises(ValueError, match=r"versions\[1\] \('short'\) has 2 units but '0.5_128' has 16"):
        zoo.family_from_torch("mine", [a, short])
    with pytest.raises(ValueError, match="duplicate version name"):
        zoo.family_from_torch("mine", [a, a])
    path = tmp_path / "mine.json"
    fam.save(str(path))
    assert zoo.load_profile(str(path)) == fam


def test_import_mcia_does_not_import_torch():
    code = ("import sys, mcia, mcia.zoo, mcia.cli; mcia.cli.build_parser(); f = mcia.zoo.profile_torch; "
            "assert f.__name__ == 'profile_torch'; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the torchvision family -----------------------------------------------------------------------------------

needs_torchvision = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("torchvision"), reason="torchvision is not installed (pip install 'mcia-gym[zoo]')")


def _builtin_families():
    try:
        _core.builtin_family("torchvision")
        return ["mobilenet_v1", "torchvision"]
    except mcia.ConfigError:
        return ["mobilenet_v1"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """`mcia zoo build --family torchvision` run once (meta device, ~10 s) into a temporary file."""
    out = tmp_path_factory.mktemp("zoo") / "torchvision.json"
    from mcia.cli import main

    assert main(["zoo", "build", "--family", "torchvision", "--out", str(out), "--quiet"]) == 0
    return out


@needs_torchvision
def test_zoo_build_reproduces_the_shipped_file(built):
    with open(SHIPPED, encoding="utf-8") as f:
        shipped = f.read()
    assert built.read_text(encoding="utf-8") == shipped, "src/families/torchvision.json is stale: rerun `mcia zoo build --family torchvision --out src/families/torchvision.json`"


@needs_torchvision
def test_torchvision_family_contents():
    import torchvision

    from mcia.torch_profile import TORCHVISION_UNITS, TORCHVISION_VERSIONS, _weights

    with open(SHIPPED, encoding="utf-8") as f:
        d = json.load(f)
    assert d["name"] == "torchvision"
    assert [v["name"] for v in d["versions"]] == [name for name, _, _ in TORCHVISION_VERSIONS]
    for v, (name, builder, wspec) in zip(d["versions"], TORCHVISION_VERSIONS):
        w = _weights(torchvision, wspec)
        assert v["accuracy"] == pytest.approx(w.meta["_metrics"]["ImageNet-1K"]["acc@1"] / 100, abs=1e-9)  # never invented
        assert [u["name"] for u in v["units"]] == list(TORCHVISION_UNITS)
        assert v["input_bytes"] == 3 * 224 * 224
        assert v.get("feature_bytes_per_element") == (1.0 if builder.startswith("quantized_") else None)
        # torchvision's own operation count (GMACs, meta["_ops"], 3 decimals, pooling counted its own way)
        # agrees within 1% or 1 MMAC.
        macs = sum(u["flops"] for u in v["units"]) / 2e9
        assert macs == pytest.approx(w.meta["_ops"], rel=0.01, abs=1e-3), name
        # The cut after stride S uploads (224 / S)^2 x channels elements.
        for u, s in zip(v["units"], (2, 4, 8, 16, 32)):
            assert u["out_elems"] % (224 // s) ** 2 == 0
        assert v["units"][-1]["out_elems"] == 1000
    # An int8 version has its float twin's profile.
    by = {v["name"]: v for v in d["versions"]}
    assert by["resnet50_int8"]["units"] == by["resnet50"]["units"]


@needs_torchvision
@pytest.mark.parametrize("arch", ["mobilenet_v2", "shufflenet_v2_x0_5"])
def test_functional_pool_layout_matches_the_model(arch):
    """MobileNetV2 and ShuffleNetV2 pool inside forward(); the Sequential they are profiled as computes the same."""
    import torchvision

    from mcia.torch_profile import _cut_layout

    torch.manual_seed(0)
    model = torchvision.models.get_model(arch, weights=None).eval()
    net = _cut_layout(torch, torchvision, model)[0]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), model(x), atol=1e-6)


@needs_torchvision
def test_shipped_file_loads_and_steps():
    fam = zoo.load_profile(SHIPPED)
    assert fam.name == "torchvision" and len(fam) == 27
    assert fam["resnet18_int8"].feature_bytes_per_element == 1.0 and fam["resnet18"].feature_bytes_per_element is None
    # The int8 version uploads at most 1 byte per element (the scenario's size when that is smaller);
    # the float one follows the scenario.
    assert fam["resnet18_int8"].upload_bytes(4.0)[1] == 802816.0
    assert fam["resnet18_int8"].upload_bytes(0.25)[1] == fam["resnet18"].upload_bytes(0.25)[1] == 802816.0 / 4
    assert fam["resnet18"].upload_bytes(4.0)[1] == 4 * 802816.0
    cfg = {"zoo": {"profile_file": SHIPPED, "versions": ["resnet50", "resnet18_int8", "mobilenet_v3_large", "shufflenet_v2_x0_5_int8"]}}
    env = gym.make("MCIA-v0", config=cfg)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(5):
        _, r, *_ = env.step(env.action_space.sample())
        assert np.isfinite(r)
    assert env.action_space["version"].nvec[0] == 4 and env.action_space["partition"].nvec[0] == 8
    env.close()


@needs_torchvision
@pytest.mark.skipif("torchvision" not in _builtin_families(), reason="zoo.family = 'torchvision' is not registered in the Rust core yet")
def test_builtin_torchvision_family_equals_the_shipped_file():
    assert zoo.family("torchvision") == zoo.load_profile(SHIPPED)
    env = gym.make("MCIA-v0", config={"zoo": {"family": "torchvision", "versions": ["resnet18", "mobilenet_v2_int8"]}})
    env.reset(seed=1)
    for _ in range(3):
        env.step(env.action_space.sample())
    env.close()
