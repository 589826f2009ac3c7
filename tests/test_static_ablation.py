"""The non-adaptive ``static`` baseline (its table search and on-disk cache), the adaptivity score, the
restricted (frozen) variants of greedy and the optimizer, and the decision ablation (SPEC section 7)."""

import json
import os

import numpy as np
import pytest

import mcia
from mcia import policies
from mcia.evaluation import evaluate
from mcia.policies import FREEZE_DIMENSIONS, RustPolicy, static_search

L = 16  # units of the MobileNet v1 versions


@pytest.fixture(scope="module")
def light():
    """v0-light (5 devices) with 10-slot episodes: a table search takes a fraction of a second."""
    return mcia.Config.preset("v0-light").replace({"time.episode_slots": 10})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory of this test's own and an empty in-process memo (restored afterwards)."""
    monkeypatch.setenv("MCIA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(policies, "_MEMO", {})
    return tmp_path / "cache"


@pytest.fixture
def count_searches(monkeypatch):
    """Wraps the Rust table search; the returned list holds one entry per search that ran."""
    calls = []
    real = mcia._core.static_search

    def counting(config_json, *args, **kwargs):
        calls.append(config_json)
        return real(config_json, *args, **kwargs)

    monkeypatch.setattr(mcia._core, "static_search", counting)
    return calls


def _check_table(found, cfg):
    n, m = cfg.num_devices, cfg.num_versions
    for key in ("table", "start"):
        assert set(found[key]) == {"accuracy_sensitive", "latency_sensitive"}
        for entries in found[key].values():
            assert len(entries) == n
            for v, p in entries:
                assert 0 <= v < m and 0 <= p <= L
    assert len(found["most_used_versions"]) == 2 and all(0 <= v < m for v in found["most_used_versions"])
    assert found["episodes"] == 20 and found["seed"] == 1_000_000
    assert found["passes"] >= 1 and found["evaluations"] > 0
    # Coordinate ascent from the optimizer's most frequent choices only keeps improvements.
    assert found["calibration_return"] >= found["start_return"]


def test_static_search_returns_a_table_of_n_entries_per_type(light, cache, count_searches):
    found = static_search(light)
    _check_table(found, light)
    assert len(count_searches) == 1
    dense = light.replace({"devices.device_classes": ["pi4", "n100", "pi5"]})
    _check_table(static_search(dense), dense)
    # Deterministic: a fresh search finds the same table.
    again = static_search(light, refresh=True)
    assert len(count_searches) == 3
    assert again == found
    # The result is a copy: changing it does not change what the next caller gets.
    found["table"]["accuracy_sensitive"][0] = [99, 99]
    assert static_search(light)["table"] == again["table"]
    assert len(count_searches) == 3


def test_static_table_is_cached_on_disk(light, cache, count_searches, monkeypatch):
    first = static_search(light)
    assert len(count_searches) == 1
    files = list(cache.glob("static-*.json"))
    assert len(files) == 1
    entry = json.loads(files[0].read_text())
    assert entry["search"] == first and entry["build"] and entry["key"] in files[0].name

    # A fresh process (empty memo) reads the file and does not search again.
    def no_search(*args, **kwargs):
        raise AssertionError("static_search ran although a cached table exists")

    monkeypatch.setattr(mcia._core, "static_search", no_search)
    policies._MEMO.clear()
    assert static_search(light) == first
    policies._MEMO.clear()
    table = RustPolicy("static", light).table  # the static policy takes the cached table too
    assert table == first["table"]
    with pytest.raises(AssertionError, match="cached table exists"):
        static_search(light, refresh=True)  # refresh always searches


def test_cache_entry_of_another_build_is_ignored(light, cache, count_searches):
    first = static_search(light)
    (path,) = cache.glob("static-*.json")
    entry = json.loads(path.read_text())
    # An entry another build wrote (different core, different search) must not be used.
    entry["build"] = "0.0.0+0000000000000000"
    entry["search"]["table"]["accuracy_sensitive"] = [[3, 7]] * light.num_devices
    path.write_text(json.dumps(entry))
    policies._MEMO.clear()
    assert static_search(light) == first
    assert len(count_searches) == 2
    assert json.loads(path.read_text())["build"] != "0.0.0+0000000000000000"  # rewritten by this build
    # A corrupt file only costs a search.
    path.write_text("{not json")
    policies._MEMO.clear()
    assert static_search(light) == first
    assert len(count_searches) == 3


def test_cache_false_writes_nothing_and_the_key_depends_on_the_scenario(light, cache, count_searches):
    static_search(light, cache=False)
    assert not cache.exists() or not list(cache.glob("static-*.json"))
    static_search(light)  # memoised in-process: no second search ...
    assert len(count_searches) == 1
    other = light.replace({"radio.bandwidth_hz": 5e6})
    found = static_search(other)  # ... but another scenario is searched for itself, and cached
    assert len(count_searches) == 2
    (path,) = cache.glob("static-*.json")
    assert json.loads(path.read_text())["search"] == found
    assert policies.cache_dir() == str(cache)


def test_static_policy_plays_its_table_with_equal_shares(light):
    table = static_search(light)["table"]
    venv = mcia.MciaVectorEnv(6, light)
    venv.reset(seed=0)
    policy = RustPolicy("static", light)
    by_type = {1: np.array(table["accuracy_sensitive"]), 2: np.array(table["latency_sensitive"])}
    for _ in range(10):
        action = {k: v.copy() for k, v in policy(venv).items()}
        *_, info = venv.step(action)
        tt = info["task_type"]
        for t, tab in by_type.items():
            env_i, dev = np.nonzero(tt == t)
            np.testing.assert_array_equal(info["version"][env_i, dev], tab[dev, 0])
            np.testing.assert_array_equal(info["partition"][env_i, dev], tab[dev, 1])
        offloads = (tt > 0) & (info["partition"] < L)
        for key in ("bandwidth_share", "compute_share"):
            expected = 1.0 / np.maximum(offloads.sum(axis=1, keepdims=True), 1)
            np.testing.assert_allclose(np.where(offloads, info[key], expected), np.broadcast_to(expected, offloads.shape), rtol=1e-12)
    # A given table is used as is.
    fixed = {"accuracy_sensitive": [[1, 16]] * 5, "latency_sensitive": [[3, 0]] * 5}
    venv.reset(seed=1)
    *_, info = venv.step(RustPolicy("static", light, table=fixed)(venv))
    assert (info["task_type"] == 1).any() and (info["task_type"] == 2).any()
    assert set(info["partition"][info["task_type"] == 1].tolist()) <= {16}
    assert set(info["version"][info["task_type"] == 2].tolist()) <= {3}


def test_adaptivity_score(light):
    comp = mcia.compare(["greedy", "neurosurgeon"], light, episodes=4, seed=0)
    assert [r.policy for r in comp.results] == ["greedy", "neurosurgeon", "random", "static", "optimizer"]
    by = {r.policy: r for r in comp.results}
    assert by["static"].adaptivity == 0.0 and by["optimizer"].adaptivity == 1.0
    assert comp.adaptivity(by["static"]) == 0.0 and comp.adaptivity(by["optimizer"]) == 1.0
    assert by["random"].score == 0.0 and by["optimizer"].score == 1.0
    lo, st, hi = by["random"].mean_return, by["static"].mean_return, by["optimizer"].mean_return
    g = by["greedy"]
    assert g.adaptivity == pytest.approx((g.mean_return - st) / (hi - st), rel=1e-12)
    assert g.score == pytest.approx((g.mean_return - lo) / (hi - lo), rel=1e-12)
    assert "adaptivity" in comp.table()
    row = next(r for r in comp.to_dict()["results"] if r["policy"] == "static")
    assert row["adaptivity"] == 0.0
    # evaluate(scores=True) measures the same anchors on the same seeds; scores=False leaves NaN.
    alone = evaluate("greedy", light, episodes=4, seed=0)
    assert alone.adaptivity == pytest.approx(g.adaptivity, rel=1e-12) and alone.score == pytest.approx(g.score, rel=1e-12)
    bare = evaluate("greedy", light, episodes=4, seed=0, scores=False)
    assert np.isnan(bare.score) and np.isnan(bare.adaptivity)
    assert evaluate("static", light, episodes=4, seed=0).adaptivity == 0.0


def test_frozen_variants_restrict_their_dimension(light):
    most_used = static_search(light)["most_used_versions"]
    venv = mcia.MciaVectorEnv(8, light)
    for name in ("greedy", "optimizer"):
        for dim in FREEZE_DIMENSIONS:
            policy = RustPolicy(name, light, freeze=[dim])
            assert policy.name == f"{name}[{dim} frozen]" and policy.freeze == (dim,)
            venv.reset(seed=2)
            for _ in range(5):
                action = {k: v.copy() for k, v in policy(venv).items()}
                *_, info = venv.step(action)
                tt = info["task_type"]
                offloads = (tt > 0) & (info["partition"] < L)
                if dim == "version":
                    assert set(info["version"][tt == 1].tolist()) <= {most_used[0]}
                    assert set(info["version"][tt == 2].tolist()) <= {most_used[1]}
                elif dim == "cut":
                    assert set(info["partition"][tt > 0].tolist()) <= {0, L}
                else:
                    key = f"{dim}_share"
                    expected = 1.0 / np.maximum(offloads.sum(axis=1, keepdims=True), 1)
                    np.testing.assert_allclose(np.where(offloads, info[key], expected), np.broadcast_to(expected, offloads.shape), rtol=1e-12)
    with pytest.raises(mcia.PolicyError, match="unknown decision dimension"):
        RustPolicy("optimizer", light, freeze=["latency"])
    with pytest.raises(mcia.PolicyError, match="unknown policy") as err:
        RustPolicy("oracle", light)
    assert isinstance(err.value, mcia.MciaError) and isinstance(err.value, ValueError)


def test_ablation_rows_losses_and_shares(light, tmp_path):
    res = mcia.ablate(light, episodes=4)
    assert [(r.policy, r.dimension) for r in res.rows] == [(p, d) for p in ("optimizer", "greedy") for d in FREEZE_DIMENSIONS]
    assert res.episodes == 4 and res.seed == 0
    anchors = {p: evaluate(p, light, episodes=4, seed=0, scores=False).mean_return for p in ("random", "optimizer", "greedy")}
    assert res.random_return == anchors["random"] and res.optimizer_return == anchors["optimizer"]
    span = res.optimizer_return - res.random_return
    assert span > 0
    for r in res.rows:
        assert r.base_return == res.base[r.policy].mean_return
        frozen = evaluate(RustPolicy(r.policy, light, freeze=[r.dimension]), light, episodes=4, seed=0, scores=False)
        assert r.frozen_return == frozen.mean_return
        diff = res.base[r.policy].episode_returns - frozen.episode_returns
        assert r.loss == pytest.approx(diff.mean(), rel=1e-12, abs=1e-12)
        assert r.loss == pytest.approx(r.base_return - r.frozen_return, rel=1e-9, abs=1e-12)
        assert r.share == pytest.approx(r.loss / span, rel=1e-12, abs=1e-15)
        assert r.share_ci95 == pytest.approx(r.loss_ci95 / span, rel=1e-12, abs=1e-15)
        assert r.loss_ci95 >= 0
    assert res.base["greedy"].mean_return == anchors["greedy"]
    # Greedy already gives every offloading device an equal share: freezing the shares changes nothing.
    greedy = {r.dimension: r for r in res.rows if r.policy == "greedy"}
    for dim in ("bandwidth", "compute"):
        assert greedy[dim].loss == 0.0 and greedy[dim].loss_ci95 == 0.0 and greedy[dim].share == 0.0
        assert greedy[dim].frozen_return == greedy[dim].base_return
        assert not greedy[dim].significant
    text = res.table()
    assert text.count("\n") == 1 + 2 * (1 + len(FREEZE_DIMENSIONS)) and "| greedy | compute |" in text
    paths = res.save(str(tmp_path / "ab"))
    data = json.loads((tmp_path / "ab" / "ablation.json").read_text())
    assert len(data["rows"]) == 8 and data["optimizer_return"] == res.optimizer_return
    assert (tmp_path / "ab" / "ablation.csv").read_text().count("\n") == 9
    assert len(paths) == 2
    # Restricting the ablation and its errors.
    only = mcia.ablate(light, episodes=3, policies=["greedy"], dimensions=["cut"])
    assert [(r.policy, r.dimension) for r in only.rows] == [("greedy", "cut")]
    with pytest.raises(ValueError, match="restricted variants"):
        mcia.ablate(light, episodes=3, policies=["random"])
    with pytest.raises(ValueError, match="unknown dimension"):
        mcia.ablate(light, episodes=3, dimensions=["latency"])
    with pytest.raises(ValueError, match="at least 2 episodes"):
        mcia.ablate(light, episodes=1)


def test_cli_ablate_and_static(light, tmp_path, capsys):
    from mcia.cli import main

    cfg = tmp_path / "light.toml"
    light.save(cfg)
    out = tmp_path / "ablation"
    assert main(["ablate", "--config", str(cfg), "--episodes", "3", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| optimizer | version |" in text and "| greedy | compute |" in text
    for name in ("ablation.json", "ablation.csv", "ablation.png"):
        assert (out / name).stat().st_size > 100, name
    assert len(json.loads((out / "ablation.json").read_text())["rows"]) == 8
    assert main(["ablate", "--config", str(cfg), "--episodes", "2", "--policy", "greedy", "--quiet", "--out", str(out / "g")]) == 0
    assert {r["policy"] for r in json.loads((out / "g" / "ablation.json").read_text())["rows"]} == {"greedy"}
    capsys.readouterr()
    assert main(["ablate", "--config", str(cfg), "--episodes", "1", "--quiet", "--out", str(out / "x")]) == 2
    assert "at least 2 episodes" in capsys.readouterr().err

    table_json = tmp_path / "static.json"
    assert main(["static", "--config", str(cfg), "--quiet", "--out", str(table_json)]) == 0
    text = capsys.readouterr().out
    assert "| device | class | AS version | AS cut | LS version | LS cut |" in text
    assert text.count("| pi4 |") == 2  # one row per device
    assert json.loads(table_json.read_text())["table"] == static_search(light)["table"]
    assert os.environ["MCIA_CACHE_DIR"]  # the searches above stayed in the test's cache directory
