"""Executes the notebooks in place (outputs saved), or only checks that they run.

    python examples/notebooks/execute.py              # refresh every notebook's outputs (full budget)
    MCIA_QUICK=1 python examples/notebooks/execute.py --check   # run all with the small budget, save nothing

The tests call :func:`run` with ``MCIA_QUICK=1``; any failing cell fails.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))


def run(path: str, save: bool, timeout: int = 900) -> float:
    """Runs one notebook top to bottom in its own folder; returns seconds taken."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    if save:
        nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: all in this folder)")
    p.add_argument("--check", action="store_true", help="run without saving outputs")
    args = p.parse_args(argv)
    paths = args.notebooks or sorted(glob.glob(os.path.join(HERE, "[0-9]*.ipynb")))
    for path in paths:
        print(f"{os.path.basename(path)} ...", end=" ", flush=True)
        print(f"{run(path, save=not args.check):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
