"""`import anynet` needs numpy only: torch and timm load on first use of the model (issue 11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anynet

ROOT = Path(__file__).resolve().parents[2]
NUMPY_ONLY = ("Arch", "ArchError", "Sample", "adjust_compatibility", "adjust_compatibility_arrays",
              "complexity", "complexity_arrays", "flops_bounds", "sample_archs")  # fmt: skip
LAZY = ("AnyNetX", "build_model", "anynetx")


def _python(*args: str) -> subprocess.CompletedProcess:
    """A fresh interpreter in the repository root (so `anynet` is this checkout's), output captured."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _imported_modules(importtime_stderr: str) -> list[str]:
    """Module names from `python -X importtime` lines: 'import time: self | cumulative | name'."""
    names = []
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.append(line.rsplit("|", 1)[1].strip())
    return names


def test_numpy_only_names_import_no_torch_or_timm():
    touch = "; ".join(f"anynet.{name}" for name in NUMPY_ONLY)
    done = _python("-X", "importtime", "-c", f"import anynet; {touch}; anynet.sample_archs(3, seed=0)")
    assert done.returncode == 0, done.stderr[-2000:]
    modules = _imported_modules(done.stderr)
    assert "anynet.sampler" in modules and "numpy" in modules  # the listing was read
    heavy = [m for m in modules if m.split(".")[0] in ("torch", "timm", "torchvision")]
    assert not heavy, heavy[:20]


def test_first_use_of_the_model_registers_with_timm():
    script = """
import sys
import anynet
assert "torch" not in sys.modules
import timm
assert not timm.is_model("anynetx")  # nothing used yet
model = anynet.build_model(anynet.Arch((1, 1, 1, 1), (8, 16, 24, 32), (1, 1, 1, 1), (8, 8, 8, 8)), 3)
assert timm.is_model("anynetx") and isinstance(model, anynet.AnyNetX)
assert anynet.anynetx is sys.modules["anynet.timm_entry"].anynetx
"""
    done = _python("-c", script)
    assert done.returncode == 0, done.stderr[-2000:]


def test_import_after_timm_registers_at_once():
    done = _python("-c", "import timm, anynet; assert timm.is_model('anynetx')")
    assert done.returncode == 0, done.stderr[-2000:]


def test_all_and_dir_list_every_name():
    assert set(anynet.__all__) == set(NUMPY_ONLY) | set(LAZY)
    assert set(anynet.__all__) <= set(dir(anynet))
    for name in anynet.__all__:
        assert getattr(anynet, name) is not None
    namespace: dict = {}
    exec("from anynet import *", namespace)
    assert set(anynet.__all__) <= set(namespace)


def test_unknown_attribute_is_an_attribute_error():
    try:
        anynet.build_modle  # noqa: B018
    except AttributeError as error:
        assert "build_modle" in str(error)
    else:
        raise AssertionError("anynet.build_modle did not raise")
