"""Pure functions over study result tables: EDFs, correlations, drivers, structure, plots, report.

`analysis.load_study(path_or_name) -> analysis.Study` is the Python API (analysis/api.py); it is loaded on
first access (PEP 562), so `import analysis` stays light and never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Study", "UntrainedModelWarning", "load_study"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module("analysis.api"), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
