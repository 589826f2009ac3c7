"""Every notebook runs top to bottom with the small CI budget (MCIA_QUICK=1); a failing cell fails."""

import glob
import importlib.util
import os

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

HERE = os.path.join(os.path.dirname(__file__), "..", "examples", "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(HERE, "[0-9]*.ipynb")))


def _executor():
    spec = importlib.util.spec_from_file_location("nb_execute", os.path.join(HERE, "execute.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_there_are_notebooks():
    names = [os.path.basename(p) for p in NOTEBOOKS]
    assert {"01_quickstart.ipynb", "03_experiments.ipynb", "04_custom_scenario.ipynb"} <= set(names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("MCIA_QUICK", "1")
    _executor().run(path, save=False, timeout=600)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_committed_with_outputs(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    with_output = sum(1 for c in code if c.get("outputs"))
    assert with_output >= len(code) // 2, f"only {with_output} of {len(code)} code cells have outputs: execute and save the notebook"
    images = sum(1 for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert images >= 1, "figures must be visible when the notebook is opened"
