"""The AnyNetX design space: architectures, exact complexity, model builder, sampler. Pure, no I/O."""

from anynet.errors import ArchError

__all__ = ["ArchError"]
