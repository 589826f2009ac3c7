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


def _figure_cells(nb):
    """Indices of the code cells that draw a figure: a top-level matplotlib call or ``display(Image(...))``,
    or a call of a function the notebook defined that draws one."""
    import re

    draws = re.compile(r"\bplt\.(?:subplots|figure|plot|bar|scatter|show|imshow)\(|display\(Image\(|\bax\w*\.(?:plot|bar|step)\(")
    drawing_fns = set()
    for c in nb.cells:
        if c.cell_type == "code":
            for name, body in re.findall(r"^def (\w+)\(.*?\n((?:[ \t]+.*\n?|\n)*)", c.source, re.M):
                if draws.search(body):
                    drawing_fns.add(name)
    calls = re.compile(r"^(?:[\w, ]+=\s*)?(" + "|".join(map(re.escape, drawing_fns)) + r")\(", re.M) if drawing_fns else None
    out = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        top = "\n".join(line for line in c.source.splitlines() if line and not line[0].isspace() and not line.startswith(("def ", "#")))
        if draws.search(top) or (calls is not None and calls.search(c.source)):
            out.append(i)
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_every_figure_cell_is_committed_with_its_figure(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = _figure_cells(nb)
    assert cells, "the notebook draws no figure: is the detection broken?"
    missing = [i for i in cells if not any("image/png" in o.get("data", {}) for o in nb.cells[i].get("outputs", []))]
    assert not missing, f"code cells {missing} draw a figure but were committed without it: execute and save the notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_outputs_are_clean(path):
    """No local paths and no stray warnings in committed outputs."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for i, c in enumerate(nb.cells):
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            text = o.get("text", "") + "".join(str(v) for k, v in o.get("data", {}).items() if k.startswith("text/"))
            for bad in ("/work/", "/home/", "/tmp/", "site-packages", "Warning:", "WARNING"):
                assert bad not in text, f"cell {i} output holds {bad!r}: {text[:200]!r}"
