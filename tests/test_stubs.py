"""The type stubs of the Rust extension match the compiled module (mypy.stubtest)."""

import shutil
import subprocess
import sys

import pytest


def test_stubtest_core_module():
    pytest.importorskip("mypy")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "mcia._core"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
