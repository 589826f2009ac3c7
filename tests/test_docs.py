"""The documentation site builds with ``mkdocs build --strict``: every page, include, notebook and API
reference resolves, and a broken link or reference fails the build (and this test)."""

import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_docs_build_strict(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed (exit {proc.returncode}):\n{proc.stdout}"
    for page in ("index.html", "SPEC/index.html", "api/env/index.html", "examples/notebooks/01_quickstart/index.html"):
        assert (tmp_path / "site" / page).is_file(), f"{page} missing from the built site:\n{proc.stdout}"
