"""The AnyNetX design space: architectures, exact complexity, model builder, sampler.

Pure functions over plain data: no files, no environment. `Arch`, `adjust_*`, `complexity*`, the sampler
and `ArchError` need numpy only, so `import anynet` does not import torch (several seconds): planning and
sampling stay fast. `build_model`, `AnyNetX` and the timm entrypoint `anynetx` are loaded on first access
(PEP 562 `__getattr__`), which also registers "anynetx" with timm. When timm is already imported,
`import anynet` registers at once (cheap then); code that only calls `timm.create_model("anynetx", ...)`
without touching those names should `import anynet.timm_entry`.
"""

import importlib
import sys
from typing import Any

from anynet.adjust import adjust_compatibility, adjust_compatibility_arrays
from anynet.arch import Arch
from anynet.complexity import complexity, complexity_arrays
from anynet.errors import ArchError
from anynet.sampler import Sample, flops_bounds, sample_archs

# name → module, for the torch-backed names loaded on first access
_LAZY = {"AnyNetX": "anynet.model", "build_model": "anynet.model", "anynetx": "anynet.timm_entry"}

__all__ = [
    "AnyNetX",
    "Arch",
    "ArchError",
    "Sample",
    "adjust_compatibility",
    "adjust_compatibility_arrays",
    "anynetx",
    "build_model",
    "complexity",
    "complexity_arrays",
    "flops_bounds",
    "sample_archs",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'anynet' has no attribute {name!r}")
    importlib.import_module("anynet.timm_entry")  # imports the model and registers it with timm
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if "timm" in sys.modules:
    importlib.import_module("anynet.timm_entry")
