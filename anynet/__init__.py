"""The AnyNetX design space: architectures, exact complexity, model builder, sampler.

Pure functions over plain data: no files, no environment. Importing the package registers the
"anynetx" model with timm (see `anynet.timm_entry`).
"""

from anynet.adjust import adjust_compatibility, adjust_compatibility_arrays
from anynet.arch import Arch
from anynet.complexity import complexity, complexity_arrays
from anynet.errors import ArchError
from anynet.model import AnyNetX, build_model
from anynet.sampler import Sample, flops_bounds, sample_archs
from anynet.timm_entry import anynetx

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
